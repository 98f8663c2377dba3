// Runs one job: takes the job's source lock (the overlap rule), records the
// run in the history, runs the backup and then the retention policy as child
// mxvault processes (so a crash in one backup never takes the daemon or other
// jobs down, and each child dies with its parent: PR_SET_PDEATHSIG), reads
// their --json summaries and errors, records the result, runs the job's
// on_failure command and rewrites the metrics file. Thread-safe: the daemon
// runs several jobs at once from one JobRunner.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <set>
#include <string>

#include "vault/jobs/history.h"
#include "vault/jobs/job_config.h"

namespace mx::vault {

class JobRunner {
 public:
  /// `exe`: the mxvault binary the children run; `log`: one line per event.
  JobRunner(const JobsConfig& cfg, JobHistory& history, std::string exe,
            std::function<void(const std::string&)> log);

  /// Runs `job` now with backup `type` ("" = the job's default); `trigger` is
  /// "manual" or "schedule". Returns the recorded run (status SUCCESS,
  /// FAILED, NOT_STARTED or INTERRUPTED).
  JobRun Run(const JobDef& job, const std::string& type, const std::string& trigger);

  /// Stops every running child (SIGTERM); their runs end INTERRUPTED.
  void StopAll();
  /// Rewrites the metrics file (no-op without metrics_file).
  Status WriteMetrics();

 private:
  struct ChildResult {
    int exit_code = -1;
    std::string stdout_text;
    std::string error_code, error_message;  // from the child's exit_error line
  };
  ChildResult RunChild(const std::string& job, const std::vector<std::string>& args);
  std::vector<std::string> RepoArgs(const RepositoryDef& r) const;
  std::vector<std::string> BackupArgs(const JobDef& job, const SourceDef& s, const std::string& type) const;
  void RunOnFailure(const JobDef& job, const JobRun& run);

  const JobsConfig& cfg_;
  JobHistory& history_;
  std::string exe_;
  std::function<void(const std::string&)> log_;
  std::mutex mu_;
  std::set<int> children_;
  std::atomic<bool> stopping_{false};
  std::mutex metrics_mu_;
};

/// The node_exporter textfile metrics of every job in `cfg` (docs/jobs.md).
Result<std::string> RenderMetrics(const JobsConfig& cfg, const JobHistory& history);

}  // namespace mx::vault
