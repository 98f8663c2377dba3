// Modified UTF-7 (RFC 3501 §5.1.3): how IMAP writes mailbox names on the wire
// when UTF8=ACCEPT is not enabled. Printable ASCII except '&' stands for
// itself, "&-" is '&', and anything else is UTF-16 in base64 (',' for '/')
// between '&' and '-'. Used by the mailbox backup's client and the store's
// IMAP server alike.
#pragma once

#include <string>
#include <string_view>

#include "common/error.h"

namespace mx::imap {

/// UTF-8 → modified UTF-7. Invalid UTF-8 bytes are encoded as U+FFFD.
std::string EncodeMailboxName(std::string_view utf8);

/// Modified UTF-7 → UTF-8. PROTOCOL error naming the name and the offending
/// position for anything RFC 3501 does not allow: raw 8-bit or control
/// characters, an unterminated or empty shift ("&" without "-", "&AGE" at the
/// end), ASCII that should not have been encoded, a lone UTF-16 surrogate,
/// non-zero padding bits, or two encoded runs back to back.
Result<std::string> DecodeMailboxName(std::string_view mutf7);

}  // namespace mx::imap
