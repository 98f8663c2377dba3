// Time stamps as the repository format writes them (Go's RFC 3339 with
// nanoseconds, "2006-01-02T15:04:05.999999999Z07:00"). Stateless, thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"

namespace mx {

struct Timestamp {
  int64_t sec = 0;   // seconds since the Unix epoch
  int32_t nsec = 0;  // 0..999999999
  bool operator==(const Timestamp&) const = default;
  auto operator<=>(const Timestamp&) const = default;
};

Timestamp Now();
/// Now() as seconds since the Unix epoch.
double NowSeconds();
/// Formats in the local zone with its offset (as restic does), trailing zeros
/// of the fraction dropped.
std::string FormatRfc3339(Timestamp t);
/// Formats in UTC ("...Z"), without the C library's zone machinery: the hot
/// path for the three time stamps of every tree node.
std::string FormatRfc3339Utc(Timestamp t);
/// Formats in the zone `offset` seconds east of UTC ("Z" for 0): a time
/// written back as it was recorded (restic prints snapshot times so).
std::string FormatRfc3339InZone(Timestamp t, int32_t offset);
/// Parses any RFC 3339 time with optional fraction and 'Z' or ±hh:mm offset;
/// `offset` (if given) receives the offset in seconds east of UTC.
std::optional<Timestamp> ParseRfc3339(std::string_view s, int32_t* offset = nullptr);
/// Days since 1970-01-01 of a proleptic Gregorian date, and back.
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d);
void CivilFromDays(int64_t days, int64_t* y, unsigned* m, unsigned* d);
/// "2024-05-01 10:00:00" in the local zone, for tables.
std::string FormatLocal(Timestamp t);
/// "30s", "5m", "2h" or plain seconds ("" = 0). Errors: USAGE.
Result<int> ParseDuration(const std::string& s);

}  // namespace mx
