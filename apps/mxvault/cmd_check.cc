#include <cstdio>
#include <nlohmann/json.hpp>

#include "app.h"
#include "common/bytes.h"
#include "repo/check.h"

namespace mx::app {

void RegisterCheck(CLI::App& app, Globals& g, Command* run) {
  auto* cmd = app.add_subcommand("check", "verify the repository");
  static bool read_data = false;
  cmd->add_flag("--read-data", read_data, "read and verify every pack (all data)");
  cmd->callback([&g, run] {
    *run = [&g]() -> Status {
      auto repo = MX_TRY(OpenRepository(g, false));
      // Exclusive, as in restic 0.14: a concurrent backup's packs would show
      // up as unindexed while it runs.
      auto lock = MX_TRY(Lock(g, *repo, true));
      repo::CheckOptions opts;
      opts.read_data = read_data;
      bool talk = !g.quiet && !g.json;
      if (talk) opts.on_progress = [](const std::string& s) { fprintf(stderr, "%s\n", s.c_str()); };
      auto report = MX_TRY(repo::CheckRepository(*repo, opts));
      if (g.json) {
        nlohmann::json errs = nlohmann::json::array();
        for (auto& e : report.errors) errs.push_back({{"code", Describe(e.code()).symbol}, {"message", e.Message()}});
        nlohmann::json j = {{"message_type", "summary"}, {"snapshots", report.snapshots},
                            {"trees", report.trees}, {"packs", report.packs}, {"blobs", report.blobs},
                            {"bytes_read", report.bytes_read}, {"errors", errs}, {"notes", report.notes}};
        printf("%s\n", j.dump().c_str());
      } else {
        for (auto& e : report.errors) printf("error: %s\n", e.Message().c_str());
        if (!g.quiet)
          for (auto& n : report.notes) printf("note: %s\n", n.c_str());
        if (talk)
          printf("checked %zu snapshots, %zu trees, %zu packs, %zu blobs%s\n", report.snapshots,
                 report.trees, report.packs, report.blobs,
                 read_data ? (", read " + HumanBytes(report.bytes_read)).c_str() : "");
        if (report.errors.empty() && !g.quiet) printf("no errors were found\n");
      }
      if (!report.errors.empty())
        return Error(Code::kCheckFailed, "check failed", repo->backend().Location(),
                     std::to_string(report.errors.size()) + " error(s), first: " +
                         report.errors.front().Message());
      return Ok();
    };
  });
}

}  // namespace mx::app
