// Searching a mailbox snapshot without a server (`mxvault mail find`), with
// IMAP SEARCH's meaning (RFC 3501 §6.4.4): criteria are case-insensitive
// substrings of the decoded header fields or text (MIME encoded-words and
// charsets decoded by GMime); SINCE/BEFORE compare the internal date's day,
// ignoring time and zone. All given criteria must match.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "vault/mail/layout.h"

namespace mx::vault::mail {

struct MailQuery {
  std::string from, to, subject, text;
  std::optional<int64_t> since_day, before_day;  // days since 1970-01-01

  bool needs_body() const { return !text.empty(); }
};

/// "2024-05-01" or IMAP's "1-May-2024" → days since the epoch; USAGE error
/// otherwise.
Result<int64_t> ParseDay(const std::string& s);

/// What `mail find` shows of a message.
struct Found {
  std::string from, to, subject;
};

/// True when `message` (with its snapshot metadata) matches; fills `found`.
bool MatchMessage(std::string_view message, const MessageMeta& meta, const MailQuery& q, Found* found);

}  // namespace mx::vault::mail
