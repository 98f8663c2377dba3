// mxstore user add|passwd|remove|list
#include <iostream>

#include "app.h"
#include "commands.h"
#include "common/fs.h"

namespace mx::storecli {
namespace {
using nlohmann::json;

Result<std::string> ReadPassword(const std::string& file) {
  if (file.empty())
    return Error(Code::kUsage, "no password given", "user", "--password-file is required",
                 "write the password to a file readable only by you and pass --password-file FILE");
  Bytes raw = MX_TRY(ReadFile(file));
  std::string p(raw.begin(), raw.end());
  while (!p.empty() && (p.back() == '\n' || p.back() == '\r')) p.pop_back();
  if (p.empty()) return Error(Code::kUsage, "empty password", file, "the file holds no password");
  return p;
}
}  // namespace

void RegisterUser(CLI::App& app, Globals& g) {
  auto* u = app.add_subcommand("user", "login users: add, passwd, remove, list");
  u->require_subcommand(1);
  static std::string name, password_file;
  for (const char* verb : {"add", "passwd"}) {
    auto* c = u->add_subcommand(verb, std::string(verb) == "add" ? "add a user" : "change a user's password");
    c->add_option("USER", name)->required();
    c->add_option("--password-file", password_file, "file holding the password");
    std::string v = verb;
    c->callback([&g, v] {
      RunWithConfig(g, [&](const StoreConfig& cfg) -> Status {
        std::string pw = MX_TRY(ReadPassword(password_file));
        (void)MX_TRY(AdminCall(cfg, {{"cmd", "user." + v}, {"name", name}, {"password", pw}}));
        std::cout << (v == "add" ? "added user " : "changed the password of ") << name << "\n";
        return Ok();
      });
    });
  }
  auto* rm = u->add_subcommand("remove", "remove a user (the mailbox stays)");
  rm->add_option("USER", name)->required();
  rm->callback([&g] {
    RunWithConfig(g, [&](const StoreConfig& cfg) -> Status {
      (void)MX_TRY(AdminCall(cfg, {{"cmd", "user.remove"}, {"name", name}}));
      std::cout << "removed user " << name << "\n";
      return Ok();
    });
  });
  u->add_subcommand("list", "list users")->callback([&g] {
    RunWithConfig(g, [&](const StoreConfig& cfg) -> Status {
      json r = MX_TRY(AdminCall(cfg, {{"cmd", "user.list"}}));
      if (g.json) std::cout << r.dump(2) << "\n";
      else
        for (const auto& n : r) std::cout << n.get<std::string>() << "\n";
      return Ok();
    });
  });
}

}  // namespace mx::storecli
