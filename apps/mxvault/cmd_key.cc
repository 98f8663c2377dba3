#include <cstdio>
#include <nlohmann/json.hpp>

#include "app.h"

namespace mx::app {

void RegisterKey(CLI::App& app, Globals& g, Command* run) {
  auto* cmd = app.add_subcommand("key", "manage the repository's passwords (keys)");
  cmd->require_subcommand(1);
  static std::string new_password_file, remove_id;
  auto new_password = [&g]() -> Result<std::string> {
    if (!new_password_file.empty()) return ReadPasswordFile(new_password_file);
    Globals tmp;  // prompt on the terminal
    return ReadPassword(tmp, /*confirm=*/true);
  };

  auto* list = cmd->add_subcommand("list", "list keys");
  list->callback([&g, run] {
    *run = [&g]() -> Status {
      auto repo = MX_TRY(OpenRepository(g, false));
      auto keys = MX_TRY(repo->ListKeys());
      if (g.json) {
        nlohmann::json arr = nlohmann::json::array();
        for (auto& k : keys)
          arr.push_back({{"current", k.id == repo->key_id()}, {"id", k.id.Hex()},
                         {"userName", k.file.username}, {"hostName", k.file.hostname},
                         {"created", k.file.created}});
        printf("%s\n", arr.dump().c_str());
        return Ok();
      }
      printf(" %-9s %-12s %-20s %s\n", "ID", "User", "Host", "Created");
      printf("%s\n", std::string(64, '-').c_str());
      for (auto& k : keys)
        printf("%s%-9s %-12s %-20s %s\n", k.id == repo->key_id() ? "*" : " ", k.id.Short().c_str(),
               k.file.username.c_str(), k.file.hostname.c_str(), k.file.created.c_str());
      return Ok();
    };
  });

  auto* add = cmd->add_subcommand("add", "add a password");
  add->add_option("--new-password-file", new_password_file, "file with the new password");
  add->callback([&g, run, new_password] {
    *run = [&g, new_password]() -> Status {
      auto repo = MX_TRY(OpenRepository(g, false));
      auto lock = MX_TRY(Lock(g, *repo, false));
      std::string pw = MX_TRY(new_password());
      if (pw.empty()) return Error(Code::kNoPassword, "empty password", "", "an empty password is not allowed");
      repo::Id id = MX_TRY(repo->AddKey(pw));
      if (!g.quiet) printf("saved new key as %s\n", id.Short().c_str());
      return Ok();
    };
  });

  auto* remove = cmd->add_subcommand("remove", "remove a key");
  remove->add_option("id", remove_id, "key id or prefix")->required();
  remove->callback([&g, run] {
    *run = [&g]() -> Status {
      auto repo = MX_TRY(OpenRepository(g, false));
      auto lock = MX_TRY(Lock(g, *repo, true));
      repo::Id id = MX_TRY(repo->FindFile(repo::FileType::kKey, remove_id));
      MX_CHECK(repo->RemoveKey(id));
      if (!g.quiet) printf("removed key %s\n", id.Short().c_str());
      return Ok();
    };
  });

  auto* passwd = cmd->add_subcommand("passwd", "change the password of the current key");
  passwd->add_option("--new-password-file", new_password_file, "file with the new password");
  passwd->callback([&g, run, new_password] {
    *run = [&g, new_password]() -> Status {
      auto repo = MX_TRY(OpenRepository(g, false));
      auto lock = MX_TRY(Lock(g, *repo, true));
      std::string pw = MX_TRY(new_password());
      if (pw.empty()) return Error(Code::kNoPassword, "empty password", "", "an empty password is not allowed");
      repo::Id fresh = MX_TRY(repo->AddKey(pw));
      // The new key is durable before the old one goes.
      MX_CHECK(repo->backend().Remove(repo::Handle{repo::FileType::kKey, repo->key_id().Hex()}));
      if (!g.quiet) printf("changed password: key %s replaces %s\n", fresh.Short().c_str(), repo->key_id().Short().c_str());
      return Ok();
    };
  });
}

}  // namespace mx::app
