// `mxvault prune`: remove the data no snapshot references (repo/prune.h).
#include <cstdio>
#include <nlohmann/json.hpp>

#include "app.h"
#include "common/bytes.h"
#include "repo/prune.h"

namespace mx::app {

Result<uint64_t> ParseSize(const std::string& s, const std::string& flag) {
  auto bad = [&] {
    return Error(Code::kUsage, "invalid size for " + flag, s, "expected a number with an optional k, m, g or t suffix",
                 "write e.g. 500m or 2g");
  };
  if (s.empty()) return bad();
  size_t i = 0;
  uint64_t v = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    if (v > (UINT64_MAX - 9) / 10) return bad();
    v = v * 10 + uint64_t(s[i++] - '0');
  }
  if (i == 0) return bad();
  uint64_t mult = 1;
  if (i < s.size()) {
    switch (s[i]) {
      case 'k': case 'K': mult = 1ull << 10; break;
      case 'm': case 'M': mult = 1ull << 20; break;
      case 'g': case 'G': mult = 1ull << 30; break;
      case 't': case 'T': mult = 1ull << 40; break;
      default: return bad();
    }
    if (++i != s.size()) return bad();
  }
  if (v > UINT64_MAX / mult) return bad();
  return v * mult;
}

Status ParsePruneLimits(const PruneArgs& a, repo::PruneOptions* o) {
  const std::string& mu = a.max_unused;
  if (mu == "unlimited") {
    o->max_unused_bytes = UINT64_MAX;
  } else if (!mu.empty() && mu.back() == '%') {
    char* end = nullptr;
    double p = strtod(mu.c_str(), &end);
    if (end != mu.c_str() + mu.size() - 1 || p < 0 || p > 100)
      return Error(Code::kUsage, "invalid --max-unused", mu, "a percentage must be between 0% and 100%",
                   "write e.g. 5%, 0%, 200m or unlimited");
    o->max_unused_percent = p;
  } else {
    o->max_unused_bytes = MX_TRY(ParseSize(mu, "--max-unused"));
  }
  if (!a.max_repack_size.empty()) o->max_repack_bytes = MX_TRY(ParseSize(a.max_repack_size, "--max-repack-size"));
  o->dry_run = a.dry_run;
  return Ok();
}

Status RunPrune(Globals& g, repo::Repository& repo, const PruneArgs& a) {
  repo::PruneOptions o;
  MX_CHECK(ParsePruneLimits(a, &o));
  bool talk = !g.quiet && !g.json;
  if (talk) o.on_progress = [](const std::string& s) { fprintf(stderr, "%s\n", s.c_str()); };
  auto r = MX_TRY(repo::Prune(repo, o));
  if (g.json) {
    nlohmann::json j = {{"message_type", "prune_summary"}, {"dry_run", a.dry_run}, {"snapshots", r.snapshots},
                        {"used_blobs", r.used_blobs}, {"used_bytes", r.used_bytes},
                        {"unused_blobs", r.unused_blobs}, {"unused_bytes", r.unused_bytes},
                        {"packs", r.packs}, {"packs_keep", r.packs_keep}, {"packs_repack", r.packs_repack},
                        {"packs_delete", r.packs_delete}, {"packs_unindexed", r.packs_unindexed},
                        {"bytes_repack", r.bytes_repack}, {"bytes_delete", r.bytes_delete},
                        {"bytes_unindexed", r.bytes_unindexed}, {"bytes_leftovers", r.bytes_leftovers}, {"unused_after", r.unused_after},
                        {"size_before", r.size_before}, {"size_after", r.size_after},
                        {"packs_written", r.packs_written}, {"index_files_written", r.index_files_written},
                        {"index_files_removed", r.index_files_removed}};
    printf("%s\n", j.dump().c_str());
    return Ok();
  }
  if (g.quiet) return Ok();
  auto pct = [](uint64_t part, uint64_t whole) {
    char b[32];
    snprintf(b, sizeof b, "%.2f%%", whole ? 100.0 * double(part) / double(whole) : 0.0);
    return std::string(b);
  };
  printf("used:         %10llu blobs / %s\n", (unsigned long long)r.used_blobs, HumanBytes(r.used_bytes).c_str());
  printf("unused:       %10llu blobs / %s\n", (unsigned long long)r.unused_blobs, HumanBytes(r.unused_bytes).c_str());
  printf("to repack:    %10zu packs / %s, freeing %s\n", r.packs_repack, HumanBytes(r.bytes_repack).c_str(),
         HumanBytes(r.bytes_repack_freed).c_str());
  printf("to delete:    %10zu packs / %s", r.packs_delete, HumanBytes(r.bytes_delete).c_str());
  if (r.packs_unindexed) printf(", and %zu unindexed packs / %s", r.packs_unindexed, HumanBytes(r.bytes_unindexed).c_str());
  printf("\n");
  if (r.bytes_leftovers)
    printf("removed %s of temporary files left by interrupted saves\n", HumanBytes(r.bytes_leftovers).c_str());
  uint64_t freed = r.size_before - std::min(r.size_before, r.size_after);
  printf("total prune:  %s\n", HumanBytes(freed).c_str());
  printf("remaining:    %10zu packs / %s\n", r.packs_keep + r.packs_written, HumanBytes(r.size_after).c_str());
  printf("unused size after prune: %s (%s of remaining size)\n", HumanBytes(r.unused_after).c_str(),
         pct(r.unused_after, r.size_after).c_str());
  if (a.dry_run) printf("dry run: nothing was changed\n");
  else if (!r.changed) printf("nothing to prune\n");
  else
    printf("wrote %zu packs and %zu index files, removed %zu index files; done\n", r.packs_written,
           r.index_files_written, r.index_files_removed);
  return Ok();
}

void AddPruneOptions(CLI::App* cmd, PruneArgs& a) {
  cmd->add_option("--max-unused", a.max_unused,
                  "unused space tolerated after prune: a percentage of the used data, a size (200m), or 'unlimited'")
      ->default_val("5%");
  cmd->add_option("--max-repack-size", a.max_repack_size, "repack at most this much (e.g. 10g)");
}

void RegisterPrune(CLI::App& app, Globals& g, Command* run) {
  auto* cmd = app.add_subcommand("prune", "remove data no snapshot references");
  static PruneArgs a;
  AddPruneOptions(cmd, a);
  cmd->add_flag("-n,--dry-run", a.dry_run, "only print what would be removed");
  cmd->callback([&g, run] {
    *run = [&g]() -> Status {
      repo::PruneOptions check;
      MX_CHECK(ParsePruneLimits(a, &check));  // bad options fail before the password prompt
      auto repo = MX_TRY(OpenRepository(g, false));
      auto lock = MX_TRY(Lock(g, *repo, !a.dry_run));
      MX_CHECK(repo->LoadIndex());
      return RunPrune(g, *repo, a);
    };
  });
}

}  // namespace mx::app
