// Store-level commands: `backup store://...`, `writers`, `precheck`.
#include <sys/stat.h>

#include <cstdio>
#include <thread>
#include <nlohmann/json.hpp>

#include "app.h"
#include "common/bytes.h"
#include "common/fs.h"
#include "repo/blob_saver.h"
#include "vault/source/store/store_backup.h"

namespace mx::app {
namespace pb = mx::backup::v1;

void AddStoreClientOptions(CLI::App* cmd, StoreClientArgs& a) {
  cmd->add_option("--token-file", a.token_file, "file holding the store's backup token (or MXVAULT_STORE_TOKEN_FILE)");
  cmd->add_option("--ca-file", a.ca_file, "PEM CA that signed the store's TLS certificate");
  cmd->add_option("--cert-file", a.cert_file, "PEM client certificate, when the store asks for one");
  cmd->add_option("--key-file", a.key_file, "PEM key of the client certificate");
  cmd->add_flag("--no-tls", a.no_tls, "connect over TCP without TLS (mxstore refuses it; for diagnosis)");
  cmd->add_option("--keepalive", a.keepalive, "seconds between keepalive pings; a silent store is dropped after about twice this")
      ->check(CLI::Range(1, 3600));
}

Result<vault::ClientOptions> MakeClientOptions(const StoreClientArgs& a) {
  vault::ClientOptions o;
  std::string tf = a.token_file;
  if (tf.empty())
    if (const char* e = getenv("MXVAULT_STORE_TOKEN_FILE"); e && *e) tf = e;
  if (tf.empty())
    return Error(Code::kUsage, "no backup token", "--token-file", "the store authenticates every backup client",
                 "pass --token-file FILE with a token from the store's backup.token_file");
  Bytes raw = MX_TRY(mx::ReadFile(tf));
  std::string t(raw.begin(), raw.end());
  t = t.substr(0, t.find('\n'));
  while (!t.empty() && (t.back() == '\r' || t.back() == ' ')) t.pop_back();
  if (t.empty()) return Error(Code::kUsage, "the token file is empty", tf, "", "write the token on its first line");
  o.token = t;
  o.ca_file = a.ca_file;
  o.cert_file = a.cert_file;
  o.key_file = a.key_file;
  o.no_tls = a.no_tls;
  o.keepalive_seconds = a.keepalive;
  return o;
}

Status RunStoreBackup(Globals& g, const std::string& address, const StoreClientArgs& ca, const std::string& type,
                      const std::string& method, const std::vector<std::string>& tags, const std::string& host) {
  auto addr = MX_TRY(vault::ParseStoreAddress(address, true));
  auto copts = MX_TRY(MakeClientOptions(ca));
  auto repo = MX_TRY(OpenRepository(g, /*load_index=*/true));
  auto lock = MX_TRY(Lock(g, *repo, /*exclusive=*/false));
  auto client = MX_TRY(vault::StoreClient::Connect(addr, copts));
  vault::StoreBackupOptions o;
  o.type = type;
  o.method = method;
  o.tags = tags;
  o.hostname = host;
  o.program_version = "mxvault 0.1.0";
  o.limit_bytes_per_second = ca.limit_kib * 1024;
  vault::StoreBackupProgress progress;
  Result<vault::StoreBackupSummary> res = Error(Code::kInternal, "", "", "");
  {
    ProgressLine line(ShowProgress(g), [&](double el) {
      uint64_t b = progress.bytes_done, total = progress.bytes_total;
      double rate = el > 0 ? double(b) / el : 0;
      return "[" + FormatDuration(el) + "] " + std::to_string(progress.files_done) + "/" +
             std::to_string(progress.files_total) + " files " + HumanBytes(b) + "/" + HumanBytes(total) + ", " +
             HumanBytes(uint64_t(rate)) + "/s";
    });
    res = vault::BackupStore(*repo, *client, o, &progress);
  }
  if (!res.ok()) return std::move(res).error();
  const auto& s = *res;
  if (g.json) {
    nlohmann::json j = {{"message_type", "summary"}, {"snapshot_id", s.snapshot_id.Hex()}, {"session", s.session},
                        {"type", s.type}, {"method", s.method}, {"files", s.files}, {"bytes", s.bytes},
                        {"data_added", s.data_added}, {"data_added_packed", s.data_added_packed},
                        {"first_log", s.first_log}, {"newest_log", s.newest_log}, {"first_seq", s.first_seq},
                        {"sequence", s.sequence}, {"commits_blocked_us", s.commits_blocked_us},
                        {"logs_truncated", s.logs_truncated}, {"total_duration", s.seconds}};
    printf("%s\n", j.dump().c_str());
  } else if (!g.quiet) {
    printf("%s %s backup of %s: %llu files, %s in %s (%s/s)\n", s.type.c_str(), s.method.c_str(), addr.text.c_str(),
           (unsigned long long)s.files, HumanBytes(s.bytes).c_str(), FormatDuration(s.seconds).c_str(),
           HumanBytes(s.seconds > 0 ? uint64_t(double(s.bytes) / s.seconds) : 0).c_str());
    printf("logs %llu..%llu, sequences %llu..%llu; commits blocked %.3f ms; %llu archived log(s) truncated\n",
           (unsigned long long)s.first_log, (unsigned long long)s.newest_log, (unsigned long long)s.first_seq,
           (unsigned long long)s.sequence, double(s.commits_blocked_us) / 1000.0, (unsigned long long)s.logs_truncated);
    printf("Added to the repository: %s (%s stored)\n", HumanBytes(s.data_added).c_str(),
           HumanBytes(s.data_added_packed).c_str());
    printf("snapshot %s saved\n", s.snapshot_id.Short().c_str());
  }
  return Ok();
}

namespace {

std::string RecordText(const pb::BackupRecord& r) {
  if (r.session().empty()) return "none";
  return r.time() + " (log " + std::to_string(r.log_number()) + ", seq " + std::to_string(r.sequence()) + ")";
}

Status RunWriters(Globals& g, const std::string& address, const StoreClientArgs& ca) {
  auto addr = MX_TRY(vault::ParseStoreAddress(address, false));
  auto copts = MX_TRY(MakeClientOptions(ca));
  auto client = MX_TRY(vault::StoreClient::Connect(addr, copts));
  auto reply = MX_TRY(client->ListWriters());
  if (g.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& w : reply.writers()) {
      nlohmann::json j = {{"database", w.database()}, {"state", w.state()}, {"failed_step", w.failed_step()},
                          {"last_error", w.last_error()}, {"mounted", w.mounted()},
                          {"circular_logging", w.circular_logging()},
                          {"last_full", vault::BackupRecordJson(w.last_full())}, {"last_incremental", vault::BackupRecordJson(w.last_incremental())},
                          {"last_differential", vault::BackupRecordJson(w.last_differential())}, {"last_copy", vault::BackupRecordJson(w.last_copy())}};
      if (w.has_holder())
        j["holder"] = {{"session", w.holder().session_id()}, {"client", w.holder().client()}, {"started", w.holder().started()}};
      out.push_back(j);
    }
    printf("%s\n", nlohmann::json({{"store_identity", reply.store_identity()}, {"writers", out}}).dump(2).c_str());
    return Ok();
  }
  printf("store %s (identity %s)\n", addr.Peer().c_str(), reply.store_identity().c_str());
  for (const auto& w : reply.writers()) {
    printf("\nWriter for database '%s'\n", w.database().c_str());
    printf("   State: %s%s\n", w.state().c_str(), w.failed_step().empty() ? "" : (" (at " + w.failed_step() + ")").c_str());
    printf("   Last error: %s\n", w.last_error().empty() ? "No error" : w.last_error().c_str());
    printf("   Mounted: %s; circular logging: %s\n", w.mounted() ? "yes" : "no", w.circular_logging() ? "on" : "off");
    if (w.has_holder())
      printf("   Session: %s from %s since %s\n", w.holder().session_id().c_str(), w.holder().client().c_str(),
             w.holder().started().c_str());
    printf("   Last full: %s\n", RecordText(w.last_full()).c_str());
    printf("   Last incremental: %s\n", RecordText(w.last_incremental()).c_str());
    printf("   Last differential: %s\n", RecordText(w.last_differential()).c_str());
    printf("   Last copy: %s\n", RecordText(w.last_copy()).c_str());
  }
  return Ok();
}

Status RunPrecheck(Globals& g, const std::string& address, const StoreClientArgs& ca, const std::string& type,
                   int hold_ms) {
  auto addr = MX_TRY(vault::ParseStoreAddress(address, true));
  auto copts = MX_TRY(MakeClientOptions(ca));
  auto client = MX_TRY(vault::StoreClient::Connect(addr, copts));
  nlohmann::json steps = nlohmann::json::array();
  auto record = [&](const std::string& name, bool ok, const std::string& detail) {
    steps.push_back({{"step", name}, {"ok", ok}, {"detail", detail}});
    if (!g.json) printf("%-30s %s%s%s\n", name.c_str(), ok ? "ok" : "FAILED", detail.empty() ? "" : ": ", detail.c_str());
  };
  auto passed = [&](const std::string& name, const std::string& detail) { record(name, true, detail); };
  // The first blocker ends the precheck: printed as a step, returned as the error.
  auto blocked = [&](const std::string& name, const Error& e) -> Status {
    record(name, false, e.Message());
    if (g.json) printf("%s\n", nlohmann::json({{"steps", steps}, {"ok", false}}).dump(2).c_str());
    return e;
  };
  // 1. connect and authenticate; the writer list gives mount and writer state.
  auto writers = client->ListWriters();
  if (!writers.ok()) return blocked("connect, authenticate", writers.error());
  passed("connect, authenticate", addr.Peer());
  const pb::WriterInfo* w = nullptr;
  for (const auto& x : writers->writers())
    if (x.database() == addr.database) w = &x;
  if (!w)
    return blocked("database exists",
                   Error(Code::kDatabaseNotFound, "no such database", addr.database,
                         "the store has no database of this name", "`mxvault writers` lists them"));
  if (!w->mounted())
    return blocked("database mounted",
                   Error(Code::kDatabaseNotMounted, "cannot back up the database", addr.database, "it is dismounted",
                         "mount it with `mxstore db mount " + addr.database + "`"));
  passed("database mounted", "");
  if (w->has_holder())
    return blocked("writer state",
                   Error(Code::kBackupInProgress, "a backup session holds the database", addr.database,
                         "state " + w->state() + ", session " + w->holder().session_id() + " from " +
                             w->holder().client() + " since " + w->holder().started(),
                         "wait for that session to end, then run the precheck again"));
  passed("writer state", w->state() + (w->last_error().empty() ? "" : " (last error: " + w->last_error() + ")"));

  // 2. the store's own checks for this type (circular logging, base, chain),
  //    free space, then a dry-run freeze and thaw.
  pb::BackupType t = MX_TRY(vault::ParseBackupType(type));
  vault::StoreSession session(*client);
  auto begin = session.Begin(addr.database, t, pb::SNAPSHOT, true);
  if (!begin.ok()) return blocked("circular logging, log chain", begin.error());
  const auto& base = begin->base();
  passed("circular logging, log chain",
         base.session().empty() ? "type " + type
                                : "base: session " + base.session() + ", log " + std::to_string(base.log_number()));
  const std::string& free_bytes = begin->database_dir_free();
  passed("free space for a checkpoint", free_bytes.empty() ? "unknown" : HumanBytes(std::stoull(free_bytes)) + " free");
  // The store caps any freeze at its own deadline, whatever is asked here.
  Status frozen = session.Freeze(hold_ms > 0 ? uint32_t(hold_ms) + 60000 : 2000);
  if (!frozen.ok()) return blocked("dry-run freeze and thaw", frozen.error());
  if (hold_ms > 0) {
    // A rehearsal of a slow snapshot: commits stay blocked this long (never
    // past the store's freeze deadline, after which it thaws by itself).
    if (!g.json) printf("frozen; holding for %d ms\n", hold_ms);
    fflush(stdout);
    std::this_thread::sleep_for(std::chrono::milliseconds(hold_ms));
  }
  auto held = session.Thaw();
  if (!held.ok()) return blocked("dry-run freeze and thaw", held.error());
  char held_text[64];
  std::snprintf(held_text, sizeof(held_text), "commits held %.3f ms", double(*held) / 1000.0);
  passed("dry-run freeze and thaw", held_text);
  (void)session.End(false);
  if (g.json) printf("%s\n", nlohmann::json({{"steps", steps}, {"ok", true}}).dump(2).c_str());
  else printf("precheck passed: a %s backup of %s can start\n", type.c_str(), addr.text.c_str());
  return Ok();
}

}  // namespace

void RegisterWriters(CLI::App& app, Globals& g, Command* run) {
  auto* cmd = app.add_subcommand("writers", "list the backup writers of an mxstore (state, last error, last backups)");
  static std::string address;
  static StoreClientArgs ca;
  cmd->add_option("store", address, "store://HOST[:PORT] or unix:///path/to/backup.sock")->required();
  AddStoreClientOptions(cmd, ca);
  cmd->callback([&g, run] { *run = [&g] { return RunWriters(g, address, ca); }; });
}

void RegisterPrecheck(CLI::App& app, Globals& g, Command* run) {
  auto* cmd = app.add_subcommand("precheck", "check that a store-level backup of a database can run, step by step");
  static std::string address, type = "full";
  static StoreClientArgs ca;
  static int hold_ms = 0;
  cmd->add_option("store", address, "store://HOST[:PORT]/DB or unix:///path/to/backup.sock/DB")->required();
  cmd->add_option("--freeze-hold", hold_ms, "keep the dry-run freeze this many milliseconds (rehearse a slow snapshot)")
      ->check(CLI::Range(0, 3600000));
  cmd->add_option("--type", type, "full, incremental, differential or copy")
      ->check(CLI::IsMember({"full", "incremental", "differential", "copy"}));
  AddStoreClientOptions(cmd, ca);
  cmd->callback([&g, run] { *run = [&g] { return RunPrecheck(g, address, ca, type, hold_ms); }; });
}

}  // namespace mx::app
