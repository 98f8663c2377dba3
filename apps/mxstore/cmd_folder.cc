// `mxstore folder`: public folders (IMAP's "Public/" namespace) and the
// grants that let users see them.
#include <iostream>

#include "app.h"
#include "commands.h"

namespace mx::storecli {
namespace {

// "Public/Team" and "Team" name the same public folder.
std::string PublicName(const std::string& name) {
  return name.rfind("Public/", 0) == 0 ? name.substr(7) : name;
}

}  // namespace

void RegisterFolder(CLI::App& app, Globals& g) {
  auto* f = app.add_subcommand("folder", "public folders: create-public, grant, grants");
  f->require_subcommand(1);
  static std::string name, user, access, database = "db01";

  auto* create = f->add_subcommand("create-public", "create a public folder (seen over IMAP as Public/NAME by users granted it)");
  create->add_option("NAME", name, "folder name, '/' between levels")->required();
  create->add_option("--database", database, "database of the public folders, when the first is created (default db01)");
  create->callback([&g] {
    RunWithConfig(g, [&](const StoreConfig& cfg) -> Status {
      (void)MX_TRY(AdminCall(cfg, {{"cmd", "folder.create_public"}, {"name", PublicName(name)}, {"database", database}}));
      std::cout << "created public folder Public/" << PublicName(name) << "\n";
      return Ok();
    });
  });

  auto* grant = f->add_subcommand("grant", "give a user read or read-write access to a public folder (none: take it away)");
  grant->add_option("NAME", name, "public folder (Public/NAME or NAME)")->required();
  grant->add_option("USER", user, "login user")->required();
  grant->add_option("ACCESS", access, "read, read-write or none")->required()->check(CLI::IsMember({"read", "read-write", "none"}));
  grant->callback([&g] {
    RunWithConfig(g, [&](const StoreConfig& cfg) -> Status {
      (void)MX_TRY(AdminCall(cfg, {{"cmd", "folder.grant"}, {"name", PublicName(name)}, {"user", user}, {"access", access}}));
      std::cout << (access == "none" ? "took Public/" + PublicName(name) + " away from " + user
                                     : "granted " + access + " access to Public/" + PublicName(name) + " to " + user)
                << "\n";
      return Ok();
    });
  });

  f->add_subcommand("grants", "list the public folders' grants")->callback([&g] {
    RunWithConfig(g, [&](const StoreConfig& cfg) -> Status {
      nlohmann::json r = MX_TRY(AdminCall(cfg, {{"cmd", "folder.grants"}}));
      if (g.json) {
        std::cout << r.dump(2) << "\n";
        return Ok();
      }
      for (const auto& [folder, who] : r.items())
        for (const auto& [u, a] : who.items()) std::cout << "Public/" << folder << "\t" << u << "\t" << a.get<std::string>() << "\n";
      return Ok();
    });
  });
}

}  // namespace mx::storecli
