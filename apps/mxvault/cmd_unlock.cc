#include <cstdio>

#include "app.h"

namespace mx::app {

void RegisterUnlock(CLI::App& app, Globals& g, Command* run) {
  auto* cmd = app.add_subcommand("unlock", "remove stale locks");
  static bool all = false;
  cmd->add_flag("--remove-all", all, "remove every lock, even live ones");
  cmd->callback([&g, run] {
    *run = [&g]() -> Status {
      auto repo = MX_TRY(OpenRepository(g, false));
      size_t n = MX_TRY(repo::RemoveLocks(*repo, all));
      if (!g.quiet) printf("removed %zu %slock(s)\n", n, all ? "" : "stale ");
      return Ok();
    };
  });
}

}  // namespace mx::app
