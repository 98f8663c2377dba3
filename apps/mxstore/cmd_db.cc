// mxstore db list|create|mount|dismount|status|set|check|header|logs
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "app.h"
#include "commands.h"
#include "store/db/database.h"
#include "store/db/store.h"
#include "store/log/wal.h"
#include "common/clock.h"
#include "common/fs.h"
#include "store_server/admin/admin_service.h"

namespace mx::storecli {
namespace {

using nlohmann::json;

/// A request to the daemon, or `offline` when no daemon answers.
Result<json> CallOrOffline(const StoreConfig& cfg, const json& req,
                           const std::function<Result<json>()>& offline) {
  auto r = AdminCall(cfg, req);
  if (r.ok() || r.error().code() != Code::kDaemonUnreachable || !offline) return r;
  return offline();
}

std::string DbDir(const StoreConfig& cfg, const std::string& name) {
  return store::Store::DatabaseDirIn(cfg.data_dir, name);
}

void PrintHeader(const json& h) {
  auto range = h.value("log_range", json::object());
  std::printf("database:            %s\n", h.value("name", "").c_str());
  std::printf("identity:            %s\n", h.value("identity", "").c_str());
  std::printf("created:             %s\n", h.value("created", "").c_str());
  std::printf("state:               %s\n", h.value("state", "").c_str());
  std::printf("shutdown:            %s\n", h.value("state", "") == "mounted"
                                                 ? "dirty while mounted (clean after dismount)"
                                                 : (h.value("clean_shutdown", true) ? "clean" : "dirty"));
  std::printf("last mount:          %s\n",
              h.value("last_mount_recovered", false) ? "recovered from a dirty shutdown" : "clean");
  std::printf("circular logging:    %s\n", h.value("circular_logging", false) ? "on" : "off");
  std::printf("log chain:           %s (from log %llu)\n", h.value("log_chain", "").c_str(),
              (unsigned long long)h.value("chain_first_log", 0ull));
  std::printf("log range:           logs %llu..%llu, sequences %llu..%llu\n",
              (unsigned long long)range.value("oldest_log", 0ull), (unsigned long long)range.value("newest_log", 0ull),
              (unsigned long long)range.value("oldest_seq", 0ull), (unsigned long long)range.value("newest_seq", 0ull));
  auto backup = [](const json& b) {
    if (b.is_null()) return std::string("none");
    return b.value("time", "") + " (log " + std::to_string(b.value("log_number", 0ull)) + ", seq " +
           std::to_string(b.value("sequence", 0ull)) + ")";
  };
  std::printf("last full backup:    %s\n", backup(h.value("last_full_backup", json())).c_str());
  std::printf("last incremental:    %s\n", backup(h.value("last_incremental_backup", json())).c_str());
  std::printf("checksums:           %s\n", h.value("checksums", "").c_str());
}

}  // namespace

void RegisterDb(CLI::App& app, Globals& g) {
  auto* db = app.add_subcommand("db", "mailbox databases: list, create, mount, dismount, status, set, check, header, logs");
  db->require_subcommand(1);
  static std::string name;
  static std::string circular;

  db->add_subcommand("list", "list the databases")->callback([&g] {
    RunWithConfig(g, [&](const StoreConfig& cfg) -> Status {
      json r = MX_TRY(AdminCall(cfg, {{"cmd", "db.list"}}));
      if (g.json) {
        std::cout << r.dump(2) << "\n";
        return Ok();
      }
      std::printf("%-16s %-11s %-9s %-10s %9s  %s\n", "DATABASE", "STATE", "SHUTDOWN", "CIRCULAR", "MAILBOXES", "LOGS");
      for (const auto& d : r) {
        const auto& h = d["header"];
        auto range = h.value("log_range", json::object());
        std::printf("%-16s %-11s %-9s %-10s %9llu  %llu..%llu\n", d.value("name", "").c_str(),
                    d.value("mounted", false) ? "mounted" : "dismounted",
                    d.value("mounted", false) ? "-" : (h.value("clean_shutdown", true) ? "clean" : "dirty"),
                    h.value("circular_logging", false) ? "on" : "off",
                    (unsigned long long)d.value("mailboxes", 0ull),
                    (unsigned long long)range.value("oldest_log", 0ull),
                    (unsigned long long)range.value("newest_log", 0ull));
      }
      return Ok();
    });
  });

  auto* create = db->add_subcommand("create", "create and mount a database");
  create->add_option("NAME", name)->required();
  static bool create_circular = false;
  create->add_flag("--circular-logging", create_circular, "delete obsolete logs at once (no incremental backups)");
  create->callback([&g] {
    RunWithConfig(g, [&](const StoreConfig& cfg) -> Status {
      (void)MX_TRY(AdminCall(cfg, {{"cmd", "db.create"}, {"name", name}, {"circular_logging", create_circular}}));
      std::cout << "created and mounted database " << name << "\n";
      return Ok();
    });
  });

  for (const char* verb : {"mount", "dismount"}) {
    auto* c = db->add_subcommand(verb, std::string(verb) + " a database");
    c->add_option("NAME", name)->required();
    std::string v = verb;
    c->callback([&g, v] {
      RunWithConfig(g, [&](const StoreConfig& cfg) -> Status {
        (void)MX_TRY(AdminCall(cfg, {{"cmd", "db." + v}, {"name", name}}));
        std::cout << v << "ed database " << name << "\n";
        return Ok();
      });
    });
  }

  auto* set = db->add_subcommand("set", "change a database setting");
  set->add_option("NAME", name)->required();
  set->add_option("--circular-logging", circular, "on|off")->required()->check(CLI::IsMember({"on", "off"}));
  set->callback([&g] {
    RunWithConfig(g, [&](const StoreConfig& cfg) -> Status {
      (void)MX_TRY(AdminCall(cfg, {{"cmd", "db.set"}, {"name", name}, {"circular_logging", circular == "on"}}));
      std::cout << "database " << name << ": circular logging " << circular << "; a new log chain started\n";
      return Ok();
    });
  });

  for (const char* verb : {"status", "header"}) {
    auto* c = db->add_subcommand(verb, "print the database header (works without the daemon)");
    c->add_option("NAME", name)->required();
    c->callback([&g] {
      RunWithConfig(g, [&](const StoreConfig& cfg) -> Status {
        json h = MX_TRY(CallOrOffline(cfg, {{"cmd", "db.header"}, {"name", name}}, [&]() -> Result<json> {
          auto hh = MX_TRY(store::DatabaseHeader::Load(DbDir(cfg, name)));
          return hh.ToJson();
        }));
        if (g.json) std::cout << h.dump(2) << "\n";
        else PrintHeader(h);
        return Ok();
      });
    });
  }

  auto* logs = db->add_subcommand("logs", "list the transaction logs with their sequence ranges");
  logs->add_option("NAME", name)->required();
  logs->callback([&g] {
    RunWithConfig(g, [&](const StoreConfig& cfg) -> Status {
      json r = MX_TRY(CallOrOffline(cfg, {{"cmd", "db.logs"}, {"name", name}}, [&]() -> Result<json> {
        (void)MX_TRY(store::DatabaseHeader::Load(DbDir(cfg, name)));
        auto l = MX_TRY(store::ListWalFiles(DbDir(cfg, name) + "/rocksdb"));
        return admin::LogsToJson(l);
      }));
      if (g.json) {
        std::cout << r.dump(2) << "\n";
      } else {
        std::printf("%-10s %-9s %12s %8s %12s %12s  %s\n", "LOG", "WHERE", "BYTES", "BATCHES", "FIRST SEQ", "LAST SEQ", "STATE");
        for (const auto& l : r["logs"]) {
          std::string state = l.value("damage", "");
          if (state.empty()) state = l.value("torn_tail", false) ? "ok (torn tail)" : "ok";
          std::printf("%-10llu %-9s %12llu %8llu %12llu %12llu  %s\n",
                      (unsigned long long)l.value("number", 0ull), l.value("archived", false) ? "archive" : "live",
                      (unsigned long long)l.value("size", 0ull), (unsigned long long)l.value("batches", 0ull),
                      (unsigned long long)l.value("first_seq", 0ull), (unsigned long long)l.value("last_seq", 0ull),
                      state.c_str());
        }
        std::string gap = r.value("gap", "");
        std::printf("chain: %s\n", gap.empty() ? "contiguous" : ("BROKEN: " + gap).c_str());
      }
      std::string gap = r.value("gap", "");
      if (!gap.empty())
        return Error(Code::kLogChainBroken, "the log chain has a gap", name, gap);
      return Ok();
    });
  });

  auto* recover = db->add_subcommand("recover", "replay a restored database's logs and leave it clean (no daemon needed)");
  static std::string rdir, until, roll_from, rname;
  recover->add_option("DIR", rdir, "directory `mxvault restore` wrote (with restore-manifest.json)")->required();
  recover->add_option("--until", until, "stop at this sequence number, or before the first commit after this RFC 3339 time");
  recover->add_option("--roll-forward-from", roll_from,
                      "the live database's directory (DATA/databases/NAME): replay its surviving logs too, so nothing "
                      "committed after the backup is lost");
  recover->add_option("--name", rname, "database name for the header (default: the backed-up database's)");
  recover->callback([&g] {
    g.exit_code = 0;
    Status s = [&]() -> Status {
      std::string dir = std::filesystem::absolute(rdir).lexically_normal().string();
      Bytes raw = MX_TRY(ReadFile(dir + "/restore-manifest.json"));
      json m;
      try {
        m = json::parse(raw.begin(), raw.end());
      } catch (const std::exception& e) {
        return Error(Code::kBadFormat, "cannot parse the restore manifest", dir + "/restore-manifest.json", e.what(),
                     "restore the snapshot again with `mxvault restore`");
      }
      store::RecoverOptions o;
      o.identity = m.value("database_identity", "");
      o.expect_seq = m.value("sequence", 0ull);
      o.name = rname.empty() ? m.value("database", "") : rname;
      o.roll_forward_from = roll_from;
      o.roll_forward_from_log = m.value("newest_log", 0ull);
      if (!until.empty()) {
        if (until.find_first_not_of("0123456789") == std::string::npos) {
          o.until_seq = std::stoull(until);
        } else {
          auto t = ParseRfc3339(until);
          if (!t)
            return Error(Code::kUsage, "cannot read --until", until, "neither a sequence number nor an RFC 3339 time",
                         "e.g. --until 12345 or --until 2026-11-23T10:00:00Z");
          o.until_time_us = t->sec * 1000000 + t->nsec / 1000;
        }
        o.expect_seq = 0;
      }
      auto r = MX_TRY(store::Database::Recover(dir, o));
      if (g.json) {
        std::cout << json({{"sequence", r.sequence}, {"batches", r.batches}, {"logs", r.logs},
                           {"logs_rolled_forward", r.logs_rolled_forward}, {"stopped_early", r.stopped_early},
                           {"last_commit_us", r.last_commit_us}})
                         .dump(2)
                  << "\n";
      } else {
        std::cout << "recovered " << dir << ": replayed " << r.batches << " commits from " << r.logs << " log(s)";
        if (r.logs_rolled_forward) std::cout << " (" << r.logs_rolled_forward << " rolled forward from the live store)";
        std::cout << "; now at sequence " << r.sequence << (r.stopped_early ? " (stopped at --until)" : "")
                  << "; clean and dismounted\n";
        std::cout << "next: mxstore db attach " << dir << " --as NAME\n";
      }
      return Ok();
    }();
    if (!s.ok()) g.exit_code = Fail(s.error());
  });

  auto* attach = db->add_subcommand("attach", "move a recovered database into the store under a new name and mount it");
  static std::string adir, as;
  attach->add_option("DIR", adir, "a recovered database directory on the store's file system")->required();
  attach->add_option("--as", as, "its name in the store")->required();
  // Every attached database is a recovery database (it receives no mail, no
  // user logs into it); the flag says so for readers of scripts and runbooks.
  static bool recovery = false;
  attach->add_flag("--recovery", recovery, "mount it as a recovery database (always the case; the flag documents it)");
  attach->callback([&g] {
    RunWithConfig(g, [&](const StoreConfig& cfg) -> Status {
      std::string dir = std::filesystem::absolute(adir).lexically_normal().string();
      (void)MX_TRY(CallOrOffline(cfg, {{"cmd", "db.attach"}, {"dir", dir}, {"name", as}}, [&]() -> Result<json> {
        auto store = MX_TRY(store::Store::Open(cfg.ToStoreOptions()));
        Status s = store->AttachDatabase(dir, as);
        store->Shutdown();
        if (!s.ok()) return s.error();
        return json();
      }));
      std::cout << "attached " << dir << " as recovery database " << as
                << " (mounted; it receives no mail and no user sees it; copy messages back with"
                << " `mxstore mailbox restore MAILBOX --from-database " << as << "`)\n";
      return Ok();
    });
  });

  auto* check = db->add_subcommand("check", "verify every table, blob and log file checksum");
  check->add_option("NAME", name)->required();
  check->callback([&g] {
    RunWithConfig(g, [&](const StoreConfig& cfg) -> Status {
      json r = MX_TRY(CallOrOffline(cfg, {{"cmd", "db.check"}, {"name", name}}, [&]() -> Result<json> {
        auto d = MX_TRY(store::Database::CheckOffline(DbDir(cfg, name)));
        return json(d);
      }));
      if (g.json) std::cout << json({{"database", name}, {"damaged", r}}).dump(2) << "\n";
      else
        for (const auto& line : r) std::cout << "DAMAGED " << line.get<std::string>() << "\n";
      if (!r.empty())
        return Error(Code::kStoreCorrupt, "database check failed", name,
                     std::to_string(r.size()) + " damaged file(s) listed above");
      if (!g.json) std::cout << "database " << name << ": every table, blob and log file checks out\n";
      return Ok();
    });
  });
}

}  // namespace mx::storecli
