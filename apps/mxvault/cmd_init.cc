#include <cstdio>

#include "app.h"

namespace mx::app {

void RegisterInit(CLI::App& app, Globals& g, Command* run) {
  auto* cmd = app.add_subcommand("init", "create a new repository");
  static int version = 2;
  cmd->add_option("--repository-version", version, "repository format version: 1 or 2 (compression)")
      ->check(CLI::IsMember({1, 2}));
  cmd->callback([&g, run] {
    *run = [&g]() -> Status {
      auto backend = MX_TRY(MakeBackend(g));
      std::string pw = MX_TRY(ReadPassword(g, /*confirm=*/true));
      auto repo = MX_TRY(repo::Repository::Init(backend, pw, version));
      if (g.json) {
        printf("{\"message_type\":\"initialized\",\"id\":\"%s\",\"repository\":\"%s\"}\n",
               repo->config().id.c_str(), backend->Location().c_str());
      } else if (!g.quiet) {
        printf("created mxvault repository %s at %s (format version %d)\n",
               repo->config().id.substr(0, 10).c_str(), backend->Location().c_str(),
               repo->config().version);
        printf("Keep the password safe: without it the data in the repository cannot be read.\n");
      }
      return Ok();
    };
  });
}

}  // namespace mx::app
