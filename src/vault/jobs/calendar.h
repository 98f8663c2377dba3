// Calendar expressions for job schedules, in the style of systemd's
// OnCalendar= (systemd.time(7)), a documented subset (docs/jobs.md):
//
//   [WEEKDAYS] [[YEAR-]MONTH-DAY] [HOUR:MINUTE[:SECOND]] [UTC]
//
// each component `*`, a value, a list `a,b`, a range `a..b` or a repetition
// `start/step` (also `*/step`, `a..b/step`); weekdays by name (`Mon..Fri`).
// A missing date is every day, a missing time 00:00:00. The shorthands
// minutely, hourly, daily, weekly, monthly, quarterly, semiannually, yearly
// and annually mean what they mean to systemd. Times are local unless the
// expression ends in UTC. Not supported: `~` (days from the month's end),
// fractional seconds and named time zones; they are refused with the reason.
// Stateless and thread-safe once parsed.
#pragma once

#include <bitset>
#include <cstdint>
#include <optional>
#include <string>

#include "common/error.h"

namespace mx::vault {

class CalendarSpec {
 public:
  /// Parses `text`. Errors: USAGE naming the component that is wrong.
  static Result<CalendarSpec> Parse(const std::string& text);

  /// The first time strictly after `after` (Unix seconds) that matches, or
  /// nullopt when none does within 100 years (e.g. "*-02-30").
  std::optional<int64_t> Next(int64_t after) const;

  /// The expression written out in full, e.g. "Mon..Fri *-*-* 02:00:00".
  std::string Normalized() const;
  const std::string& text() const { return text_; }
  bool utc() const { return utc_; }

 private:
  static constexpr int kFirstYear = 1970, kLastYear = 2199;
  bool MatchDay(int y, unsigned m, unsigned d, unsigned wday) const;

  std::string text_;
  bool utc_ = false;
  std::bitset<7> weekdays_;  // 0 = Sunday
  std::bitset<kLastYear - kFirstYear + 1> years_;
  std::bitset<13> months_;   // 1..12
  std::bitset<32> days_;     // 1..31
  std::bitset<24> hours_;
  std::bitset<60> minutes_;
  std::bitset<60> seconds_;
};

}  // namespace mx::vault
