// The run history of backup jobs: one row per run in a local SQLite database
// (WAL mode, so `history` and `status` read while the daemon writes). A run
// is written RUNNING when it starts, with the pid and start time of the
// process that runs it; a RUNNING row whose process is gone was cut off by a
// crash, kill or restart and is turned INTERRUPTED by Sweep() — never
// SUCCESS. Thread-safe: one connection, serialised by a mutex; several
// processes may open the same file (SQLite locking, 10 s busy timeout).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"

struct sqlite3;

namespace mx::vault {

struct JobRun {
  int64_t id = 0;
  std::string job;
  std::string trigger;      // "schedule" or "manual"
  std::string backup_type;  // full, incremental, ... ("" for directory and IMAP sources)
  std::string status;       // RUNNING, SUCCESS, FAILED, NOT_STARTED, INTERRUPTED
  double started = 0;       // Unix seconds
  std::optional<double> ended;
  std::string error_code;   // FAILED / NOT_STARTED / INTERRUPTED
  std::string error_message;
  std::string snapshot_id;
  uint64_t files = 0;
  uint64_t bytes_read = 0;
  uint64_t bytes_added = 0;
  int64_t pid = 0;
  std::string host;

  double duration() const { return ended ? *ended - started : 0; }
};

class JobHistory {
 public:
  /// Opens (creating) the database at `path` and its directory.
  static Result<std::unique_ptr<JobHistory>> Open(const std::string& path);
  ~JobHistory();

  /// Records a run that starts now by this process; returns its id.
  Result<int64_t> Begin(const std::string& job, const std::string& trigger, const std::string& backup_type);
  /// Records the end of run `id` (its status, counters, error).
  Status Finish(const JobRun& run);
  /// Records a run that did not start (NOT_STARTED) with the reason.
  Result<int64_t> NotStarted(const std::string& job, const std::string& trigger, const std::string& backup_type,
                             const std::string& reason);
  /// Turns RUNNING rows of dead processes on this host INTERRUPTED; returns them.
  Result<std::vector<JobRun>> Sweep();
  /// Newest first; `job` empty = every job; `limit` 0 = all.
  Result<std::vector<JobRun>> List(const std::string& job, size_t limit) const;
  Result<std::optional<JobRun>> Last(const std::string& job) const;
  Result<std::optional<JobRun>> LastSuccess(const std::string& job) const;

  const std::string& path() const { return path_; }

 private:
  JobHistory() = default;
  Status Exec(const std::string& sql) const;
  Result<std::vector<JobRun>> Query(const std::string& where, const std::vector<std::string>& args,
                                    size_t limit) const;

  sqlite3* db_ = nullptr;
  std::string path_;
  mutable std::mutex mu_;
};

}  // namespace mx::vault
