// The jobs part of mxvault's configuration file (docs/jobs.md): named
// repositories, sources (an mxstore database, an [[imap_account]], directory
// trees) and jobs that back a source up into a repository on a schedule, with
// a retention policy and a command to run on failure. Load() validates
// everything (references, calendar expressions, backup types) and names the
// file, line and column of each mistake. Immutable after Load.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/error.h"
#include "vault/jobs/calendar.h"

namespace mx::vault {

struct RepositoryDef {
  std::string name;
  std::string location;  // a path, local:PATH or s3:...
  std::string password_file, password_command;
  std::vector<std::string> options;  // -o KEY=VALUE
  std::string where;                 // file:line:column of its table
};

struct SourceDef {
  enum class Kind { kStore, kImap, kDirectory } kind = Kind::kDirectory;
  std::string name;
  // kStore
  std::string store;  // store://HOST:PORT/DB or unix:///PATH/DB
  std::string token_file, ca_file, cert_file, key_file, method;
  bool no_tls = false;
  uint64_t limit_download_kib = 0;
  // kImap: the url or account name of an [[imap_account]] table
  std::string imap_account;
  // kDirectory
  std::vector<std::string> paths, exclude;
  std::string host;  // snapshot host name ("" = this host)
  std::string where;
  const char* KindName() const;
};

struct ScheduleEntry {
  CalendarSpec calendar;
  std::string type;  // store sources: full, incremental, differential, copy
};

struct RetentionDef {
  /// The `forget` options the policy stands for ("--keep-daily", "7", ...);
  /// empty = no retention.
  std::vector<std::string> forget_args;
  bool prune = false;
  std::string max_unused;  // prune's --max-unused ("" = its default)
  /// How long forget waits for backups of other jobs to release the
  /// repository (forget and prune need it exclusively): --retry-lock.
  std::string lock_wait = "30m";
  bool Any() const { return !forget_args.empty(); }
};

struct JobDef {
  std::string name, source, repository;
  std::vector<ScheduleEntry> schedule;
  std::string type;  // default backup type for `run` (store sources)
  RetentionDef retention;
  std::string on_failure;
  std::string where;
  /// The tag every snapshot of this job carries ("job:NAME"); retention
  /// applies to these snapshots only.
  std::string Tag() const { return "job:" + name; }
};

struct JobsConfig {
  std::string path;
  std::string state_dir = "/var/lib/mxvault";
  std::string metrics_file;
  std::vector<RepositoryDef> repositories;
  std::vector<SourceDef> sources;
  std::vector<JobDef> jobs;

  /// Parses and validates `path`. Errors: CONFIG with file:line:column.
  static Result<JobsConfig> Load(const std::string& path);
  /// Errors: USAGE naming the jobs that exist.
  Result<const JobDef*> FindJob(const std::string& name) const;
  const SourceDef& SourceOf(const JobDef& job) const;
  const RepositoryDef& RepositoryOf(const JobDef& job) const;
  std::string HistoryPath() const { return state_dir + "/history.db"; }
};

}  // namespace mx::vault
