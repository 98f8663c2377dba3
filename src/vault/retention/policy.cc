#include "vault/retention/policy.h"

#include <algorithm>

namespace mx::vault {

std::string RetentionDuration::ToString() const {
  std::string s;
  if (years) s += std::to_string(years) + "y";
  if (months) s += std::to_string(months) + "m";
  if (days) s += std::to_string(days) + "d";
  if (hours) s += std::to_string(hours) + "h";
  return s;
}

Result<RetentionDuration> ParseRetentionDuration(const std::string& s, const std::string& flag) {
  auto bad = [&](const std::string& why) {
    return Error(Code::kUsage, "invalid duration for " + flag, s, why,
                 "write numbers with units y (years), m (months), d (days), h (hours), e.g. 1y6m or 7d12h");
  };
  RetentionDuration d;
  size_t i = 0;
  if (s.empty()) return bad("it is empty");
  while (i < s.size()) {
    size_t j = i;
    int64_t v = 0;
    while (j < s.size() && s[j] >= '0' && s[j] <= '9') {
      v = v * 10 + (s[j] - '0');
      if (v > 1000000) return bad("the number is too large");
      ++j;
    }
    if (j == i) return bad("expected a number at \"" + s.substr(i) + "\"");
    if (j == s.size()) return bad("the number " + s.substr(i) + " has no unit");
    switch (s[j]) {
      case 'y': d.years += int(v); break;
      case 'm': d.months += int(v); break;
      case 'd': d.days += int(v); break;
      case 'h': d.hours += int(v); break;
      default: return bad(std::string("unknown unit '") + s[j] + "'");
    }
    i = j + 1;
  }
  return d;
}

TagList ParseTagList(const std::string& s) {
  TagList out;
  size_t start = 0;
  for (;;) {
    size_t comma = s.find(',', start);
    std::string t = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    size_t b = t.find_first_not_of(" \t"), e = t.find_last_not_of(" \t");
    out.push_back(b == std::string::npos ? "" : t.substr(b, e - b + 1));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

bool HasTags(const repo::Snapshot& s, const TagList& l) {
  for (const auto& tag : l) {
    if (tag.empty() && s.tags.empty()) return true;
    if (std::find(s.tags.begin(), s.tags.end(), tag) == s.tags.end()) return false;
  }
  return true;
}

bool ExpirePolicy::Empty() const {
  return keep_tags.empty() && last == 0 && hourly == 0 && daily == 0 && weekly == 0 && monthly == 0 &&
         yearly == 0 && within.Zero() && within_hourly.Zero() && within_daily.Zero() && within_weekly.Zero() &&
         within_monthly.Zero() && within_yearly.Zero();
}

std::string ExpirePolicy::Describe() const {
  std::vector<std::string> counts, withins;
  const std::pair<int, const char*> c[] = {{last, "latest"}, {hourly, "hourly"},   {daily, "daily"},
                                           {weekly, "weekly"}, {monthly, "monthly"}, {yearly, "yearly"}};
  for (auto [n, what] : c) {
    if (n > 0) counts.push_back(std::to_string(n) + " " + what);
    else if (n == -1) counts.push_back(std::string("all ") + what);
  }
  const std::pair<const RetentionDuration*, const char*> w[] = {
      {&within_hourly, "hourly"}, {&within_daily, "daily"}, {&within_weekly, "weekly"},
      {&within_monthly, "monthly"}, {&within_yearly, "yearly"}};
  for (auto [d, what] : w)
    if (!d->Zero()) withins.push_back(std::string(what) + " snapshots within " + d->ToString());
  auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
    return s;
  };
  std::string s;
  if (!counts.empty()) s = join(counts) + " snapshots";
  if (!withins.empty()) s += (s.empty() ? "" : ", ") + join(withins);
  if (!keep_tags.empty()) {
    std::string tags;
    for (const auto& l : keep_tags) {
      std::string one;
      for (const auto& t : l) one += (one.empty() ? "" : ",") + t;
      tags += (tags.empty() ? "" : " ") + std::string("[") + one + "]";
    }
    s += (s.empty() ? "" : " and ") + std::string("all snapshots with tags ") + tags;
  }
  if (!within.Zero()) s += (s.empty() ? "" : " and ") + std::string("all snapshots within ") + within.ToString() + " of the newest";
  return "keep " + s;
}

namespace {

// The civil time of a snapshot in the zone it was recorded in.
struct Civil {
  int64_t year;
  unsigned month, day, hour, minute, second;
  int64_t days;  // since the epoch, in that zone
};

Civil CivilOf(const repo::Snapshot& s) {
  int64_t local = s.time.sec + s.time_offset;
  int64_t days = local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
  int64_t secs = local - days * 86400;
  Civil c{};
  CivilFromDays(days, &c.year, &c.month, &c.day);
  c.hour = unsigned(secs / 3600);
  c.minute = unsigned(secs / 60 % 60);
  c.second = unsigned(secs % 60);
  c.days = days;
  return c;
}

// ISO 8601 year and week, as Go's time.ISOWeek: the week belongs to the year
// of its Thursday.
int64_t IsoYearWeek(const Civil& c) {
  int64_t weekday = ((c.days + 3) % 7 + 7) % 7;  // Monday = 0 (1970-01-01 was a Thursday)
  int64_t thursday = c.days - weekday + 3;
  int64_t y;
  unsigned m, d;
  CivilFromDays(thursday, &y, &m, &d);
  int64_t week = (thursday - DaysFromCivil(y, 1, 1)) / 7 + 1;
  return y * 100 + week;
}

enum Bucket { kAlways, kHour, kDay, kWeek, kMonth, kYear };

int64_t BucketOf(Bucket b, const repo::Snapshot& s, size_t nr) {
  if (b == kAlways) return int64_t(nr);
  Civil c = CivilOf(s);
  switch (b) {
    case kHour: return ((c.year * 100 + c.month) * 100 + c.day) * 100 + c.hour;
    case kDay: return (c.year * 100 + c.month) * 100 + c.day;
    case kWeek: return IsoYearWeek(c);
    case kMonth: return c.year * 100 + c.month;
    case kYear: return c.year;
    default: return 0;
  }
}

// Go's latest.AddDate(-y, -m, -d).Add(-h hours) in the zone of `latest`:
// months and days out of range normalise (March 31 minus one month is March 3).
Timestamp Subtract(const repo::Snapshot& latest, const RetentionDuration& d) {
  Civil c = CivilOf(latest);
  int64_t month0 = c.year * 12 + (int64_t(c.month) - 1) - d.years * 12 - d.months;
  int64_t y = month0 >= 0 ? month0 / 12 : -((-month0 + 11) / 12);
  unsigned m = unsigned(month0 - y * 12) + 1;
  int64_t days = DaysFromCivil(y, m, 1) + (int64_t(c.day) - 1) - d.days;
  int64_t local = days * 86400 + c.hour * 3600 + c.minute * 60 + c.second;
  return Timestamp{local - latest.time_offset - int64_t(d.hours) * 3600, latest.time.nsec};
}

}  // namespace

PolicyResult ApplyPolicy(const std::vector<SnapshotEntry>& group, const ExpirePolicy& p, Timestamp now) {
  PolicyResult r;
  std::vector<size_t> order(group.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return group[a].snap.time > group[b].snap.time; });
  if (p.Empty()) {
    for (size_t i : order) {
      r.keep.push_back(i);
      r.reasons.push_back(KeepReason{i, {"policy is empty"}, {}});
    }
    return r;
  }
  if (order.empty()) return r;

  struct Counter {
    int count;
    Bucket bucket;
    int64_t last = -1;
    const char* reason;
  };
  Counter counters[6] = {{p.last, kAlways, -1, "last snapshot"},     {p.hourly, kHour, -1, "hourly snapshot"},
                         {p.daily, kDay, -1, "daily snapshot"},      {p.weekly, kWeek, -1, "weekly snapshot"},
                         {p.monthly, kMonth, -1, "monthly snapshot"}, {p.yearly, kYear, -1, "yearly snapshot"}};
  struct WithinCounter {
    const RetentionDuration* within;
    Bucket bucket;
    int64_t last = -1;
    const char* reason;
  };
  WithinCounter withins[5] = {{&p.within_hourly, kHour, -1, "hourly within"},
                              {&p.within_daily, kDay, -1, "daily within"},
                              {&p.within_weekly, kWeek, -1, "weekly within"},
                              {&p.within_monthly, kMonth, -1, "monthly within"},
                              {&p.within_yearly, kYear, -1, "yearly within"}};

  // The newest snapshot not in the future is what durations count back from.
  const repo::Snapshot* latest = nullptr;
  for (size_t i : order) {
    const auto& s = group[i].snap;
    if (s.time < now && (!latest || s.time > latest->time)) latest = &s;
  }
  auto cutoff = [&](const RetentionDuration& d) -> Timestamp {
    return latest ? Subtract(*latest, d) : Timestamp{INT64_MIN / 2, 0};
  };

  for (size_t nr = 0; nr < order.size(); ++nr) {
    const repo::Snapshot& cur = group[order[nr]].snap;
    bool keep = false;
    std::vector<std::string> why;
    for (const auto& l : p.keep_tags) {
      if (HasTags(cur, l)) {
        keep = true;
        std::string list;
        for (const auto& t : l) list += (list.empty() ? "" : ", ") + t;
        why.push_back("has tags [" + list + "]");
      }
    }
    if (!p.within.Zero() && cur.time > cutoff(p.within)) {
      keep = true;
      why.push_back("within " + p.within.ToString());
    }
    for (auto& c : counters) {
      if (c.count > 0 || c.count == -1) {
        int64_t v = BucketOf(c.bucket, cur, nr);
        if (v != c.last) {
          keep = true;
          c.last = v;
          if (c.count > 0) --c.count;
          why.push_back(c.reason);
        }
      }
    }
    for (auto& w : withins) {
      if (w.within->Zero() || !(cur.time > cutoff(*w.within))) continue;
      int64_t v = BucketOf(w.bucket, cur, nr);
      if (v != w.last) {
        keep = true;
        w.last = v;
        why.push_back(std::string(w.reason) + " " + w.within->ToString());
      }
    }
    if (keep) {
      r.keep.push_back(order[nr]);
      KeepReason kr{order[nr], std::move(why), {}};
      for (int k = 0; k < 6; ++k) kr.counters[size_t(k)] = counters[k].count;
      r.reasons.push_back(std::move(kr));
    } else {
      r.remove.push_back(order[nr]);
    }
  }
  return r;
}

Result<GroupBy> ParseGroupBy(const std::string& s) {
  GroupBy g;
  if (s.empty()) return g;
  for (const auto& part : ParseTagList(s)) {
    if (part == "host") g.host = true;
    else if (part == "paths") g.paths = true;
    else if (part == "tags") g.tags = true;
    else if (!part.empty())
      return Error(Code::kUsage, "invalid --group-by", s, "unknown field \"" + part + "\"",
                   "use a comma list of host, paths and tags, or '' for one group");
  }
  return g;
}

bool IsDescriptiveTag(const std::string& tag) {
  for (const char* p : {"type:", "method:", "logs:", "seq:"})
    if (tag.rfind(p, 0) == 0) return true;
  return false;
}

GroupKey KeyOf(const repo::Snapshot& s, const GroupBy& by) {
  GroupKey k;
  if (by.host) k.host = s.hostname;
  if (by.paths) {
    k.paths = s.paths;
    std::sort(k.paths.begin(), k.paths.end());
  }
  if (by.tags) {
    bool store = std::find(s.tags.begin(), s.tags.end(), "mxstore") != s.tags.end();
    for (const auto& t : s.tags)
      if (!store || !IsDescriptiveTag(t)) k.tags.push_back(t);
    std::sort(k.tags.begin(), k.tags.end());
  }
  return k;
}

bool SnapshotFilter::Matches(const repo::Snapshot& s) const {
  if (!hosts.empty() && std::find(hosts.begin(), hosts.end(), s.hostname) == hosts.end()) return false;
  if (!tags.empty() && std::none_of(tags.begin(), tags.end(), [&](const TagList& l) { return HasTags(s, l); }))
    return false;
  for (const auto& p : paths)
    if (std::find(s.paths.begin(), s.paths.end(), p) == s.paths.end()) return false;
  return true;
}

}  // namespace mx::vault
