// `mxvault forget`: removes snapshots by id or by a retention policy with
// restic's options, grouping and --json shape (vault/retention/policy.h), and
// keeps what kept store-level backups need (vault/retention/chain.h).
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "app.h"
#include "vault/retention/chain.h"
#include "vault/retention/policy.h"

namespace mx::app {
namespace {

using nlohmann::json;
using repo::Id;
using vault::SnapshotEntry;

struct ForgetArgs {
  int last = 0, hourly = 0, daily = 0, weekly = 0, monthly = 0, yearly = 0;
  std::string within, within_hourly, within_daily, within_weekly, within_monthly, within_yearly;
  std::vector<std::string> keep_tags, hosts, tags, paths, ids;
  std::string group_by = "host,paths,tags";
  bool dry_run = false, prune = false, compact = false;
  PruneArgs prune_args;
};

Result<vault::ExpirePolicy> MakePolicy(const ForgetArgs& a) {
  vault::ExpirePolicy p;
  const std::pair<int, const char*> counts[] = {{a.last, "--keep-last"},   {a.hourly, "--keep-hourly"},
                                                {a.daily, "--keep-daily"}, {a.weekly, "--keep-weekly"},
                                                {a.monthly, "--keep-monthly"}, {a.yearly, "--keep-yearly"}};
  for (auto [n, flag] : counts)
    if (n < -1)
      return Error(Code::kUsage, std::string("invalid ") + flag, std::to_string(n), "counts must be 0 or more, or -1 for all",
                   std::string("pass ") + flag + " N with N >= 0, or -1 to keep every such snapshot");
  p.last = a.last, p.hourly = a.hourly, p.daily = a.daily, p.weekly = a.weekly, p.monthly = a.monthly,
  p.yearly = a.yearly;
  const std::tuple<const std::string*, vault::RetentionDuration*, const char*> durations[] = {
      {&a.within, &p.within, "--keep-within"},
      {&a.within_hourly, &p.within_hourly, "--keep-within-hourly"},
      {&a.within_daily, &p.within_daily, "--keep-within-daily"},
      {&a.within_weekly, &p.within_weekly, "--keep-within-weekly"},
      {&a.within_monthly, &p.within_monthly, "--keep-within-monthly"},
      {&a.within_yearly, &p.within_yearly, "--keep-within-yearly"}};
  for (auto [text, out, flag] : durations)
    if (!text->empty()) *out = MX_TRY(vault::ParseRetentionDuration(*text, flag));
  for (const auto& t : a.keep_tags) p.keep_tags.push_back(vault::ParseTagList(t));
  return p;
}

struct Group {
  vault::GroupKey key;
  std::vector<size_t> members;  // indexes into all
  std::vector<size_t> keep, remove;
  std::vector<vault::KeepReason> reasons;  // entry = index into all
};

std::string Joined(const std::vector<std::string>& v, const char* sep = ",") {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

json ReasonJson(const repo::Snapshot& s, const vault::KeepReason& r) {
  json snap = SnapshotJson(repo::Id{}, s);
  snap.erase("id");
  snap.erase("short_id");
  json counters = json::object();
  const char* names[] = {"last", "hourly", "daily", "weekly", "monthly", "yearly"};
  for (size_t k = 0; k < 6; ++k)
    if (r.counters[k]) counters[names[k]] = r.counters[k];
  return {{"snapshot", snap}, {"matches", r.matches}, {"counters", counters}};
}

void PrintTable(const char* title, const std::vector<size_t>& list, const std::vector<SnapshotEntry>& all,
                const std::map<size_t, std::vector<std::string>>* reasons) {
  if (list.empty()) return;
  printf("%s %zu snapshots:\n", title, list.size());
  printf("%-9s %-19s  %-12s %-24s%s %s\n", "ID", "Time", "Host", "Tags", reasons ? " Reasons                 " : "",
         "Paths");
  printf("%s\n", std::string(reasons ? 110 : 85, '-').c_str());
  for (size_t i : list) {
    const auto& s = all[i].snap;
    std::string tags = Joined(s.tags);
    if (tags.size() > 24) tags = tags.substr(0, 21) + "...";
    std::string why = reasons ? Joined(reasons->at(i), ", ") : "";
    if (reasons) why = " " + why + std::string(why.size() < 24 ? 24 - why.size() : 0, ' ');
    printf("%-9s %-19s  %-12s %-24s%s %s\n", all[i].id.Short().c_str(), FormatLocal(s.time).c_str(),
           s.hostname.c_str(), tags.c_str(), why.c_str(), Joined(s.paths).c_str());
  }
  printf("%s\n%zu snapshots\n\n", std::string(reasons ? 110 : 85, '-').c_str(), list.size());
}

Status RunForget(Globals& g, const ForgetArgs& a) {
  vault::ExpirePolicy policy = MX_TRY(MakePolicy(a));
  vault::GroupBy by = MX_TRY(vault::ParseGroupBy(a.group_by));
  PruneArgs pa = a.prune_args;
  pa.dry_run = a.dry_run;
  if (a.prune) {
    repo::PruneOptions check;
    MX_CHECK(ParsePruneLimits(pa, &check));
  }
  bool talk = !g.quiet && !g.json;
  auto repo = MX_TRY(OpenRepository(g, false));
  auto lock = MX_TRY(Lock(g, *repo, !a.dry_run));
  MX_CHECK(repo->LoadIndex());
  auto listed = MX_TRY(repo->ListSnapshots());
  std::vector<SnapshotEntry> all;
  for (auto& [id, s] : listed) all.push_back(SnapshotEntry{id, std::move(s)});
  auto chains = MX_TRY(vault::StoreChains::Load(*repo, all));

  std::set<size_t> removed;
  std::vector<size_t> by_id;
  for (const auto& name : a.ids) {
    Id id = MX_TRY(repo->FindFile(repo::FileType::kSnapshot, name));
    for (size_t i = 0; i < all.size(); ++i)
      if (all[i].id == id && removed.insert(i).second) by_id.push_back(i);
  }
  if (a.ids.empty() && policy.Empty()) {
    if (!g.json && !g.quiet) printf("no policy was given and no snapshot named: nothing to forget\n");
    if (g.json) printf("[]\n");
    return Ok();
  }

  // The policy, group by group.
  std::vector<Group> groups;
  if (!policy.Empty()) {
    vault::SnapshotFilter filter{a.hosts, {}, a.paths};
    for (const auto& t : a.tags) filter.tags.push_back(vault::ParseTagList(t));
    std::map<vault::GroupKey, size_t> index;
    for (size_t i = 0; i < all.size(); ++i) {
      if (removed.count(i) || !filter.Matches(all[i].snap)) continue;
      auto key = vault::KeyOf(all[i].snap, by);
      auto [it, fresh] = index.emplace(key, groups.size());
      if (fresh) groups.push_back(Group{key, {}, {}, {}, {}});
      groups[it->second].members.push_back(i);
    }
    Timestamp now = Now();
    for (Group& gr : groups) {
      std::vector<SnapshotEntry> list;
      for (size_t i : gr.members) list.push_back(all[i]);
      vault::PolicyResult r = vault::ApplyPolicy(list, policy, now);
      for (size_t k : r.keep) gr.keep.push_back(gr.members[k]);
      for (size_t k : r.remove) {
        gr.remove.push_back(gr.members[k]);
        removed.insert(gr.members[k]);
      }
      for (auto& reason : r.reasons) {
        reason.entry = gr.members[reason.entry];
        gr.reasons.push_back(std::move(reason));
      }
    }
  }

  // Chains: whatever a remaining snapshot needs stays. A removal named by id
  // is refused, naming every kept backup that needs it; a policy's removal
  // turns into a keep with the reason.
  for (size_t named : by_id) {
    std::vector<std::string> dependents;
    for (size_t i = 0; i < all.size(); ++i) {
      const auto& needs = chains.Needs(i);
      if (!removed.count(i) && std::find(needs.begin(), needs.end(), named) != needs.end())
        dependents.push_back(chains.Type(i) + " " + all[i].id.Short() + " (" + FormatLocal(all[i].snap.time) + ")");
    }
    if (!dependents.empty())
      return Error(Code::kSnapshotNeeded, "cannot forget snapshot " + all[named].id.Short(), all[named].id.Short(),
                   "the kept backups " + Joined(dependents, ", ") + " cannot be restored without it",
                   "forget those as well, or keep " + all[named].id.Short());
  }
  for (size_t i = 0; i < all.size(); ++i) {
    if (removed.count(i)) continue;
    for (size_t need : chains.Needs(i)) {
      if (!removed.count(need)) continue;
      removed.erase(need);
      for (Group& gr : groups) {
        auto it = std::find(gr.remove.begin(), gr.remove.end(), need);
        if (it == gr.remove.end()) continue;
        gr.remove.erase(it);
        gr.keep.push_back(need);
        std::string what = chains.Type(need) == "full" ? "its full backup" : "an earlier backup of its chain";
        gr.reasons.push_back(vault::KeepReason{
            need, {"needed by " + chains.Type(i) + " " + all[i].id.Short() + " (" + what + ")"}, {}});
      }
    }
  }
  for (size_t i = 0; i < all.size(); ++i)
    if (!removed.count(i) && !chains.Broken(i).empty() && !g.quiet)
      fprintf(stderr, "warning: snapshot %s cannot be restored: %s\n", all[i].id.Short().c_str(),
              chains.Broken(i).c_str());
  // Newest first within each group, as restic lists them.
  auto newest_first = [&](std::vector<size_t>& v) {
    std::stable_sort(v.begin(), v.end(), [&](size_t x, size_t y) { return all[x].snap.time > all[y].snap.time; });
  };

  if (g.json) {
    json out = json::array();
    for (Group& gr : groups) {
      newest_first(gr.keep);
      newest_first(gr.remove);
      std::stable_sort(gr.reasons.begin(), gr.reasons.end(), [&](const auto& x, const auto& y) {
        return all[x.entry].snap.time > all[y.entry].snap.time;
      });
      json keep = json::array(), remove = json::array(), reasons = json::array();
      for (size_t i : gr.keep) keep.push_back(SnapshotJson(all[i].id, all[i].snap));
      for (size_t i : gr.remove) remove.push_back(SnapshotJson(all[i].id, all[i].snap));
      for (const auto& r : gr.reasons) reasons.push_back(ReasonJson(all[r.entry].snap, r));
      out.push_back({{"tags", gr.key.tags.empty() ? json(nullptr) : json(gr.key.tags)},
                     {"host", gr.key.host},
                     {"paths", gr.key.paths.empty() ? json(nullptr) : json(gr.key.paths)},
                     {"keep", gr.keep.empty() ? json(nullptr) : keep},
                     {"remove", gr.remove.empty() ? json(nullptr) : remove},
                     {"reasons", reasons}});
    }
    if (!by_id.empty()) {
      json remove = json::array();
      for (size_t i : by_id) remove.push_back(SnapshotJson(all[i].id, all[i].snap));
      out.push_back({{"tags", nullptr}, {"host", ""}, {"paths", nullptr}, {"keep", nullptr}, {"remove", remove},
                     {"reasons", json::array()}});
    }
    printf("%s\n", out.dump().c_str());
  } else if (!g.quiet) {
    if (!by_id.empty()) PrintTable("remove (named)", by_id, all, nullptr);
    if (!groups.empty()) printf("Applying Policy: %s\n", policy.Describe().c_str());
    for (Group& gr : groups) {
      newest_first(gr.keep);
      newest_first(gr.remove);
      std::vector<std::string> parts;
      if (by.host) parts.push_back("host [" + gr.key.host + "]");
      if (by.paths) parts.push_back("paths [" + Joined(gr.key.paths, ", ") + "]");
      if (by.tags) parts.push_back("tags [" + Joined(gr.key.tags, ", ") + "]");
      if (!parts.empty()) printf("snapshots for (%s):\n", Joined(parts, ", ").c_str());
      std::map<size_t, std::vector<std::string>> why;
      for (const auto& r : gr.reasons) why[r.entry] = r.matches;
      PrintTable("keep", gr.keep, all, &why);
      PrintTable("remove", gr.remove, all, nullptr);
    }
  }

  if (removed.empty()) {
    if (talk) printf("no snapshots to remove\n");
    return Ok();
  }
  if (a.dry_run) {
    if (talk) printf("would remove %zu snapshots (dry run)\n", removed.size());
  } else {
    size_t n = 0;
    for (size_t i : removed) {
      Status s = repo->backend().Remove(repo::Handle{repo::FileType::kSnapshot, all[i].id.Hex()});
      if (!s.ok() && s.error().code() != Code::kNotFound)
        return s.error().Wrap("cannot remove snapshot " + all[i].id.Short() + " (" + std::to_string(n) +
                                  " of " + std::to_string(removed.size()) + " were removed)",
                              repo::ObjectName(repo::FileType::kSnapshot, all[i].id));
      ++n;
    }
    if (talk) printf("removed %zu snapshots\n", n);
  }
  if (!a.prune) return Ok();
  if (talk) printf("\npruning the data only the removed snapshots used\n");
  if (a.dry_run) {
    // A dry run removed nothing, so a prune now would see the removed
    // snapshots still in use; say so rather than print misleading figures.
    if (talk) printf("dry run: prune would run next; run `mxvault prune --dry-run` after a real forget to see its plan\n");
    return Ok();
  }
  if (g.json) {
    // Keep stdout one JSON document (restic's forget array); prune talks on stderr.
    Globals quiet = g;
    quiet.json = false;
    quiet.quiet = true;
    return RunPrune(quiet, *repo, pa);
  }
  return RunPrune(g, *repo, pa);
}

}  // namespace

void RegisterForget(CLI::App& app, Globals& g, Command* run) {
  auto* cmd = app.add_subcommand("forget", "remove snapshots by id or by a retention policy");
  static ForgetArgs a;
  cmd->add_option("ids", a.ids, "snapshot ids to forget");
  cmd->add_option("-l,--keep-last", a.last, "keep the last N snapshots");
  cmd->add_option("-H,--keep-hourly", a.hourly, "keep the last N hourly snapshots");
  cmd->add_option("-d,--keep-daily", a.daily, "keep the last N daily snapshots");
  cmd->add_option("-w,--keep-weekly", a.weekly, "keep the last N weekly snapshots");
  cmd->add_option("-m,--keep-monthly", a.monthly, "keep the last N monthly snapshots");
  cmd->add_option("-y,--keep-yearly", a.yearly, "keep the last N yearly snapshots");
  cmd->add_option("--keep-within", a.within, "keep snapshots newer than DURATION (1y5m7d2h) before the newest");
  cmd->add_option("--keep-within-hourly", a.within_hourly, "keep hourly snapshots within DURATION");
  cmd->add_option("--keep-within-daily", a.within_daily, "keep daily snapshots within DURATION");
  cmd->add_option("--keep-within-weekly", a.within_weekly, "keep weekly snapshots within DURATION");
  cmd->add_option("--keep-within-monthly", a.within_monthly, "keep monthly snapshots within DURATION");
  cmd->add_option("--keep-within-yearly", a.within_yearly, "keep yearly snapshots within DURATION");
  cmd->add_option("--keep-tag", a.keep_tags, "keep snapshots with this tag list (a,b); repeatable");
  cmd->add_option("--host", a.hosts, "only consider snapshots of this host; repeatable");
  cmd->add_option("--tag", a.tags, "only consider snapshots with this tag list (a,b); repeatable");
  cmd->add_option("--path", a.paths, "only consider snapshots that include this path; repeatable");
  cmd->add_option("-g,--group-by", a.group_by, "group by host, paths and/or tags ('' for one group)")
      ->default_val("host,paths,tags");
  cmd->add_flag("-n,--dry-run", a.dry_run, "only print what would be removed");
  cmd->add_flag("-c,--compact", a.compact, "accepted for restic compatibility");
  cmd->add_flag("--prune", a.prune, "prune the repository afterwards");
  AddPruneOptions(cmd, a.prune_args);
  cmd->callback([&g, run] { *run = [&g]() { return RunForget(g, a); }; });
}

}  // namespace mx::app
