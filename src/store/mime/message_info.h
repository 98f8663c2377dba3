// What IMAP FETCH will need of a message, parsed once at delivery with GMime:
// header block size, envelope header values (raw, as IMAP's ENVELOPE sends
// them, with addresses split into name/mailbox/host), and the MIME body
// structure (type, parameters, encoding, encoded size per part). Stored as
// CBOR beside the body. Stateless, thread-safe.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace mx::store {

/// Parses `message` (RFC 5322 bytes). Never fails: a message GMime cannot
/// make sense of still gets sizes and an empty envelope, because a store
/// must accept whatever an MTA hands it.
nlohmann::json ParseMessageInfo(std::string_view message);

}  // namespace mx::store
