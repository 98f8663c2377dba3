// mxstore mailbox create|list|delete|move-to-database|export|restore
#include <ctime>
#include <iomanip>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "app.h"
#include "commands.h"

namespace mx::storecli {
namespace {
using nlohmann::json;

// "2026-11-24" as the Unix time of its midnight, UTC.
Result<int64_t> ParseDay(const std::string& text, const char* option) {
  std::tm tm{};
  std::istringstream in(text);
  in >> std::get_time(&tm, "%Y-%m-%d");
  if (in.fail() || !in.eof())
    return Error(Code::kUsage, std::string("invalid ") + option, text, "not a date", "write it as YYYY-MM-DD (UTC)");
  return int64_t(timegm(&tm));
}

Result<std::vector<uint32_t>> ParseUids(const std::string& text) {
  std::vector<uint32_t> out;
  std::istringstream in(text);
  std::string part;
  while (std::getline(in, part, ',')) {
    try {
      size_t used = 0;
      unsigned long v = std::stoul(part, &used);
      if (used != part.size() || v == 0 || v > 0xFFFFFFFFul) throw std::invalid_argument(part);
      out.push_back(uint32_t(v));
    } catch (const std::exception&) {
      return Error(Code::kUsage, "invalid --uid", text, "'" + part + "' is not a UID", "list UIDs as N,N,N");
    }
  }
  return out;
}
}  // namespace

void RegisterMailbox(CLI::App& app, Globals& g) {
  auto* mb = app.add_subcommand("mailbox", "mailboxes: create, list, delete, move-to-database, export, restore");
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

  auto* rs = mb->add_subcommand("restore", "copy messages of a mailbox from a recovery database back into a live mailbox");
  static std::string r_db, r_folder, r_uids, r_since, r_before, r_from, r_subject, r_to, r_into;
  static bool r_dry = false;
  rs->add_option("MAILBOX", name, "the mailbox in the recovery database")->required();
  rs->add_option("--from-database", r_db, "the recovery database (`mxstore db attach DIR --as NAME --recovery`)")->required();
  rs->add_option("--folder", r_folder, "only this folder and its subfolders");
  rs->add_option("--uid", r_uids, "only these UIDs of the recovery database's copy (N,N,...)");
  rs->add_option("--since", r_since, "only messages with an internal date on or after this day (YYYY-MM-DD, UTC)");
  rs->add_option("--before", r_before, "only messages with an internal date before this day (YYYY-MM-DD, UTC)");
  rs->add_option("--from", r_from, "only messages whose From header contains this text (any case)");
  rs->add_option("--subject", r_subject, "only messages whose Subject header contains this text (any case)");
  rs->add_option("--to", r_to, "copy into this live mailbox instead of the same one");
  rs->add_option("--into", r_into, "copy under this folder (keeping the folder tree) instead of the same folders");
  rs->add_flag("--dry-run", r_dry, "only show what would be copied");
  rs->callback([&g] {
    RunWithConfig(g, [&](const StoreConfig& cfg) -> Status {
      store::ItemRestoreOptions o;
      o.mailbox = name;
      o.from_database = r_db;
      o.to_mailbox = r_to;
      o.into_folder = r_into;
      o.filter.folder = r_folder;
      if (!r_uids.empty()) o.filter.uids = MX_TRY(ParseUids(r_uids));
      if (!r_since.empty()) o.filter.since = MX_TRY(ParseDay(r_since, "--since"));
      if (!r_before.empty()) o.filter.before = MX_TRY(ParseDay(r_before, "--before"));
      o.filter.from = r_from;
      o.filter.subject = r_subject;
      o.dry_run = r_dry;
      json req = store::ToJson(o);
      req["cmd"] = "mailbox.restore";
      auto call = AdminCall(cfg, req);
      json r;
      if (call.ok()) {
        r = *call;
      } else if (call.error().code() == Code::kDaemonUnreachable) {
        auto store = MX_TRY(store::Store::Open(cfg.ToStoreOptions()));
        auto rep = store->RestoreItems(o);
        store->Shutdown();
        if (!rep.ok()) return std::move(rep).error();
        r = store::ToJson(*rep);
      } else {
        return std::move(call).error();
      }
      if (g.json) {
        std::cout << r.dump() << "\n";
        return Ok();
      }
      for (const auto& i : r["items"])
        std::cout << (i["already_there"].get<bool>() ? "already there  " : r_dry ? "would restore  " : "restored       ")
                  << i["source_folder"].get<std::string>() << "/" << i["source_uid"] << " -> "
                  << i["folder"].get<std::string>() << (i["uid"].get<uint32_t>() ? "/" + std::to_string(i["uid"].get<uint32_t>()) : "")
                  << "  " << i["size"] << " bytes  " << i["subject"].get<std::string>() << "\n";
      for (const auto& f : r["folders_created"]) std::cout << "created folder " << f.get<std::string>() << "\n";
      std::cout << (r_dry ? "would restore " : "restored ") << r["restored"] << " messages (" << r["bytes"]
                << " bytes) into " << (r_to.empty() ? name : r_to) << "; " << r["skipped"] << " already there\n";
      return Ok();
    });
  });
}

}  // namespace mx::storecli
