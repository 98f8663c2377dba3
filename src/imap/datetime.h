// IMAP date-time (RFC 3501 §9 date-time: "17-Jul-1996 02:44:25 -0700"), the
// form of INTERNALDATE and of APPEND's date argument.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mx::imap {

struct DateTime {
  int64_t epoch = 0;       // seconds since 1970-01-01 UTC
  int zone_minutes = 0;    // the zone it was written in (-0700 → -420)
};

/// Parses date-time; a leading space for one-digit days is accepted, as is a
/// one-digit day without it. nullopt when malformed or out of range.
std::optional<DateTime> ParseDateTime(std::string_view s);
/// Formats in the given zone: "17-Jul-1996 02:44:25 -0700".
std::string FormatDateTime(const DateTime& t);

}  // namespace mx::imap
