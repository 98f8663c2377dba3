#include "common/clock.h"

#include <ctime>
#include <cstdio>

namespace mx {

Timestamp Now() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return {ts.tv_sec, int32_t(ts.tv_nsec)};
}

// Days from civil date (Howard Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = unsigned(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + int64_t(doe) - 719468;
}

// Civil date from days since the epoch (Howard Hinnant's algorithm).
void CivilFromDays(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = unsigned(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = int64_t(yoe) + era * 400 + (*m <= 2);
}

std::string FormatRfc3339Utc(Timestamp t) {
  int64_t days = t.sec >= 0 ? t.sec / 86400 : -((-t.sec + 86399) / 86400);
  int64_t secs = t.sec - days * 86400;
  int64_t y;
  unsigned mo, d;
  CivilFromDays(days, &y, &mo, &d);
  if (y < 0 || y > 9999) return FormatRfc3339(t);  // rare: let snprintf handle it
  char buf[40];
  auto put = [&](int pos, unsigned v, int width) {
    for (int i = width - 1; i >= 0; --i, v /= 10) buf[pos + i] = char('0' + v % 10);
  };
  put(0, unsigned(y), 4); buf[4] = '-'; put(5, mo, 2); buf[7] = '-'; put(8, d, 2);
  buf[10] = 'T'; put(11, unsigned(secs / 3600), 2); buf[13] = ':';
  put(14, unsigned(secs / 60 % 60), 2); buf[16] = ':'; put(17, unsigned(secs % 60), 2);
  int n = 19;
  if (t.nsec) {
    buf[n++] = '.';
    put(n, unsigned(t.nsec), 9);
    n += 9;
    while (buf[n - 1] == '0') --n;
  }
  buf[n++] = 'Z';
  return std::string(buf, size_t(n));
}

std::string FormatRfc3339InZone(Timestamp t, int32_t offset) {
  std::string s = FormatRfc3339Utc(Timestamp{t.sec + offset, t.nsec});
  if (offset == 0 || s.empty() || s.back() != 'Z') return s;
  s.pop_back();
  char z[16];
  int32_t a = offset < 0 ? -offset : offset;
  std::snprintf(z, sizeof(z), "%c%02d:%02d", offset < 0 ? '-' : '+', a / 3600, (a / 60) % 60);
  return s + z;
}

std::string FormatRfc3339(Timestamp t) {
  time_t s = t.sec;
  struct tm tm;
  localtime_r(&s, &tm);
  char buf[80];
  int n = std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d",
                        tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                        tm.tm_hour, tm.tm_min, tm.tm_sec);
  std::string out(buf, n);
  if (t.nsec) {
    char frac[16];
    std::snprintf(frac, sizeof(frac), ".%09d", t.nsec);
    std::string f = frac;
    while (f.back() == '0') f.pop_back();
    out += f;
  }
  long off = tm.tm_gmtoff;
  if (off == 0) {
    out += 'Z';
  } else {
    char z[16];
    long a = off < 0 ? -off : off;
    std::snprintf(z, sizeof(z), "%c%02ld:%02ld", off < 0 ? '-' : '+', a / 3600,
                  (a / 60) % 60);
    out += z;
  }
  return out;
}

std::optional<Timestamp> ParseRfc3339(std::string_view s, int32_t* offset_out) {
  auto digits = [&](size_t pos, size_t n, int* out) {
    if (pos + n > s.size()) return false;
    int v = 0;
    for (size_t i = 0; i < n; ++i) {
      char c = s[pos + i];
      if (c < '0' || c > '9') return false;
      v = v * 10 + (c - '0');
    }
    *out = v;
    return true;
  };
  int Y, M, D, h, m, sec;
  if (!digits(0, 4, &Y) || s.size() < 19 || s[4] != '-' || !digits(5, 2, &M) ||
      s[7] != '-' || !digits(8, 2, &D) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !digits(11, 2, &h) || s[13] != ':' || !digits(14, 2, &m) || s[16] != ':' ||
      !digits(17, 2, &sec))
    return std::nullopt;
  if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
    return std::nullopt;
  size_t p = 19;
  int64_t nsec = 0;
  if (p < s.size() && s[p] == '.') {
    ++p;
    int nd = 0;
    while (p < s.size() && s[p] >= '0' && s[p] <= '9') {
      if (nd < 9) { nsec = nsec * 10 + (s[p] - '0'); ++nd; }
      ++p;
    }
    if (nd == 0) return std::nullopt;
    for (; nd < 9; ++nd) nsec *= 10;
  }
  int64_t offset = 0;
  if (p < s.size() && (s[p] == 'Z' || s[p] == 'z')) {
    ++p;
  } else if (p < s.size() && (s[p] == '+' || s[p] == '-')) {
    int oh, om;
    if (!digits(p + 1, 2, &oh) || p + 3 >= s.size() || s[p + 3] != ':' ||
        !digits(p + 4, 2, &om))
      return std::nullopt;
    offset = (oh * 3600 + om * 60) * (s[p] == '-' ? -1 : 1);
    p += 6;
  } else {
    return std::nullopt;
  }
  if (p != s.size()) return std::nullopt;
  int64_t days = DaysFromCivil(Y, unsigned(M), unsigned(D));
  int64_t utc = days * 86400 + h * 3600 + m * 60 + sec - offset;
  // The offset can carry a year-0000 or year-9999 time outside what a 4-digit
  // RFC 3339 year can say in UTC (as Go's time.MarshalJSON refuses): such a
  // time could not be written back, so it is not accepted.
  static const int64_t kMin = DaysFromCivil(0, 1, 1) * 86400;
  static const int64_t kMax = DaysFromCivil(10000, 1, 1) * 86400 - 1;
  if (utc < kMin || utc > kMax) return std::nullopt;
  if (offset_out) *offset_out = int32_t(offset);
  return Timestamp{utc, int32_t(nsec)};
}

std::string FormatLocal(Timestamp t) {
  time_t s = t.sec;
  struct tm tm;
  localtime_r(&s, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

double NowSeconds() {
  Timestamp t = Now();
  return double(t.sec) + double(t.nsec) / 1e9;
}

// "30s", "5m", "2h" or plain seconds.
Result<int> ParseDuration(const std::string& s) {
  if (s.empty()) return 0;
  size_t digits = 0;
  while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') ++digits;
  std::string unit = s.substr(digits);
  int scale = unit.empty() || unit == "s" ? 1 : unit == "m" ? 60 : unit == "h" ? 3600 : 0;
  if (digits == 0 || digits > 6 || scale == 0)
    return Error(Code::kUsage, "invalid duration", s, "expected a whole number with s, m or h, e.g. 30s, 5m or 2h");
  return std::stoi(s.substr(0, digits)) * scale;
}

}  // namespace mx
