#include <cstdio>
#include <nlohmann/json.hpp>

#include "app.h"
#include "common/bytes.h"
#include "vault/restore/restorer.h"
#include "vault/restore/store_restore.h"

namespace mx::app {

void RegisterRestore(CLI::App& app, Globals& g, Command* run) {
  auto* cmd = app.add_subcommand("restore", "restore a snapshot (or SNAPSHOT:PATH) into a directory");
  static std::string spec, target;
  static std::vector<std::string> includes, excludes;
  static bool files_only = false;
  cmd->add_option("snapshot", spec, "SNAPSHOT or SNAPSHOT:PATH")->required();
  cmd->add_option("-t,--target", target, "directory to restore into")->required();
  cmd->add_option("-i,--include", includes, "restore only paths matching this glob");
  cmd->add_option("-e,--exclude", excludes, "do not restore paths matching this glob");
  cmd->add_flag("--files-only", files_only,
                "store snapshots: restore this snapshot's files as they are, without its chain or checks");
  cmd->callback([&g, run] {
    *run = [&g]() -> Status {
      std::string name = spec, sub;
      size_t colon = spec.find(':');
      if (colon != std::string::npos) {
        name = spec.substr(0, colon);
        sub = spec.substr(colon + 1);
      }
      auto repo = MX_TRY(OpenRepository(g, true));
      auto lock = MX_TRY(Lock(g, *repo, false));
      auto [id, snap] = MX_TRY(repo->FindSnapshot(name));
      if (vault::IsStoreSnapshot(snap) && !files_only && sub.empty() && includes.empty() && excludes.empty()) {
        // A store-level backup: the whole chain, checked, plus the restore
        // manifest `mxstore db recover` reads.
        auto r = MX_TRY(vault::RestoreStoreChain(*repo, id, snap, target));
        std::string chain;
        for (const auto& c : r.chain) chain += (chain.empty() ? "" : " + ") + c;
        if (g.json) {
          nlohmann::json j = {{"message_type", "summary"}, {"snapshot_id", id.Hex()}, {"chain", r.chain},
                              {"files_restored", r.files}, {"bytes_restored", r.bytes}, {"sequence", r.sequence},
                              {"total_duration", r.seconds}};
          printf("%s\n", j.dump().c_str());
        } else if (!g.quiet) {
          printf("restored database chain %s to %s: %llu files, %s in %s, logs up to sequence %llu\n", chain.c_str(),
                 target.c_str(), (unsigned long long)r.files, HumanBytes(r.bytes).c_str(),
                 FormatDuration(r.seconds).c_str(), (unsigned long long)r.sequence);
          printf("next: mxstore db recover %s  (add --roll-forward-from DATABASE_DIR to replay the live logs)\n",
                 target.c_str());
        }
        return Ok();
      }
      vault::RestoreOptions opts;
      opts.target = target;
      opts.subpath = sub;
      opts.includes = includes;
      opts.excludes = excludes;
      vault::RestoreProgress progress;
      Result<vault::RestoreSummary> res = Error(Code::kInternal, "", "", "");
      {
        ProgressLine line(ShowProgress(g), [&](double el) {
          uint64_t b = progress.bytes_done, total = progress.bytes_total;
          double rate = el > 0 ? double(b) / el : 0;
          std::string s = "[" + FormatDuration(el) + "] " + std::to_string(progress.files_done) + "/" +
                          std::to_string(progress.files_total) + " files " + HumanBytes(b) + "/" +
                          HumanBytes(total) + ", " + HumanBytes(uint64_t(rate)) + "/s";
          if (rate > 0 && total > b) s += ", ETA " + FormatDuration(double(total - b) / rate);
          return s;
        });
        res = vault::Restore(*repo, snap, opts, &progress);
      }
      if (!res.ok()) return std::move(res).error();
      for (const Error& e : res->errors) fprintf(stderr, "error: %s\n", e.Message().c_str());
      if (g.json) {
        nlohmann::json j = {{"message_type", "summary"}, {"files_restored", res->files},
                            {"dirs_restored", res->dirs}, {"hard_links", res->links},
                            {"bytes_restored", res->bytes}, {"total_duration", res->seconds},
                            {"errors", res->errors.size()}, {"snapshot_id", id.Hex()}};
        printf("%s\n", j.dump().c_str());
      } else if (!g.quiet) {
        printf("restored snapshot %s to %s: %llu files, %llu dirs, %s in %s\n", id.Short().c_str(),
               target.c_str(), (unsigned long long)res->files, (unsigned long long)res->dirs,
               HumanBytes(res->bytes).c_str(), FormatDuration(res->seconds).c_str());
      }
      if (!res->errors.empty())
        return Error(res->errors.front().code(), "restore incomplete", target,
                     std::to_string(res->errors.size()) + " item(s) failed, first: " +
                         res->errors.front().Message());
      return Ok();
    };
  });
}

}  // namespace mx::app
