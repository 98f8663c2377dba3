#include "vault/jobs/calendar.h"

#include <strings.h>

#include <ctime>
#include <sstream>
#include <vector>

#include "common/clock.h"

namespace mx::vault {
namespace {

const char* const kDayNames[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
const char* const kLongDayNames[] = {"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"};
const char* const kShortNames[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};

Error Bad(const std::string& text, const std::string& part, const std::string& why) {
  return Error(Code::kUsage, "invalid calendar expression", text, "'" + part + "': " + why,
               "write e.g. \"daily\", \"Mon..Fri 02:00\", \"Sun *-*-* 03:30:00\" or \"*:0/15\" (docs/jobs.md)");
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  out.push_back(cur);
  return out;
}

std::optional<int> ParseInt(const std::string& s) {
  if (s.empty() || s.size() > 4) return std::nullopt;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

// One component ("*", "5", "1,15", "1..5", "0/15", "*/2", "8..18/2") into
// the bits [lo, hi] of `bits` (index = value - base).
template <size_t N>
Status ParseField(const std::string& text, const std::string& field, const char* name, int lo, int hi, int base,
                  std::bitset<N>* bits) {
  bits->reset();
  for (const std::string& item : Split(field, ',')) {
    if (item.empty()) return Bad(text, field, std::string("empty item in the ") + name);
    std::string range = item;
    int step = 0;
    size_t slash = item.find('/');
    if (slash != std::string::npos) {
      auto st = ParseInt(item.substr(slash + 1));
      if (!st || *st == 0) return Bad(text, item, std::string("the ") + name + " repetition needs a step above 0");
      step = *st;
      range = item.substr(0, slash);
    }
    int a = lo, b = hi;
    if (range != "*") {
      size_t dots = range.find("..");
      if (range.find('.') != std::string::npos && dots == std::string::npos)
        return Bad(text, item, "fractional values are not supported");
      auto first = ParseInt(dots == std::string::npos ? range : range.substr(0, dots));
      if (!first) return Bad(text, item, std::string("expected a number for the ") + name);
      a = *first;
      if (dots != std::string::npos) {
        auto last = ParseInt(range.substr(dots + 2));
        if (!last) return Bad(text, item, std::string("expected a number after '..' for the ") + name);
        b = *last;
      } else if (!step) {
        b = a;
      }
      if (a < lo || a > hi || b < lo || b > hi)
        return Bad(text, item, std::string("the ") + name + " must be from " + std::to_string(lo) + " to " +
                                   std::to_string(hi));
      if (b < a) return Bad(text, item, "a range must go upwards");
    }
    for (int v = a; v <= b; v += step ? step : 1) bits->set(size_t(v - base));
  }
  return Ok();
}

int DayIndex(const std::string& s) {
  for (int i = 0; i < 7; ++i)
    if (strcasecmp(s.c_str(), kDayNames[i]) == 0 || strcasecmp(s.c_str(), kLongDayNames[i]) == 0) return i;
  return -1;
}

Status ParseWeekdays(const std::string& text, const std::string& field, std::bitset<7>* bits) {
  bits->reset();
  for (const std::string& item : Split(field, ',')) {
    size_t dots = item.find("..");
    int a = DayIndex(dots == std::string::npos ? item : item.substr(0, dots));
    int b = dots == std::string::npos ? a : DayIndex(item.substr(dots + 2));
    if (a < 0 || b < 0) return Bad(text, item, "expected a weekday (Mon, Tue, ... Sun), a list or a range Mon..Fri");
    // Monday-first order, as systemd reads Mon..Sun.
    int ma = (a + 6) % 7, mb = (b + 6) % 7;
    if (mb < ma) return Bad(text, item, "a weekday range must go from Monday towards Sunday");
    for (int v = ma; v <= mb; ++v) bits->set(size_t((v + 1) % 7));
  }
  return Ok();
}

// "1..5" style text of the set bits, values `base` + index.
template <size_t N>
std::string FieldText(const std::bitset<N>& bits, int base, size_t count, int width) {
  bool all = true;
  for (size_t i = 0; i < count; ++i) all = all && bits[i];
  if (all) return "*";
  std::string out;
  auto num = [&](size_t i) {
    std::string v = std::to_string(int(i) + base);
    while (int(v.size()) < width) v = "0" + v;
    return v;
  };
  for (size_t i = 0; i < count;) {
    if (!bits[i]) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j + 1 < count && bits[j + 1]) ++j;
    if (!out.empty()) out += ",";
    out += num(i);
    if (j > i) out += (j == i + 1 ? "," : "..") + num(j);
    i = j + 1;
  }
  return out;
}

}  // namespace

Result<CalendarSpec> CalendarSpec::Parse(const std::string& input) {
  CalendarSpec c;
  c.text_ = input;
  std::vector<std::string> tokens;
  {
    std::istringstream in(input);
    std::string t;
    while (in >> t) tokens.push_back(t);
  }
  if (tokens.empty()) return Bad(input, input, "the expression is empty");
  if (tokens.size() > 1 && strcasecmp(tokens.back().c_str(), "UTC") == 0) {
    c.utc_ = true;
    tokens.pop_back();
  }
  static const std::pair<const char*, const char*> kShorthands[] = {
      {"minutely", "*-*-* *:*:00"},         {"hourly", "*-*-* *:00:00"},
      {"daily", "*-*-* 00:00:00"},          {"weekly", "Mon *-*-* 00:00:00"},
      {"monthly", "*-*-01 00:00:00"},       {"quarterly", "*-01,04,07,10-01 00:00:00"},
      {"semiannually", "*-01,07-01 00:00:00"}, {"yearly", "*-01-01 00:00:00"},
      {"annually", "*-01-01 00:00:00"}};
  if (tokens.size() == 1) {
    for (const auto& [name, expansion] : kShorthands)
      if (strcasecmp(tokens[0].c_str(), name) == 0) {
        auto expanded = MX_TRY(Parse(std::string(expansion) + (c.utc_ ? " UTC" : "")));
        expanded.text_ = input;
        return expanded;
      }
  }
  c.weekdays_.set();
  c.years_.set();
  c.months_.set();
  c.months_.reset(0);
  c.days_.set();
  c.days_.reset(0);
  c.hours_.reset();
  c.hours_.set(0);
  c.minutes_.reset();
  c.minutes_.set(0);
  c.seconds_.reset();
  c.seconds_.set(0);
  size_t i = 0;
  if (isalpha(static_cast<unsigned char>(tokens[0][0]))) {
    if (tokens[0].find('/') != std::string::npos)
      return Bad(input, tokens[0], "named time zones are not supported; use local time or UTC");
    MX_CHECK(ParseWeekdays(input, tokens[0], &c.weekdays_));
    ++i;
  }
  bool have_date = false, have_time = false;
  for (; i < tokens.size(); ++i) {
    const std::string& t = tokens[i];
    if (t.find('~') != std::string::npos) return Bad(input, t, "'~' (days counted from the month's end) is not supported");
    if (t.find(':') != std::string::npos && !have_time) {
      auto parts = Split(t, ':');
      if (parts.size() < 2 || parts.size() > 3) return Bad(input, t, "a time is HOUR:MINUTE or HOUR:MINUTE:SECOND");
      MX_CHECK(ParseField(input, parts[0], "hour", 0, 23, 0, &c.hours_));
      MX_CHECK(ParseField(input, parts[1], "minute", 0, 59, 0, &c.minutes_));
      if (parts.size() == 3) MX_CHECK(ParseField(input, parts[2], "second", 0, 59, 0, &c.seconds_));
      have_time = true;
    } else if (t.find('-') != std::string::npos && !have_date && !have_time) {
      auto parts = Split(t, '-');
      if (parts.size() < 2 || parts.size() > 3) return Bad(input, t, "a date is YEAR-MONTH-DAY or MONTH-DAY");
      size_t k = 0;
      if (parts.size() == 3)
        MX_CHECK(ParseField(input, parts[k++], "year", kFirstYear, kLastYear, kFirstYear, &c.years_));
      MX_CHECK(ParseField(input, parts[k++], "month", 1, 12, 0, &c.months_));
      MX_CHECK(ParseField(input, parts[k], "day", 1, 31, 0, &c.days_));
      have_date = true;
    } else {
      return Bad(input, t, "expected weekdays, then a date (Y-M-D), then a time (H:M[:S]), then optionally UTC");
    }
  }
  return c;  // weekdays alone ("Mon") mean midnight of those days, as in systemd
}

bool CalendarSpec::MatchDay(int y, unsigned m, unsigned d, unsigned wday) const {
  if (y < kFirstYear || y > kLastYear || !years_[size_t(y - kFirstYear)]) return false;
  return months_[m] && days_[d] && weekdays_[wday];
}

std::optional<int64_t> CalendarSpec::Next(int64_t after) const {
  int64_t t0 = after + 1;
  time_t tt = time_t(t0);
  struct tm start {};
  if (utc_) gmtime_r(&tt, &start);
  else localtime_r(&tt, &start);
  int64_t day0 = DaysFromCivil(start.tm_year + 1900, unsigned(start.tm_mon + 1), unsigned(start.tm_mday));
  const int64_t kMaxDays = 366LL * 100;
  for (int64_t day = day0; day < day0 + kMaxDays; ++day) {
    int64_t y;
    unsigned m, d;
    CivilFromDays(day, &y, &m, &d);
    unsigned wday = unsigned(((day % 7) + 11) % 7);  // 1970-01-01 was a Thursday (4)
    if (!MatchDay(int(y), m, d, wday)) continue;
    bool first = day == day0;
    for (int h = 0; h < 24; ++h) {
      if (!hours_[size_t(h)] || (first && h < start.tm_hour)) continue;
      for (int mi = 0; mi < 60; ++mi) {
        if (!minutes_[size_t(mi)] || (first && h == start.tm_hour && mi < start.tm_min)) continue;
        for (int s = 0; s < 60; ++s) {
          if (!seconds_[size_t(s)]) continue;
          if (first && h == start.tm_hour && mi == start.tm_min && s < start.tm_sec) continue;
          if (utc_) {
            int64_t when = day * 86400 + h * 3600 + mi * 60 + s;
            if (when > after) return when;
            continue;
          }
          // A local wall time exists once, twice (when clocks go back: the
          // earlier one after `after` wins) or not at all (clocks go forward).
          std::optional<int64_t> best;
          for (int dst : {1, 0}) {
            struct tm c {};
            c.tm_year = int(y) - 1900;
            c.tm_mon = int(m) - 1;
            c.tm_mday = int(d);
            c.tm_hour = h;
            c.tm_min = mi;
            c.tm_sec = s;
            c.tm_isdst = dst;
            int64_t when = int64_t(mktime(&c));
            if (c.tm_hour != h || c.tm_min != mi || c.tm_isdst != dst) continue;
            if (when > after && (!best || when < *best)) best = when;
          }
          if (best) return best;
        }
      }
    }
  }
  return std::nullopt;
}

std::string CalendarSpec::Normalized() const {
  std::string out;
  if (!weekdays_.all()) {
    std::string days;
    for (int k = 1; k <= 7;) {  // Monday first
      int idx = k % 7;
      if (!weekdays_[size_t(idx)]) {
        ++k;
        continue;
      }
      int j = k;
      while (j + 1 <= 7 && weekdays_[size_t((j + 1) % 7)]) ++j;
      if (!days.empty()) days += ",";
      days += kShortNames[idx];
      if (j > k) days += std::string(j == k + 1 ? "," : "..") + kShortNames[j % 7];
      k = j + 1;
    }
    out = days + " ";
  }
  out += FieldText(years_, kFirstYear, years_.size(), 4) + "-";
  std::bitset<12> months;
  for (size_t i = 1; i <= 12; ++i) months[i - 1] = months_[i];
  std::bitset<31> days;
  for (size_t i = 1; i <= 31; ++i) days[i - 1] = days_[i];
  out += FieldText(months, 1, 12, 2) + "-" + FieldText(days, 1, 31, 2) + " ";
  out += FieldText(hours_, 0, 24, 2) + ":" + FieldText(minutes_, 0, 60, 2) + ":" + FieldText(seconds_, 0, 60, 2);
  if (utc_) out += " UTC";
  return out;
}

}  // namespace mx::vault
