// Wiring shared by the mxvault subcommands: global options, opening the
// repository, passwords, the progress line, printing errors. Each
// cmd_<verb>.cc registers one subcommand; main.cc only dispatches.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "repo/lock.h"
#include "repo/prune.h"
#include "repo/repository.h"

namespace mx::app {

struct Globals {
  std::string repo;
  std::string password_file;
  std::string password_command;
  std::string config_file;
  std::string retry_lock;
  std::vector<std::string> options;  // -o key=value (s3.*, retry.*)
  bool json = false;
  bool quiet = false;
  int verbose = 0;
};

/// A subcommand's body: returns the process exit status via Status (OK → 0).
using Command = std::function<Status()>;

/// Fills unset globals from the environment and the config file.
Status ResolveGlobals(Globals& g);
/// Reads the password (file, command, environment, or a terminal prompt).
Result<std::string> ReadPassword(const Globals& g, bool confirm = false);
Result<std::string> ReadPasswordFile(const std::string& path);
/// The first line a shell command prints (password and token commands).
Result<std::string> RunPasswordCommand(const std::string& cmd);
Result<repo::BackendPtr> MakeBackend(const Globals& g);
/// Opens the repository named by the globals; `load_index` reads the index.
Result<std::unique_ptr<repo::Repository>> OpenRepository(const Globals& g, bool load_index);
/// Takes a lock honouring --retry-lock.
Result<std::unique_ptr<repo::RepoLock>> Lock(const Globals& g, repo::Repository& r, bool exclusive);

/// Indexes packs an interrupted backup left, so they are reused — only when no
/// other live process writes to the repository (its packs may be in flight).
Status AdoptOrphansIfAlone(const Globals& g, repo::Repository& r, repo::RepoLock& lock);

/// True when a live progress line should be drawn (stderr is a terminal).
bool ShowProgress(const Globals& g);

/// Redraws a one-line status on stderr every 250 ms until destroyed.
class ProgressLine {
 public:
  ProgressLine(bool enabled, std::function<std::string(double elapsed)> render);
  ~ProgressLine();

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
  bool enabled_;
};

std::string FormatDuration(double seconds);

void RegisterInit(CLI::App& app, Globals& g, Command* run);
void RegisterBackup(CLI::App& app, Globals& g, Command* run);
void RegisterSnapshots(CLI::App& app, Globals& g, Command* run);
void RegisterLs(CLI::App& app, Globals& g, Command* run);
void RegisterRestore(CLI::App& app, Globals& g, Command* run);
void RegisterCheck(CLI::App& app, Globals& g, Command* run);
void RegisterCat(CLI::App& app, Globals& g, Command* run);
void RegisterKey(CLI::App& app, Globals& g, Command* run);
void RegisterUnlock(CLI::App& app, Globals& g, Command* run);
void RegisterHelp(CLI::App& app, Globals& g, Command* run);
void RegisterWriters(CLI::App& app, Globals& g, Command* run);
void RegisterPrecheck(CLI::App& app, Globals& g, Command* run);
void RegisterMail(CLI::App& app, Globals& g, Command* run);
void RegisterForget(CLI::App& app, Globals& g, Command* run);
void RegisterPrune(CLI::App& app, Globals& g, Command* run);
/// run, daemon, history, status, calendar (cmd_jobs.cc).
void RegisterJobs(CLI::App& app, Globals& g, Command* run);

/// A snapshot as restic's --json prints it (cmd_snapshots.cc).
nlohmann::json SnapshotJson(const repo::Id& id, const repo::Snapshot& s);

/// Options of `prune` and `forget --prune` (cmd_prune.cc).
struct PruneArgs {
  std::string max_unused = "5%";
  std::string max_repack_size;
  bool dry_run = false;
};
void AddPruneOptions(CLI::App* cmd, PruneArgs& a);
/// Prunes `repo` (exclusively locked, index loaded) and prints the summary.
Status RunPrune(Globals& g, repo::Repository& repo, const PruneArgs& a);
/// Reads --max-unused and --max-repack-size into `o`.
Status ParsePruneLimits(const PruneArgs& a, repo::PruneOptions* o);
/// "500m", "2g", plain bytes.
Result<uint64_t> ParseSize(const std::string& s, const std::string& flag);

/// Options of the commands that talk to an mxstore backup service.
struct StoreClientArgs {
  std::string token_file, ca_file, cert_file, key_file;
  bool no_tls = false;
  int keepalive = 10;
  uint64_t limit_kib = 0;  // backup: --limit-download (KiB/s)
};
void AddStoreClientOptions(CLI::App* cmd, StoreClientArgs& a);
/// Options of the commands that talk to an IMAP server (cmd_mail.cc).
struct ImapArgs {
  std::string password_file, password_command, oauth_command, mechanism, ca_file;
  bool insecure_plaintext = false;
  int timeout = 60;
};
void AddImapOptions(CLI::App* cmd, ImapArgs& a, bool with_ca_file);
/// `backup imap://USER@HOST` (cmd_mail.cc).
Status RunImapBackup(Globals& g, const std::string& url, const ImapArgs& ia, const std::string& ca_file,
                     const std::vector<std::string>& include, const std::vector<std::string>& exclude,
                     const std::vector<std::string>& tags, const std::string& host, const std::string& account,
                     unsigned connections, bool force);
/// `backup --all-accounts`: every [[imap_account]] of the config file.
/// `only` (a url or account name) restricts it to that account.
Status RunAllImapAccounts(Globals& g, const ImapArgs& ia, const std::vector<std::string>& tags, const std::string& host,
                          unsigned parallel, bool force, const std::string& only = "");
/// `backup store://HOST/DB` (cmd_store.cc).
Status RunStoreBackup(Globals& g, const std::string& address, const StoreClientArgs& ca, const std::string& type,
                      const std::string& method, const std::vector<std::string>& tags, const std::string& host);

}  // namespace mx::app
