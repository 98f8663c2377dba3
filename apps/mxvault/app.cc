#include "app.h"

#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "backend/local/local_backend.h"
#include "backend/retry/retry_backend.h"
#include "backend/s3/s3_backend.h"
#include "common/log.h"
#include "common/bytes.h"
#include "repo/blob_saver.h"
#include "common/config.h"
#include "common/fs.h"

namespace mx::app {

Status AdoptOrphansIfAlone(const Globals& g, repo::Repository& r, repo::RepoLock& lock) {
  auto alone = lock.Alone();
  if (!alone.ok() || !*alone) return Ok();
  auto adopted = MX_TRY(repo::AdoptOrphanPacks(r));
  if (adopted.adopted && !g.quiet && !g.json)
    fprintf(stderr, "reusing %zu pack(s) (%s) left by an interrupted backup\n", adopted.adopted,
            HumanBytes(adopted.bytes).c_str());
  return Ok();
}

Status ResolveGlobals(Globals& g) {
  auto env = [](const char* name) -> std::string {
    const char* v = std::getenv(name);
    return v ? v : "";
  };
  if (g.config_file.empty()) g.config_file = env("MXVAULT_CONFIG");
  if (g.repo.empty()) g.repo = env("MXVAULT_REPOSITORY");
  if (g.password_file.empty()) g.password_file = env("MXVAULT_PASSWORD_FILE");
  if (g.password_command.empty()) g.password_command = env("MXVAULT_PASSWORD_COMMAND");
  if (!g.config_file.empty()) {
    Config cfg = MX_TRY(Config::Load(g.config_file));
    if (g.repo.empty()) g.repo = MX_TRY(cfg.GetString("repository")).value_or("");
    if (g.password_file.empty()) g.password_file = MX_TRY(cfg.GetString("password_file")).value_or("");
    if (g.password_command.empty())
      g.password_command = MX_TRY(cfg.GetString("password_command")).value_or("");
  }
  return Ok();
}

Result<std::string> ReadPasswordFile(const std::string& path) {
  auto data = ReadFile(path);
  if (!data.ok()) return data.error().Wrap("cannot read password file", path);
  std::string s(data->begin(), data->end());
  size_t nl = s.find('\n');
  if (nl != std::string::npos) s.resize(nl);
  if (!s.empty() && s.back() == '\r') s.pop_back();
  return s;
}

Result<std::string> RunPasswordCommand(const std::string& cmd) {
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return ErrnoError("cannot run password command", cmd, errno, Code::kNoPassword);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  int rc = pclose(p);
  if (rc != 0)
    return Error(Code::kNoPassword, "password command failed", cmd,
                 "exit status " + std::to_string(WIFEXITED(rc) ? WEXITSTATUS(rc) : rc));
  size_t nl = out.find('\n');
  if (nl != std::string::npos) out.resize(nl);
  return out;
}

static Result<std::string> Prompt(const char* text) {
  if (!IsTerminal(0))
    return Error(Code::kNoPassword, "cannot read the repository password", "",
                 "no --password-file, --password-command or MXVAULT_PASSWORD_FILE, and stdin is not a terminal");
  fprintf(stderr, "%s", text);
  termios old{};
  tcgetattr(0, &old);
  termios quiet = old;
  quiet.c_lflag &= ~tcflag_t(ECHO);
  tcsetattr(0, TCSANOW, &quiet);
  std::string line;
  int c;
  while ((c = fgetc(stdin)) != EOF && c != '\n') line.push_back(char(c));
  tcsetattr(0, TCSANOW, &old);
  fprintf(stderr, "\n");
  return line;
}

Result<std::string> ReadPassword(const Globals& g, bool confirm) {
  std::string pw;
  if (!g.password_file.empty()) {
    pw = MX_TRY(ReadPasswordFile(g.password_file));
  } else if (!g.password_command.empty()) {
    pw = MX_TRY(RunPasswordCommand(g.password_command));
  } else if (const char* env = std::getenv("MXVAULT_PASSWORD")) {
    pw = env;
  } else {
    pw = MX_TRY(Prompt("enter password for repository: "));
    if (confirm) {
      std::string again = MX_TRY(Prompt("enter password again: "));
      if (again != pw)
        return Error(Code::kNoPassword, "passwords do not match", "", "type the same password twice");
    }
  }
  if (pw.empty())
    return Error(Code::kNoPassword, "empty password", g.password_file.empty() ? "" : g.password_file,
                 "an empty password is not allowed");
  return pw;
}

Result<repo::BackendPtr> MakeBackend(const Globals& g) {
  if (g.repo.empty())
    return Error(Code::kUsage, "no repository given", "",
                 "pass -r/--repo LOCATION or set MXVAULT_REPOSITORY");
  std::string loc = g.repo;
  backend::RetryPolicy retry;
  backend::S3Options s3;
  bool is_s3 = loc.rfind("s3:", 0) == 0;
  if (is_s3) s3 = MX_TRY(backend::ParseS3Location(loc));
  for (const auto& opt : g.options) {
    size_t eq = opt.find('=');
    if (eq == std::string::npos)
      return Error(Code::kUsage, "invalid option", opt, "expected KEY=VALUE", "write e.g. -o s3.connections=8");
    std::string key = opt.substr(0, eq), value = opt.substr(eq + 1);
    if (key.rfind("s3.", 0) == 0) {
      MX_CHECK(backend::ApplyS3Option(&s3, key.substr(3), value));
    } else if (key == "retry.attempts") {
      char* end = nullptr;
      long v = strtol(value.c_str(), &end, 10);
      if (value.empty() || *end || v < 1 || v > 100)
        return Error(Code::kUsage, "invalid value for -o retry.attempts", value, "expected a number from 1 to 100", "");
      retry.attempts = int(v);
    } else {
      return Error(Code::kUsage, "unknown option", key, "options are s3.* (see docs/cli.md) and retry.attempts", "");
    }
  }
  if (!g.quiet)
    retry.on_retry = [](const Error& e, int attempt, double wait) {
      log::Warn("retrying in " + FormatDuration(wait) + " (attempt " + std::to_string(attempt) + " failed): " + e.Message());
    };
  if (loc.rfind("sftp:", 0) == 0 || loc.rfind("rest:", 0) == 0)
    return Error(Code::kUsage, "unsupported repository location", g.repo,
                 "mxvault writes local directories and S3-compatible object storage (s3:https://HOST/BUCKET)");
  repo::BackendPtr inner;
  if (is_s3) {
    MX_CHECK(backend::ResolveS3Credentials(&s3));
    inner = std::make_shared<backend::S3Backend>(s3);
  } else {
    if (loc.rfind("local:", 0) == 0) loc = loc.substr(6);
    while (loc.size() > 1 && loc.back() == '/') loc.pop_back();
    inner = std::make_shared<backend::LocalBackend>(loc);
  }
  return repo::BackendPtr(std::make_shared<backend::RetryBackend>(inner, retry));
}

Result<std::unique_ptr<repo::Repository>> OpenRepository(const Globals& g, bool load_index) {
  auto backend = MX_TRY(MakeBackend(g));
  std::string pw = MX_TRY(ReadPassword(g));
  auto repo = MX_TRY(repo::Repository::Open(backend, pw));
  if (load_index) MX_CHECK(repo->LoadIndex());
  return repo;
}

Result<std::unique_ptr<repo::RepoLock>> Lock(const Globals& g, repo::Repository& r, bool exclusive) {
  int wait = 0;
  if (!g.retry_lock.empty()) wait = MX_TRY(ParseDuration(g.retry_lock));
  return repo::RepoLock::Acquire(r, exclusive, wait);
}

bool ShowProgress(const Globals& g) { return !g.quiet && !g.json && IsTerminal(2); }

ProgressLine::ProgressLine(bool enabled, std::function<std::string(double)> render) : enabled_(enabled) {
  if (!enabled) return;
  thread_ = std::thread([this, render] {
    auto t0 = std::chrono::steady_clock::now();
    while (!stop_) {
      double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::string line = render(el);
      fprintf(stderr, "\r\033[K%s", line.c_str());
      fflush(stderr);
      for (int i = 0; i < 5 && !stop_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
}

ProgressLine::~ProgressLine() {
  if (!enabled_) return;
  stop_ = true;
  thread_.join();
  fprintf(stderr, "\r\033[K");
  fflush(stderr);
}

std::string FormatDuration(double s) {
  long t = long(s + 0.5);
  char buf[32];
  if (t >= 3600) snprintf(buf, sizeof(buf), "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
  else snprintf(buf, sizeof(buf), "%ld:%02ld", t / 60, t % 60);
  return buf;
}

}  // namespace mx::app
