// FETCH data that describes a message (RFC 3501 §7.4.2): ENVELOPE from the
// header (parsed with GMime, store/mime/message_info.h) and BODY /
// BODYSTRUCTURE from the MIME tree with byte offsets (store/mime/mime_tree.h).
// Stateless, thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "store/mime/mime_tree.h"

namespace mx::imapd {

/// An IMAP string for `s`: quoted when it can be, else a literal.
std::string ImapString(std::string_view s);
/// ImapString, or NIL for "".
std::string NString(std::string_view s);

/// The ENVELOPE of a message whose header block is `header`.
std::string Envelope(std::string_view header);

/// BODYSTRUCTURE (`extensible`) or BODY of `part` of the message `msg`.
std::string BodyStructure(std::string_view msg, const store::MimePart& part, bool extensible);

}  // namespace mx::imapd
