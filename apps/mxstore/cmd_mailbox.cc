// mxstore mailbox create|list|delete|move-to-database|export
#include <filesystem>
#include <iostream>

#include "app.h"
#include "commands.h"

namespace mx::storecli {
namespace {
using nlohmann::json;
}  // namespace

void RegisterMailbox(CLI::App& app, Globals& g) {
  auto* mb = app.add_subcommand("mailbox", "mailboxes: create, list, delete, move-to-database, export");
  mb->require_subcommand(1);
  static std::string name, database = "db01", target;

  auto* create = mb->add_subcommand("create", "create a mailbox (an address) in a database");
  create->add_option("MAILBOX", name)->required();
  create->add_option("--database", database, "database to place it in (default db01)");
  create->callback([&g] {
    RunWithConfig(g, [&](const StoreConfig& cfg) -> Status {
      (void)MX_TRY(AdminCall(cfg, {{"cmd", "mailbox.create"}, {"name", name}, {"database", database}}));
      std::cout << "created mailbox " << name << " in database " << database << "\n";
      return Ok();
    });
  });

  mb->add_subcommand("list", "list mailboxes and their databases")->callback([&g] {
    RunWithConfig(g, [&](const StoreConfig& cfg) -> Status {
      json r = MX_TRY(AdminCall(cfg, {{"cmd", "mailbox.list"}}));
      if (g.json) {
        std::cout << r.dump(2) << "\n";
        return Ok();
      }
      std::printf("%-40s %s\n", "MAILBOX", "DATABASE");
      for (const auto& m : r) std::printf("%-40s %s\n", m.value("name", "").c_str(), m.value("database", "").c_str());
      return Ok();
    });
  });

  auto* del = mb->add_subcommand("delete", "delete a mailbox and all its mail");
  del->add_option("MAILBOX", name)->required();
  del->callback([&g] {
    RunWithConfig(g, [&](const StoreConfig& cfg) -> Status {
      (void)MX_TRY(AdminCall(cfg, {{"cmd", "mailbox.delete"}, {"name", name}}));
      std::cout << "deleted mailbox " << name << "\n";
      return Ok();
    });
  });

  auto* move = mb->add_subcommand("move-to-database", "move a mailbox with its mail to another database");
  move->add_option("MAILBOX", name)->required();
  move->add_option("DATABASE", database)->required();
  move->callback([&g] {
    RunWithConfig(g, [&](const StoreConfig& cfg) -> Status {
      (void)MX_TRY(AdminCall(cfg, {{"cmd", "mailbox.move"}, {"name", name}, {"database", database}}));
      std::cout << "moved mailbox " << name << " to database " << database << "\n";
      return Ok();
    });
  });

  auto* exp = mb->add_subcommand("export", "write a mailbox as a Maildir (bytes as delivered, date as mtime)");
  exp->add_option("MAILBOX", name)->required();
  exp->add_option("--target", target, "new or empty directory")->required();
  static std::string export_db;
  exp->add_option("--database", export_db, "export from this database (e.g. a recovery database) instead of the mailbox's own");
  exp->callback([&g] {
    RunWithConfig(g, [&](const StoreConfig& cfg) -> Status {
      std::string abs = std::filesystem::absolute(target).lexically_normal().string();
      auto call = AdminCall(cfg, {{"cmd", "mailbox.export"}, {"name", name}, {"target", abs}, {"database", export_db}});
      json r;
      if (call.ok()) {
        r = *call;
      } else if (call.error().code() == Code::kDaemonUnreachable) {
        // No daemon: open the store here (its databases are not in use).
        auto store = MX_TRY(store::Store::Open(cfg.ToStoreOptions()));
        auto n = store->ExportMailbox(name, abs, export_db);
        store->Shutdown();
        if (!n.ok()) return std::move(n).error();
        r = {{"messages", *n}};
      } else {
        return std::move(call).error();
      }
      if (g.json) std::cout << json({{"mailbox", name}, {"target", abs}, {"messages", r["messages"]}}).dump() << "\n";
      else std::cout << "exported " << r["messages"] << " messages of " << name << " to " << abs << "\n";
      return Ok();
    });
  });
}

}  // namespace mx::storecli
