// `run`, `daemon`, `history`, `status` and `calendar`: scheduled jobs from the
// configuration file (vault/jobs). Wiring only: the runner, history and
// calendar live in src/vault/jobs.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <list>
#include <nlohmann/json.hpp>

#include "app.h"
#include "common/bytes.h"
#include "common/clock.h"
#include "vault/jobs/calendar.h"
#include "vault/jobs/history.h"
#include "vault/jobs/job_config.h"
#include "vault/jobs/runner.h"

namespace mx::app {
namespace {

const char kDefaultConfig[] = "/etc/mxvault/mxvault.toml";

std::string ConfigPath(const Globals& g) { return g.config_file.empty() ? kDefaultConfig : g.config_file; }

std::string SelfExe() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, size_t(n)) : "mxvault";
}

std::string Rfc3339(double t) { return FormatRfc3339(Timestamp{int64_t(std::floor(t)), 0}); }

void LogLine(const std::string& line) {
  time_t now = time(nullptr);
  fprintf(stderr, "%s %s\n", FormatLocal(Timestamp{int64_t(now), 0}).c_str(), line.c_str());
  fflush(stderr);
}

nlohmann::json RunJson(const vault::JobRun& r) {
  nlohmann::json j = {{"id", r.id},
                      {"job", r.job},
                      {"trigger", r.trigger},
                      {"type", r.backup_type},
                      {"status", r.status},
                      {"start", Rfc3339(r.started)},
                      {"end", r.ended ? nlohmann::json(Rfc3339(*r.ended)) : nlohmann::json()},
                      {"duration", r.ended ? std::round(r.duration() * 1000) / 1000 : 0.0},
                      {"snapshot_id", r.snapshot_id},
                      {"files", r.files},
                      {"bytes_read", r.bytes_read},
                      {"bytes_added", r.bytes_added},
                      {"error_code", r.error_code},
                      {"error_message", r.error_message}};
  return j;
}

// Blocks the stop signals in this thread and every thread it starts; the
// caller collects them with sigtimedwait.
sigset_t BlockStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

// The next firing of `job` after `after`: the earliest of its entries; on a
// tie the first entry listed wins (a weekly full listed before the daily
// incremental replaces it on Sundays).
std::optional<std::pair<int64_t, std::string>> NextRun(const vault::JobDef& job, int64_t after) {
  std::optional<std::pair<int64_t, std::string>> best;
  for (const auto& e : job.schedule) {
    auto t = e.calendar.Next(after);
    if (t && (!best || *t < best->first)) best = std::make_pair(*t, e.type);
  }
  return best;
}

struct Loaded {
  vault::JobsConfig cfg;
  std::unique_ptr<vault::JobHistory> history;
};

Result<Loaded> LoadJobs(const Globals& g, bool sweep) {
  Loaded l;
  l.cfg = MX_TRY(vault::JobsConfig::Load(ConfigPath(g)));
  l.history = MX_TRY(vault::JobHistory::Open(l.cfg.HistoryPath()));
  if (sweep)
    for (const auto& r : MX_TRY(l.history->Sweep()))
      LogLine(r.job + ": run #" + std::to_string(r.id) + " recorded INTERRUPTED: " + r.error_message);
  return l;
}

Status RunOne(Globals& g, const std::string& name, const std::string& type) {
  Loaded l = MX_TRY(LoadJobs(g, true));
  const vault::JobDef* job = MX_TRY(l.cfg.FindJob(name));
  if (!type.empty() && l.cfg.SourceOf(*job).kind != vault::SourceDef::Kind::kStore)
    return Error(Code::kUsage, "--type applies to store sources only", name,
                 "job '" + name + "' backs up a " + l.cfg.SourceOf(*job).KindName() + " source", "drop --type");
  sigset_t set = BlockStopSignals();
  vault::JobRunner runner(l.cfg, *l.history, SelfExe(), [&g](const std::string& line) {
    if (!g.quiet) LogLine(line);
  });
  vault::JobRun result;
  std::atomic<bool> done{false};
  std::thread worker([&] {
    result = runner.Run(*job, type, "manual");
    done = true;
  });
  bool stopped = false;
  while (!done) {
    timespec ts{0, 200 * 1000 * 1000};
    int sig = sigtimedwait(&set, nullptr, &ts);
    if (sig > 0 && !stopped) {
      stopped = true;
      LogLine(name + ": stopping on signal " + std::to_string(sig));
      runner.StopAll();
    }
  }
  worker.join();
  if (g.json) printf("%s\n", RunJson(result).dump().c_str());
  else if (!g.quiet && result.status == "SUCCESS")
    printf("job %s: run #%lld SUCCESS in %s, snapshot %s, %s added\n", name.c_str(), (long long)result.id,
           FormatDuration(result.duration()).c_str(), result.snapshot_id.substr(0, 8).c_str(),
           HumanBytes(result.bytes_added).c_str());
  if (result.status == "SUCCESS") return Ok();
  if (result.status == "NOT_STARTED")
    return Error(Code::kNotStarted, "job did not start", name, result.error_message);
  if (result.status == "INTERRUPTED")
    return Error(Code::kInterrupted, "job was interrupted", name, result.error_message);
  return Error(CodeFromSymbol(result.error_code), "job failed", name, result.error_message,
               "`mxvault history " + name + "` shows every run; fix the cause and run it again");
}

Status RunDaemon(Globals& g) {
  Loaded l = MX_TRY(LoadJobs(g, true));
  sigset_t set = BlockStopSignals();
  vault::JobRunner runner(l.cfg, *l.history, SelfExe(), LogLine);
  MX_CHECK(runner.WriteMetrics());
  struct Active {
    std::thread thread;
    std::atomic<bool> done{false};
  };
  std::list<Active> active;
  struct Next {
    const vault::JobDef* job;
    int64_t when;
    std::string type;
  };
  std::vector<Next> queue;
  int64_t now = int64_t(time(nullptr));
  for (const auto& job : l.cfg.jobs) {
    auto n = NextRun(job, now);
    if (n) {
      queue.push_back({&job, n->first, n->second});
      LogLine(job.name + ": next run " + FormatLocal(Timestamp{n->first, 0}) + (n->second.empty() ? "" : " (" + n->second + ")"));
    }
  }
  LogLine("daemon started: " + std::to_string(l.cfg.jobs.size()) + " job(s), " + std::to_string(queue.size()) +
          " scheduled; history " + l.history->path());
  int stop_signal = 0;
  while (!stop_signal) {
    for (auto it = active.begin(); it != active.end();) {
      if (it->done) {
        it->thread.join();
        it = active.erase(it);
      } else {
        ++it;
      }
    }
    double t = NowSeconds();
    double wait = 60;
    for (auto& n : queue) wait = std::min(wait, double(n.when) - t);
    if (wait > 0) {
      wait = std::min(wait, 1.0);  // reap finished runs at least every second
      timespec ts{time_t(wait), long((wait - std::floor(wait)) * 1e9)};
      int sig = sigtimedwait(&set, nullptr, &ts);
      if (sig > 0) stop_signal = sig;
      continue;
    }
    int64_t fired_at = int64_t(std::floor(t));
    for (auto& n : queue) {
      if (double(n.when) > t) continue;
      const vault::JobDef* job = n.job;
      std::string type = n.type;
      active.emplace_back();
      Active& a = active.back();
      a.thread = std::thread([&runner, job, type, &a] {
        runner.Run(*job, type, "schedule");
        a.done = true;
      });
      // The next firing after now: runs missed while the machine slept are
      // not repeated.
      auto next = NextRun(*job, std::max(n.when, fired_at));
      n.when = next ? next->first : INT64_MAX;
      n.type = next ? next->second : "";
    }
  }
  LogLine("daemon stopping on signal " + std::to_string(stop_signal) + ": " + std::to_string(active.size()) +
          " run(s) in progress are stopped and recorded INTERRUPTED");
  runner.StopAll();
  for (auto& a : active) a.thread.join();
  return Ok();
}

Status ShowHistory(Globals& g, const std::string& job, size_t limit) {
  Loaded l = MX_TRY(LoadJobs(g, false));
  (void)l.history->Sweep();  // best effort: a read-only user can still read
  if (!job.empty()) MX_TRY(l.cfg.FindJob(job));
  auto runs = MX_TRY(l.history->List(job, limit));
  if (g.json) {
    nlohmann::json arr = nlohmann::json::array();
    for (auto& r : runs) arr.push_back(RunJson(r));
    printf("%s\n", arr.dump().c_str());
    return Ok();
  }
  printf("%-6s %-20s %-9s %-12s %-12s %-19s %9s %-9s %10s  %s\n", "RUN", "JOB", "TRIGGER", "TYPE", "STATUS", "STARTED",
         "DURATION", "SNAPSHOT", "ADDED", "ERROR");
  for (auto& r : runs)
    printf("%-6lld %-20s %-9s %-12s %-12s %-19s %9s %-9s %10s  %s\n", (long long)r.id, r.job.c_str(),
           r.trigger.c_str(), r.backup_type.empty() ? "-" : r.backup_type.c_str(), r.status.c_str(),
           FormatLocal(Timestamp{int64_t(r.started), 0}).c_str(),
           r.ended ? FormatDuration(r.duration()).c_str() : "-",
           r.snapshot_id.empty() ? "-" : r.snapshot_id.substr(0, 8).c_str(),
           r.status == "SUCCESS" ? HumanBytes(r.bytes_added).c_str() : "-",
           r.error_code.empty() ? "" : ("[" + r.error_code + "] " + r.error_message).c_str());
  if (runs.empty()) printf("(no runs recorded in %s)\n", l.history->path().c_str());
  return Ok();
}

Status ShowStatus(Globals& g) {
  Loaded l = MX_TRY(LoadJobs(g, false));
  (void)l.history->Sweep();
  int64_t now = int64_t(time(nullptr));
  nlohmann::json arr = nlohmann::json::array();
  if (!g.json)
    printf("%-20s %-12s %-19s %-19s %-19s  %s\n", "JOB", "LAST", "LAST RUN", "LAST SUCCESS", "NEXT RUN", "SOURCE");
  for (const auto& job : l.cfg.jobs) {
    const auto& src = l.cfg.SourceOf(job);
    auto last = MX_TRY(l.history->Last(job.name));
    auto ok = MX_TRY(l.history->LastSuccess(job.name));
    auto next = NextRun(job, now);
    if (!g.json) {
      auto local = [](double t) { return FormatLocal(Timestamp{int64_t(t), 0}); };
      printf("%-20s %-12s %-19s %-19s %-19s  %s %s\n", job.name.c_str(), last ? last->status.c_str() : "never",
             last ? local(last->started).c_str() : "-", ok && ok->ended ? local(*ok->ended).c_str() : "-",
             next ? local(double(next->first)).c_str() : "-", src.KindName(), src.name.c_str());
      if (last && !last->error_message.empty())
        printf("    last error: [%s] %s\n", last->error_code.c_str(), last->error_message.c_str());
      continue;
    }
    nlohmann::json sched = nlohmann::json::array();
    for (const auto& e : job.schedule) sched.push_back({{"calendar", e.calendar.text()}, {"type", e.type}});
    arr.push_back({{"job", job.name},
                   {"source", src.name},
                   {"source_kind", src.KindName()},
                   {"repository", job.repository},
                   {"schedule", sched},
                   {"running", last && last->status == "RUNNING"},
                   {"last", last ? RunJson(*last) : nlohmann::json()},
                   {"last_success", ok ? RunJson(*ok) : nlohmann::json()},
                   {"next_run", next ? nlohmann::json(Rfc3339(double(next->first))) : nlohmann::json()},
                   {"next_type", next ? nlohmann::json(next->second) : nlohmann::json()}});
  }
  if (g.json) printf("%s\n", arr.dump().c_str());
  return Ok();
}

Status ShowCalendar(Globals& g, const std::vector<std::string>& exprs, int iterations, const std::string& base) {
  int64_t from = int64_t(time(nullptr));
  if (!base.empty()) {
    if (base[0] == '@') {
      char* end = nullptr;
      from = strtoll(base.c_str() + 1, &end, 10);
      if (*end) return Error(Code::kUsage, "invalid --base-time", base, "expected @UNIX_SECONDS or an RFC 3339 time");
    } else {
      auto t = ParseRfc3339(base);
      if (!t) return Error(Code::kUsage, "invalid --base-time", base, "expected @UNIX_SECONDS or an RFC 3339 time");
      from = t->sec;
    }
  }
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& e : exprs) {
    auto spec = MX_TRY(vault::CalendarSpec::Parse(e));
    nlohmann::json next = nlohmann::json::array();
    int64_t t = from;
    if (!g.json) printf("  Original form: %s\nNormalized form: %s\n", e.c_str(), spec.Normalized().c_str());
    for (int i = 0; i < iterations; ++i) {
      auto n = spec.Next(t);
      if (!n) {
        if (!g.json && i == 0) printf("    Next elapse: never\n");
        break;
      }
      t = *n;
      next.push_back({{"unix", t}, {"time", spec.utc() ? FormatRfc3339Utc(Timestamp{t, 0}) : FormatRfc3339(Timestamp{t, 0})}});
      if (!g.json) {
        if (i == 0) printf("    Next elapse: %s\n", next.back()["time"].get<std::string>().c_str());
        else printf("       Iter. #%d: %s\n", i + 1, next.back()["time"].get<std::string>().c_str());
      }
    }
    if (!g.json && exprs.size() > 1) printf("\n");
    arr.push_back({{"expression", e}, {"normalized", spec.Normalized()}, {"next", next}});
  }
  if (g.json) printf("%s\n", arr.dump().c_str());
  return Ok();
}

}  // namespace

void RegisterJobs(CLI::App& app, Globals& g, Command* run) {
  static std::string job_name, type;
  static std::string history_job;
  static size_t limit = 50;
  auto* r = app.add_subcommand("run", "run one job of the configuration file now (--config, default " +
                                          std::string(kDefaultConfig) + ")");
  r->add_option("job", job_name, "the job's name")->required();
  r->add_option("--type", type, "store sources: full, incremental, differential or copy (default: the job's type)")
      ->check(CLI::IsMember({"full", "incremental", "differential", "copy"}));
  r->callback([&g, run] { *run = [&g] { return RunOne(g, job_name, type); }; });

  auto* d = app.add_subcommand("daemon", "run every job of the configuration file on its schedule; stop with SIGTERM");
  d->callback([&g, run] { *run = [&g] { return RunDaemon(g); }; });

  auto* h = app.add_subcommand("history", "list recorded job runs, newest first");
  h->add_option("job", history_job, "only this job");
  h->add_option("--limit", limit, "at most this many runs (0: all; default 50)");
  h->callback([&g, run] { *run = [&g] { return ShowHistory(g, history_job, limit); }; });

  auto* s = app.add_subcommand("status", "each job's last result, last success and next run");
  s->callback([&g, run] { *run = [&g] { return ShowStatus(g); }; });

  static std::vector<std::string> exprs;
  static int iterations = 1;
  static std::string base;
  auto* c = app.add_subcommand("calendar", "show when calendar expressions (job schedules) elapse next");
  c->add_option("expression", exprs, "e.g. daily, \"Mon..Fri 02:00\", \"*:0/15\"")->required();
  c->add_option("--iterations", iterations, "show this many elapses (default 1)")->check(CLI::Range(1, 1000));
  c->add_option("--base-time", base, "count from this time (RFC 3339 or @UNIX_SECONDS) instead of now");
  c->callback([&g, run] { *run = [&g] { return ShowCalendar(g, exprs, iterations, base); }; });
}

}  // namespace mx::app
