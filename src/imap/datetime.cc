#include "imap/datetime.h"

#include <cstdio>
#include <cstring>

#include "common/clock.h"

namespace mx::imap {
namespace {

constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

bool Digits(std::string_view s, size_t at, size_t n, int* out) {
  if (at + n > s.size()) return false;
  int v = 0;
  for (size_t i = at; i < at + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

}  // namespace

std::optional<DateTime> ParseDateTime(std::string_view s) {
  if (!s.empty() && s[0] == ' ') s.remove_prefix(1);
  int day = 0;
  size_t p = 0;
  if (s.size() > 1 && s[1] == '-') {
    if (!Digits(s, 0, 1, &day)) return std::nullopt;
    p = 2;
  } else {
    if (!Digits(s, 0, 2, &day) || s.size() < 3 || s[2] != '-') return std::nullopt;
    p = 3;
  }
  if (s.size() < p + 26 - 3) return std::nullopt;
  int month = -1;
  for (int i = 0; i < 12; ++i)
    if (strncasecmp(s.data() + p, kMonths[i], 3) == 0) month = i + 1;
  if (month < 0 || s[p + 3] != '-') return std::nullopt;
  p += 4;
  int year, hh, mm, ss, zh, zm;
  if (!Digits(s, p, 4, &year) || s.size() < p + 4 + 1 + 8 + 1 + 5) return std::nullopt;
  p += 4;
  if (s[p] != ' ' || !Digits(s, p + 1, 2, &hh) || s[p + 3] != ':' || !Digits(s, p + 4, 2, &mm) || s[p + 6] != ':' ||
      !Digits(s, p + 7, 2, &ss) || s[p + 9] != ' ')
    return std::nullopt;
  p += 10;
  char sign = s[p];
  if ((sign != '+' && sign != '-') || !Digits(s, p + 1, 2, &zh) || !Digits(s, p + 3, 2, &zm) || p + 5 != s.size())
    return std::nullopt;
  static const int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (day < 1 || day > kDays[month - 1] || hh > 23 || mm > 59 || ss > 60 || zm > 59) return std::nullopt;
  if (month == 2 && day == 29 && !((year % 4 == 0 && year % 100 != 0) || year % 400 == 0)) return std::nullopt;
  DateTime t;
  t.zone_minutes = (zh * 60 + zm) * (sign == '-' ? -1 : 1);
  t.epoch = DaysFromCivil(year, unsigned(month), unsigned(day)) * 86400 + hh * 3600 + mm * 60 + ss - t.zone_minutes * 60;
  return t;
}

std::string FormatDateTime(const DateTime& t) {
  int64_t local = t.epoch + int64_t(t.zone_minutes) * 60;
  int64_t days = local >= 0 ? local / 86400 : (local - 86399) / 86400;
  int64_t secs = local - days * 86400;
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, &y, &m, &d);
  int z = t.zone_minutes < 0 ? -t.zone_minutes : t.zone_minutes;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%02u-%s-%04lld %02lld:%02lld:%02lld %c%02d%02d", d, kMonths[m - 1], (long long)y,
                (long long)(secs / 3600), (long long)(secs / 60 % 60), (long long)(secs % 60),
                t.zone_minutes < 0 ? '-' : '+', z / 60, z % 60);
  return buf;
}

}  // namespace mx::imap
