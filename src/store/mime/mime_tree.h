// The MIME tree of a stored message with byte offsets (RFC 2045/2046), what
// IMAP's BODY[1.2.MIME], BODYSTRUCTURE sizes and line counts need. GMime
// (message_info.h) describes structure and envelope at delivery but gives no
// offsets into the original bytes, so this small boundary splitter is ours;
// it never fails: what it cannot make sense of is one text/plain leaf, as
// RFC 2045 says a reader should treat it. Bounded: at most kMaxDepth levels and
// kMaxParts parts; deeper or further content stays inside its parent's body.
//
// Stateless, thread-safe. fuzz/fuzz_mime.cc fuzzes it.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace mx::store {

struct MimePart {
  size_t header_begin = 0, header_end = 0;  // the header block, blank line included
  size_t body_begin = 0, body_end = 0;      // the body (before the CRLF that precedes a boundary)
  std::string type = "text", subtype = "plain";  // lower case
  std::vector<std::pair<std::string, std::string>> params;  // as given (names lower-cased)
  std::string id, description, encoding, md5, language, location;  // raw header values ("" = absent)
  std::string disposition;                  // lower case, "" = absent
  std::vector<std::pair<std::string, std::string>> disposition_params;
  std::vector<MimePart> children;           // multipart/*
  std::vector<MimePart> message;            // message/rfc822 (global too): the embedded message, 0 or 1
  size_t body_lines = 0;                    // lines in the body

  bool multipart() const { return type == "multipart"; }
  std::string param(const std::string& name) const;
};

constexpr int kMaxMimeDepth = 32;
constexpr size_t kMaxMimeParts = 2000;

/// The tree of a whole message (the root is the message itself: its header
/// is the message header).
MimePart ParseMimeTree(std::string_view message);

/// The part a section path names ("1.2" → {1, 2}) per RFC 3501 §6.4.5: in a
/// non-multipart message part 1 is the body; numbers below a message/rfc822
/// part address its embedded message's parts. Null when there is none.
const MimePart* FindMimePart(const MimePart& root, const std::vector<int>& path);

/// Where the header block of `message` ends: after its first empty line (CRLF
/// or LF), or at the end when there is none.
size_t HeaderBlockEnd(std::string_view message);

/// Header fields of a header block, unfolded, names as written.
std::vector<std::pair<std::string, std::string>> ParseHeaderFields(std::string_view header);

}  // namespace mx::store
