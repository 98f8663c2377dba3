// IMAP commands as a client writes them (RFC 3501 §6, §9 grammar): arguments
// become atoms, quoted strings or literals by what they contain, and the
// command is cut into segments where a synchronizing literal must wait for the
// server's "+" (or not, with LITERAL+ / LITERAL-, RFC 7888).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mx::imap {

class Command {
 public:
  explicit Command(std::string_view name) : text_(name) {}

  /// Raw text after a space: atoms, sequence sets, parenthesised items the
  /// caller built ("(UID FLAGS)", "1:*"). Must not contain CR or LF.
  Command& Raw(std::string_view s);
  /// An astring: an atom when it is one, a quoted string when it can be, a
  /// literal otherwise (8-bit, CR/LF, long).
  Command& AString(std::string_view s);
  /// A string (never an atom): quoted or literal.
  Command& String(std::string_view s);
  /// Always a literal (message data for APPEND).
  Command& Literal(std::string_view data);
  /// A mailbox name given in UTF-8: INBOX as is, else modified UTF-7.
  Command& Mailbox(std::string_view utf8);

  struct Segment {
    std::string bytes;
    bool wait_for_continuation = false;  // send the next segment after "+"
  };
  /// The command with `tag`, ending in CRLF. With `literal_plus` every
  /// literal is non-synchronizing ({N+}); with `literal_minus` only those up
  /// to 4096 bytes are.
  std::vector<Segment> Serialize(std::string_view tag, bool literal_plus, bool literal_minus = false) const;
  /// For traces: the command with literals abbreviated.
  std::string Debug() const;

 private:
  struct Lit {
    size_t at;  // offset in text_ where the literal goes
    std::string data;
  };
  std::string text_;
  std::vector<Lit> literals_;
};

/// True when `s` can be sent as an atom (ATOM-CHAR only, not NIL).
bool IsAtom(std::string_view s);
/// "1:3,5,7:9" from sorted, distinct numbers.
std::string SequenceSet(const std::vector<uint32_t>& sorted);
/// Parses a sequence set of UIDs ("1:3,5", no "*") into numbers, at most
/// `limit` of them; false when malformed or too many.
bool ParseSequenceSet(std::string_view s, std::vector<uint32_t>* out, size_t limit = 10'000'000);
/// Parses a sequence set ("1:3,5,7:*") into ranges (low, high) without
/// expanding them; "*" stands for `star` (0: "*" is refused). False when
/// malformed.
bool ParseSequenceRanges(std::string_view s, uint32_t star, std::vector<std::pair<uint32_t, uint32_t>>* out);
/// Whether `v` lies in one of `ranges`.
bool InRanges(const std::vector<std::pair<uint32_t, uint32_t>>& ranges, uint32_t v);

}  // namespace mx::imap
