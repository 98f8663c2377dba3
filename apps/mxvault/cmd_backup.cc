#include <unistd.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "app.h"
#include "common/bytes.h"
#include "common/host.h"
#include "repo/blob_saver.h"
#include "vault/source/dir/dir_backup.h"

namespace mx::app {
namespace {
struct BackupArgs {
  std::vector<std::string> paths, excludes, tags;
  std::string host, parent, compression = "auto";
  bool force = false;
  std::string type = "full", method = "snapshot";
  StoreClientArgs store;
  ImapArgs imap;
  std::vector<std::string> include;
  std::string account;
  unsigned connections = 4;
  bool all_accounts = false;
  std::string config_account;
  unsigned parallel = 2;
};
}  // namespace

static Status RunBackup(Globals& g, BackupArgs& a) {
  if (a.all_accounts || !a.config_account.empty()) {
    if (!a.paths.empty())
      return Error(Code::kUsage, "--all-accounts and --config-account back up the configuration's accounts",
                   a.paths[0], "sources were given as well", "give either sources or one of those options");
    return RunAllImapAccounts(g, a.imap, a.tags, a.host, a.parallel, a.force, a.config_account);
  }
  if (a.paths.empty())
    return Error(Code::kUsage, "nothing to back up", "", "no source given",
                 "name directories, store://HOST/DB, imap://USER@HOST, or pass --all-accounts");
  bool imap_source = a.paths.size() == 1 && (a.paths[0].rfind("imap://", 0) == 0 || a.paths[0].rfind("imaps://", 0) == 0);
  if (imap_source)
    return RunImapBackup(g, a.paths[0], a.imap, a.store.ca_file, a.include, a.excludes, a.tags, a.host, a.account,
                         a.connections, a.force);
  bool store_source = a.paths.size() == 1 && (a.paths[0].rfind("store://", 0) == 0 || a.paths[0].rfind("unix://", 0) == 0);
  if (store_source) return RunStoreBackup(g, a.paths[0], a.store, a.type, a.method, a.tags, a.host);
  for (const auto& p : a.paths)
    if (p.rfind("store://", 0) == 0 || p.rfind("unix://", 0) == 0 || p.rfind("imap", 0) == 0)
      return Error(Code::kUsage, "a store address must be the only source", p, "one backup backs up one database",
                   "run one `mxvault backup` per database");
  auto repo = MX_TRY(OpenRepository(g, /*load_index=*/true));
  auto lock = MX_TRY(Lock(g, *repo, /*exclusive=*/false));
  if (a.compression == "off") repo->set_compression(repo::Compression::kOff);
  else if (a.compression == "max") repo->set_compression(repo::Compression::kMax);

  MX_CHECK(AdoptOrphansIfAlone(g, *repo, *lock));

  vault::BackupOptions opts;
  opts.paths = a.paths;
  opts.excludes = a.excludes;
  opts.tags = a.tags;
  if (a.host.empty()) a.host = Hostname();
  opts.hostname = a.host;
  opts.force = a.force;
  opts.program_version = "mxvault 0.1.0";
  if (!a.parent.empty()) {
    opts.parent = MX_TRY(repo->FindFile(repo::FileType::kSnapshot, a.parent));
  }
  bool show = ShowProgress(g);
  opts.count_totals = show;
  vault::BackupProgress progress;
  Result<vault::BackupSummary> res = Error(Code::kInternal, "", "", "");
  {
    ProgressLine line(show, [&](double el) {
      uint64_t bytes = progress.bytes_done, files = progress.files_done;
      double rate = el > 0 ? double(bytes) / el : 0;
      std::string s = "[" + FormatDuration(el) + "] " + std::to_string(files) + " files " +
                      HumanBytes(bytes) + ", " + HumanBytes(uint64_t(rate)) + "/s";
      if (progress.totals_known && progress.bytes_total > 0) {
        uint64_t total = progress.bytes_total;
        s += ", " + std::to_string(std::min<uint64_t>(100, bytes * 100 / total)) + "% of " +
             HumanBytes(total);
        if (rate > 0 && total > bytes) s += ", ETA " + FormatDuration(double(total - bytes) / rate);
      }
      if (progress.errors) s += ", " + std::to_string(progress.errors) + " errors";
      return s;
    });
    res = vault::Backup(*repo, opts, &progress);
  }
  if (!res.ok()) return std::move(res).error();
  const vault::BackupSummary& s = *res;
  if (g.json) {
    nlohmann::json j = {{"message_type", "summary"},
                        {"files_new", s.files_new},
                        {"files_changed", s.files_changed},
                        {"files_unmodified", s.files_unmodified},
                        {"dirs_new", s.dirs_new},
                        {"dirs_changed", s.dirs_changed},
                        {"dirs_unmodified", s.dirs_unmodified},
                        {"data_blobs", s.data_blobs},
                        {"tree_blobs", s.tree_blobs},
                        {"data_added", s.data_added},
                        {"data_added_packed", s.data_added_packed},
                        {"total_files_processed", s.total_files_processed},
                        {"total_bytes_processed", s.total_bytes_processed},
                        {"total_duration", s.seconds},
                        {"snapshot_id", s.snapshot_id.Hex()},
                        {"errors", s.file_errors.size()}};
    if (s.parent) j["parent"] = s.parent->Hex();
    printf("%s\n", j.dump().c_str());
  } else if (!g.quiet) {
    if (s.parent) printf("using parent snapshot %s\n", s.parent->Short().c_str());
    printf("Files:  %6llu new, %6llu changed, %6llu unmodified\n", (unsigned long long)s.files_new,
           (unsigned long long)s.files_changed, (unsigned long long)s.files_unmodified);
    printf("Dirs:   %6llu new, %6llu changed, %6llu unmodified\n", (unsigned long long)s.dirs_new,
           (unsigned long long)s.dirs_changed, (unsigned long long)s.dirs_unmodified);
    printf("Added to the repository: %s (%s stored)\n", HumanBytes(s.data_added).c_str(),
           HumanBytes(s.data_added_packed).c_str());
    double rate = s.seconds > 0 ? double(s.total_bytes_processed) / s.seconds : 0;
    printf("processed %llu files, %s in %s (%s/s)\n", (unsigned long long)s.total_files_processed,
           HumanBytes(s.total_bytes_processed).c_str(), FormatDuration(s.seconds).c_str(),
           HumanBytes(uint64_t(rate)).c_str());
    printf("snapshot %s saved\n", s.snapshot_id.Short().c_str());
  }
  if (!s.file_errors.empty()) {
    std::string cause = std::to_string(s.file_errors.size()) + " file(s) could not be read, first: " +
                        s.file_errors.front().Message();
    return Error(Code::kPartial, "incomplete snapshot", s.snapshot_id.Short(), cause);
  }
  return Ok();
}

void RegisterBackup(CLI::App& app, Globals& g, Command* run) {
  auto* cmd = app.add_subcommand("backup", "back up files and directories");
  static BackupArgs a;
  cmd->add_option("paths", a.paths, "files and directories to back up, or one store://HOST[:PORT]/DB, unix:///path/to/backup.sock/DB, imap://USER@HOST[:PORT] or imaps://USER@HOST[:PORT]");
  cmd->add_option("--type", a.type, "store backups: full, incremental, differential or copy")
      ->check(CLI::IsMember({"full", "incremental", "differential", "copy"}));
  cmd->add_option("--method", a.method, "store backups: snapshot (brief freeze, checkpoint) or streaming (no freeze)")
      ->check(CLI::IsMember({"snapshot", "streaming"}));
  AddStoreClientOptions(cmd, a.store);
  cmd->add_option("--limit-download", a.store.limit_kib, "store backups: read from the store at most this many KiB/s");
  cmd->add_option("-e,--exclude", a.excludes, "exclude names (no '/') or paths (with '/') matching this glob; IMAP: folders");
  AddImapOptions(cmd, a.imap, /*with_ca_file=*/false);
  cmd->add_option("--include", a.include, "IMAP: back up only folders matching this glob (repeatable; '/' separates levels)");
  cmd->add_option("--account", a.account, "IMAP: the account's name in the snapshot (default: the user name)");
  cmd->add_flag("--all-accounts", a.all_accounts,
                "IMAP: back up every [[imap_account]] of the configuration file (--config), each to its own snapshot");
  cmd->add_option("--config-account", a.config_account,
                  "IMAP: back up the [[imap_account]] of the configuration file with this url or account name");
  cmd->add_option("--parallel", a.parallel, "IMAP: accounts backed up at once with --all-accounts (default 2)")
      ->check(CLI::Range(1, 64));
  cmd->add_option("--connections", a.connections, "IMAP: connections to the server (default 4)")->check(CLI::Range(1, 32));
  cmd->add_option("--tag", a.tags, "add a tag to the snapshot (repeatable)");
  cmd->add_option("--host,-H", a.host, "host name to record (default: this host)");
  cmd->add_option("--parent", a.parent, "snapshot to compare with (default: newest with the same host and paths)");
  cmd->add_flag("-f,--force", a.force, "read every file, ignoring the parent snapshot");
  cmd->add_option("--compression", a.compression, "auto, off or max")
      ->check(CLI::IsMember({"auto", "off", "max"}));
  cmd->callback([&g, run] { *run = [&g] { return RunBackup(g, a); }; });
}

}  // namespace mx::app
