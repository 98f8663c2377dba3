// Retention policies with restic's semantics (`restic forget --keep-*`,
// restic 0.14, the version Debian 12 ships): snapshots are grouped, sorted
// newest first, and each group keeps the newest snapshot of each of the last N
// hours/days/ISO weeks/months/years, the last N snapshots, those within a
// duration of the group's newest snapshot, and those carrying a kept tag list.
// Buckets are counted in the zone each snapshot's time was recorded in.
//
// Pure functions over snapshot lists; no repository access (the store chain
// rule that keeps a full while a kept incremental needs it is in chain.h).
#pragma once

#include <array>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/error.h"
#include "repo/format.h"
#include "repo/id.h"

namespace mx::vault {

/// A calendar duration "1y5m7d2h" (restic's --keep-within syntax).
struct RetentionDuration {
  int years = 0, months = 0, days = 0, hours = 0;
  bool Zero() const { return years == 0 && months == 0 && days == 0 && hours == 0; }
  std::string ToString() const;  // "1y5m7d2h", units with 0 left out
};
/// USAGE error naming the flag for anything but <number><y|m|d|h> pairs.
Result<RetentionDuration> ParseRetentionDuration(const std::string& s, const std::string& flag);

/// A tag list: a snapshot matches when it carries every tag of the list (the
/// empty tag "" matches a snapshot without tags). Parsed from "a,b".
using TagList = std::vector<std::string>;
TagList ParseTagList(const std::string& s);
bool HasTags(const repo::Snapshot& s, const TagList& l);

struct ExpirePolicy {
  // Counts; -1 keeps every such snapshot (restic >= 0.15 semantics; 0.14
  // accepts -1 but ignores it).
  int last = 0, hourly = 0, daily = 0, weekly = 0, monthly = 0, yearly = 0;
  RetentionDuration within, within_hourly, within_daily, within_weekly, within_monthly, within_yearly;
  std::vector<TagList> keep_tags;

  bool Empty() const;
  /// "keep 7 daily, 4 weekly snapshots and all snapshots within 2d of the newest"
  std::string Describe() const;
};

struct SnapshotEntry {
  repo::Id id;
  repo::Snapshot snap;
};

/// Why one snapshot is kept: the rules that matched, and the counters left
/// after it (last, hourly, daily, weekly, monthly, yearly), as restic reports.
struct KeepReason {
  size_t entry;  // index into the list given to ApplyPolicy
  std::vector<std::string> matches;
  std::array<int, 6> counters{};
};

struct PolicyResult {
  std::vector<size_t> keep, remove;  // indexes into the list, newest first
  std::vector<KeepReason> reasons;   // one per kept snapshot, in `keep` order
};

/// Applies `p` to one group. `now` excludes snapshots from the future when
/// finding the newest snapshot that --keep-within counts from.
PolicyResult ApplyPolicy(const std::vector<SnapshotEntry>& group, const ExpirePolicy& p, Timestamp now);

/// restic's grouping (--group-by host,paths,tags in any combination).
struct GroupBy {
  bool host = false, paths = false, tags = false;
};
/// USAGE error for anything but a comma list of host, paths, tags (or "").
Result<GroupBy> ParseGroupBy(const std::string& s);

struct GroupKey {
  std::string host;
  std::vector<std::string> paths;  // sorted
  std::vector<std::string> tags;   // sorted
  auto operator<=>(const GroupKey&) const = default;
};
/// The key of `s`. Tags that describe a single store-level backup (type:,
/// method:, logs:, seq:) do not form groups: every backup of a database has
/// different ones, and a chain must be retained as one group.
GroupKey KeyOf(const repo::Snapshot& s, const GroupBy& by);
bool IsDescriptiveTag(const std::string& tag);

/// Snapshot filters (--host, --tag, --path), as restic applies them: any host,
/// any tag list, all paths.
struct SnapshotFilter {
  std::vector<std::string> hosts;
  std::vector<TagList> tags;
  std::vector<std::string> paths;
  bool Matches(const repo::Snapshot& s) const;
};

}  // namespace mx::vault
