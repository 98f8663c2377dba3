#include "vault/jobs/runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/fs.h"

namespace mx::vault {
namespace {

std::string LocalTime(double t) { return FormatLocal(Timestamp{int64_t(t), 0}); }

// The overlap rule: one flock(2) per source, held by the run backing it up.
// The kernel drops it when the holder dies, so a crash never leaves it held.
class SourceLock {
 public:
  ~SourceLock() {
    if (fd_ >= 0) close(fd_);  // releases the flock
  }
  // Takes the lock, or sets *holder to what the holder wrote and returns false.
  Result<bool> TryAcquire(const std::string& path, std::string* holder) {
    fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (fd_ < 0) return ErrnoError("cannot open the source lock", path, errno);
    if (flock(fd_, LOCK_EX | LOCK_NB) == 0) return true;
    int err = errno;
    if (err != EWOULDBLOCK) return ErrnoError("cannot lock the source", path, err);
    char buf[1024];
    ssize_t n = pread(fd_, buf, sizeof(buf), 0);
    *holder = n > 0 ? std::string(buf, size_t(n)) : "another run";
    close(fd_);
    fd_ = -1;
    return false;
  }
  void SetHolder(const std::string& text) {
    if (ftruncate(fd_, 0) == 0) (void)!pwrite(fd_, text.data(), text.size(), 0);
  }

 private:
  int fd_ = -1;
};

std::string EscapeLabel(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

}  // namespace

JobRunner::JobRunner(const JobsConfig& cfg, JobHistory& history, std::string exe,
                     std::function<void(const std::string&)> log)
    : cfg_(cfg), history_(history), exe_(std::move(exe)), log_(std::move(log)) {}

std::vector<std::string> JobRunner::RepoArgs(const RepositoryDef& r) const {
  std::vector<std::string> a = {"--json", "-r", r.location};
  if (!r.password_file.empty()) a.insert(a.end(), {"--password-file", r.password_file});
  else a.insert(a.end(), {"--password-command", r.password_command});
  for (const auto& o : r.options) a.insert(a.end(), {"-o", o});
  return a;
}

std::vector<std::string> JobRunner::BackupArgs(const JobDef& job, const SourceDef& s, const std::string& type) const {
  std::vector<std::string> a = RepoArgs(cfg_.RepositoryOf(job));
  switch (s.kind) {
    case SourceDef::Kind::kStore:
      a.insert(a.end(), {"backup", s.store, "--type", type, "--token-file", s.token_file});
      if (!s.method.empty()) a.insert(a.end(), {"--method", s.method});
      if (!s.ca_file.empty()) a.insert(a.end(), {"--ca-file", s.ca_file});
      if (!s.cert_file.empty()) a.insert(a.end(), {"--cert-file", s.cert_file});
      if (!s.key_file.empty()) a.insert(a.end(), {"--key-file", s.key_file});
      if (s.no_tls) a.push_back("--no-tls");
      if (s.limit_download_kib) a.insert(a.end(), {"--limit-download", std::to_string(s.limit_download_kib)});
      break;
    case SourceDef::Kind::kImap:
      // The account's settings stay in its [[imap_account]] table.
      a.insert(a.begin(), {"--config", cfg_.path});
      a.insert(a.end(), {"backup", "--config-account", s.imap_account});
      break;
    case SourceDef::Kind::kDirectory:
      a.push_back("backup");
      for (const auto& e : s.exclude) a.insert(a.end(), {"--exclude", e});
      a.push_back("--");
      a.insert(a.end(), s.paths.begin(), s.paths.end());
      break;
  }
  // Options go before "--" for directory sources.
  std::vector<std::string> extra = {"--tag", job.Tag()};
  if (!s.host.empty()) extra.insert(extra.end(), {"--host", s.host});
  auto pos = std::find(a.begin(), a.end(), "--");
  a.insert(pos, extra.begin(), extra.end());
  return a;
}

JobRunner::ChildResult JobRunner::RunChild(const std::string& job, const std::vector<std::string>& args) {
  ChildResult res;
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0) {
    res.error_code = "IO_ERROR";
    res.error_message = std::string("cannot create a pipe: ") + strerror(errno);
    return res;
  }
  if (pipe2(err, O_CLOEXEC) != 0) {
    close(out[0]);
    close(out[1]);
    res.error_code = "IO_ERROR";
    res.error_message = std::string("cannot create a pipe: ") + strerror(errno);
    return res;
  }
  std::vector<std::string> full = {exe_};
  full.insert(full.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : full) argv.push_back(s.data());
  argv.push_back(nullptr);
  pid_t parent = getpid();
  pid_t pid;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (stopping_) {
      close(out[0]), close(out[1]), close(err[0]), close(err[1]);
      res.exit_code = 130;
      return res;
    }
    pid = fork();
    if (pid == 0) {
      // Only async-signal-safe calls until exec.
      prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (getppid() != parent) _exit(130);
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      dup2(out[1], 1);
      dup2(err[1], 2);
      execv(argv[0], argv.data());
      _exit(127);
    }
    if (pid > 0) children_.insert(pid);
  }
  close(out[1]);
  close(err[1]);
  if (pid < 0) {
    close(out[0]);
    close(err[0]);
    res.error_code = "IO_ERROR";
    res.error_message = std::string("cannot start ") + exe_ + ": " + strerror(errno);
    return res;
  }
  std::string err_buf;
  auto take_lines = [&](bool flush) {
    size_t nl;
    while ((nl = err_buf.find('\n')) != std::string::npos || (flush && !err_buf.empty())) {
      std::string line = nl == std::string::npos ? err_buf : err_buf.substr(0, nl);
      err_buf.erase(0, nl == std::string::npos ? err_buf.size() : nl + 1);
      if (line.rfind("{\"", 0) == 0) {
        auto j = nlohmann::json::parse(line, nullptr, false);
        if (!j.is_discarded() && j.value("message_type", "") == "exit_error") {
          res.error_code = j.value("error", "");
          res.error_message = j.value("message", "");
          continue;
        }
      }
      if (!line.empty() && line.rfind("hint: ", 0) != 0) log_(job + ": " + line);
    }
  };
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  int open_fds = 2;
  char buf[65536];
  while (open_fds > 0) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = read(fds[i].fd, buf, sizeof(buf));
      if (n <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
        continue;
      }
      if (i == 0) res.stdout_text.append(buf, size_t(n));
      else err_buf.append(buf, size_t(n)), take_lines(false);
    }
  }
  take_lines(true);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  {
    std::lock_guard<std::mutex> l(mu_);
    children_.erase(pid);
  }
  if (WIFEXITED(status)) res.exit_code = WEXITSTATUS(status);
  else if (WIFSIGNALED(status)) res.exit_code = 128 + WTERMSIG(status);
  return res;
}

JobRun JobRunner::Run(const JobDef& job, const std::string& type_in, const std::string& trigger) {
  const SourceDef& src = cfg_.SourceOf(job);
  std::string type = type_in.empty() ? job.type : type_in;
  JobRun run;
  run.job = job.name;
  run.trigger = trigger;
  run.backup_type = type;
  auto fail_early = [&](const Error& e) {
    run.status = "FAILED";
    run.error_code = Describe(e.code()).symbol;
    run.error_message = e.Message();
    run.started = NowSeconds();
    run.ended = run.started;
    log_(job.name + ": FAILED: " + e.Message());
    return run;
  };
  if (auto s = MakeDirs(cfg_.state_dir + "/locks", 0750); !s.ok()) return fail_early(s.error());
  SourceLock lock;
  std::string holder;
  auto got = lock.TryAcquire(cfg_.state_dir + "/locks/source-" + src.name + ".lock", &holder);
  if (!got.ok()) return fail_early(got.error());
  if (!*got) {
    run.status = "NOT_STARTED";
    run.error_code = "NOT_STARTED";
    run.error_message = "source '" + src.name + "' is still being backed up by " + holder;
    auto id = history_.NotStarted(job.name, trigger, type, run.error_message);
    if (id.ok()) run.id = *id;
    run.started = NowSeconds();
    run.ended = run.started;
    log_(job.name + ": NOT_STARTED: " + run.error_message);
    RunOnFailure(job, run);
    (void)WriteMetrics();
    return run;
  }
  auto id = history_.Begin(job.name, trigger, type);
  if (!id.ok()) return fail_early(id.error());
  run.id = *id;
  run.started = NowSeconds();
  lock.SetHolder("job '" + job.name + "' (run #" + std::to_string(run.id) + ", pid " + std::to_string(getpid()) +
                 ", started " + LocalTime(run.started) + ")");
  log_(job.name + ": run #" + std::to_string(run.id) + " started (" + src.KindName() + " source '" + src.name + "'" +
       (type.empty() ? "" : ", " + type) + ", repository '" + job.repository + "')");
  (void)WriteMetrics();

  auto outcome = [&](ChildResult c, const std::string& step) {
    if (c.exit_code == 0) return;
    if (c.exit_code == 130 || c.exit_code == 128 + SIGTERM || c.exit_code == 128 + SIGKILL ||
        c.exit_code == 128 + SIGINT || c.error_code == "INTERRUPTED") {
      run.status = "INTERRUPTED";
      run.error_code = "INTERRUPTED";
      run.error_message = step + " was stopped before it completed" +
                          (stopping_ ? " (the daemon was shutting down)" : "");
    } else {
      run.status = "FAILED";
      run.error_code = c.error_code.empty() ? "INTERNAL" : c.error_code;
      // The code is a column of its own: drop the message's " [CODE]".
      std::string suffix = " [" + run.error_code + "]";
      if (c.error_message.size() > suffix.size() &&
          c.error_message.compare(c.error_message.size() - suffix.size(), suffix.size(), suffix) == 0)
        c.error_message.resize(c.error_message.size() - suffix.size());
      run.error_message = c.error_message.empty()
                              ? step + " exited with status " + std::to_string(c.exit_code) + " without an error message"
                              : step + ": " + c.error_message;
    }
  };
  run.status = "SUCCESS";
  ChildResult b = RunChild(job.name, BackupArgs(job, src, type));
  outcome(b, "backup");
  // The summary line of the backup (the last JSON line with message_type summary).
  size_t pos = 0;
  while (pos < b.stdout_text.size()) {
    size_t nl = b.stdout_text.find('\n', pos);
    std::string line = b.stdout_text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? b.stdout_text.size() : nl + 1;
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object() || j.value("message_type", "") != "summary") continue;
    run.snapshot_id = j.value("snapshot_id", "");
    run.bytes_added = j.value("data_added", uint64_t(0));
    if (j.contains("total_files_processed")) run.files = j.value("total_files_processed", uint64_t(0));
    else if (j.contains("messages")) run.files = j.value("messages", uint64_t(0));
    else run.files = j.value("files", uint64_t(0));
    if (j.contains("bytes")) run.bytes_read = j.value("bytes", uint64_t(0));
    else run.bytes_read = j.value("total_bytes_processed", uint64_t(0));
  }
  if (run.status == "SUCCESS" && job.retention.Any()) {
    std::vector<std::string> a = RepoArgs(cfg_.RepositoryOf(job));
    a.insert(a.end(), {"--retry-lock", job.retention.lock_wait, "forget", "--tag", job.Tag()});
    a.insert(a.end(), job.retention.forget_args.begin(), job.retention.forget_args.end());
    if (job.retention.prune) {
      a.push_back("--prune");
      if (!job.retention.max_unused.empty()) a.insert(a.end(), {"--max-unused", job.retention.max_unused});
    }
    outcome(RunChild(job.name, a), "retention (forget" + std::string(job.retention.prune ? " --prune" : "") + ")");
  }
  run.ended = NowSeconds();
  if (auto s = history_.Finish(run); !s.ok()) log_(job.name + ": " + s.error().Message());
  log_(job.name + ": run #" + std::to_string(run.id) + " " + run.status +
       (run.snapshot_id.empty() ? "" : ", snapshot " + run.snapshot_id.substr(0, 8)) +
       (run.error_message.empty() ? "" : ": " + run.error_message));
  if (run.status != "SUCCESS") RunOnFailure(job, run);
  (void)WriteMetrics();
  return run;
}

void JobRunner::RunOnFailure(const JobDef& job, const JobRun& run) {
  if (job.on_failure.empty() || stopping_) return;
  std::map<std::string, std::string> env = {{"MXVAULT_JOB", job.name},
                                            {"MXVAULT_RUN_ID", std::to_string(run.id)},
                                            {"MXVAULT_STATUS", run.status},
                                            {"MXVAULT_ERROR_CODE", run.error_code},
                                            {"MXVAULT_ERROR", run.error_message}};
  std::vector<std::string> envs;
  for (char** e = environ; *e; ++e) {
    std::string s = *e;
    if (!env.count(s.substr(0, s.find('=')))) envs.push_back(s);
  }
  for (const auto& [k, v] : env) envs.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : envs) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string sh = "/bin/sh", dash_c = "-c", cmd = job.on_failure;
  char* argv[] = {sh.data(), dash_c.data(), cmd.data(), nullptr};
  pid_t pid = fork();
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    execve(argv[0], argv, envp.data());
    _exit(127);
  }
  if (pid < 0) {
    log_(job.name + ": cannot run on_failure: " + strerror(errno));
    return;
  }
  // Bounded: a hanging notifier must not hold the job's thread forever.
  int status = 0;
  for (int i = 0; i < 600; ++i) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        log_(job.name + ": on_failure command failed (status " + std::to_string(status) + "): " + job.on_failure);
      return;
    }
    usleep(100 * 1000);
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  log_(job.name + ": on_failure command did not finish within 60 s and was killed: " + job.on_failure);
}

void JobRunner::StopAll() {
  std::lock_guard<std::mutex> l(mu_);
  stopping_ = true;
  for (int pid : children_) kill(pid, SIGTERM);
}

Status JobRunner::WriteMetrics() {
  if (cfg_.metrics_file.empty()) return Ok();
  std::lock_guard<std::mutex> l(metrics_mu_);
  std::string text = MX_TRY(RenderMetrics(cfg_, history_));
  size_t slash = cfg_.metrics_file.rfind('/');
  if (slash != std::string::npos && slash > 0) (void)MakeDirs(cfg_.metrics_file.substr(0, slash), 0755);
  auto s = WriteFileAtomic(cfg_.metrics_file, text, 0644);
  if (!s.ok()) log_("cannot write the metrics file: " + s.error().Message());
  return s;
}

Result<std::string> RenderMetrics(const JobsConfig& cfg, const JobHistory& history) {
  struct Family {
    const char* name;
    const char* help;
    std::string lines;
  };
  Family last_success{"mxvault_job_last_success_timestamp_seconds",
                      "Unix time at which the job's last successful run ended (0: never).", ""};
  Family last_run{"mxvault_job_last_run_timestamp_seconds", "Unix time at which the job's last run started.", ""};
  Family duration{"mxvault_job_last_duration_seconds", "Duration of the job's last finished run.", ""};
  Family added{"mxvault_job_last_bytes_added", "Bytes the job's last finished run added to the repository.", ""};
  Family status{"mxvault_job_last_status",
                "1 for the status of the job's last run (SUCCESS, FAILED, NOT_STARTED, INTERRUPTED, RUNNING).", ""};
  Family running{"mxvault_job_running", "1 while a run of the job is in progress.", ""};
  auto num = [](double v) {
    char b[64];
    if (v == std::floor(v) && std::fabs(v) < 1e15) snprintf(b, sizeof(b), "%.0f", v);
    else snprintf(b, sizeof(b), "%.3f", v);
    return std::string(b);
  };
  for (const auto& job : cfg.jobs) {
    std::string label = "{job=\"" + EscapeLabel(job.name) + "\"";
    auto last = MX_TRY(history.Last(job.name));
    auto ok = MX_TRY(history.LastSuccess(job.name));
    // The last finished run (a RUNNING row has no duration yet).
    std::optional<JobRun> finished;
    for (const auto& r : MX_TRY(history.List(job.name, 5)))
      if (r.status != "RUNNING") {
        finished = r;
        break;
      }
    last_success.lines += last_success.name + label + "} " + num(ok && ok->ended ? *ok->ended : 0) + "\n";
    if (last) last_run.lines += last_run.name + label + "} " + num(last->started) + "\n";
    if (finished) {
      duration.lines += duration.name + label + "} " + num(finished->duration()) + "\n";
      added.lines += added.name + label + "} " + num(double(finished->bytes_added)) + "\n";
    }
    for (const char* st : {"SUCCESS", "FAILED", "NOT_STARTED", "INTERRUPTED", "RUNNING"})
      status.lines += status.name + label + ",status=\"" + st + "\"} " +
                      (last && last->status == st ? "1" : "0") + "\n";
    running.lines += running.name + label + "} " + (last && last->status == "RUNNING" ? "1" : "0") + "\n";
  }
  std::string out;
  for (Family* f : {&last_success, &last_run, &duration, &added, &status, &running}) {
    if (f->lines.empty()) continue;
    out += std::string("# HELP ") + f->name + " " + f->help + "\n# TYPE " + f->name + " gauge\n" + f->lines;
  }
  return out;
}

}  // namespace mx::vault
