#include "repo/lock.h"

#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include "common/host.h"
#include "common/log.h"

namespace mx::repo {
namespace {
struct LockEntry {
  Id id;
  LockInfo info;
};

Result<std::vector<LockEntry>> ListLocks(Repository& repo) {
  std::vector<Id> ids = MX_TRY(repo.ListIds(FileType::kLock));
  std::vector<LockEntry> out;
  for (const Id& id : ids) {
    auto raw = repo.LoadFile(FileType::kLock, id);
    if (!raw.ok()) {
      // Removed between list and load (its holder finished): not a conflict.
      if (raw.error().code() == Code::kNotFound) continue;
      return std::move(raw).error();
    }
    LockInfo info = MX_TRY(ParseLock(*raw, ObjectName(FileType::kLock, id)));
    out.push_back(LockEntry{id, info});
  }
  return out;
}
}  // namespace

std::string LockStaleReason(const LockInfo& l, Timestamp now) {
  if (now.sec - l.time.sec > kLockStaleSeconds)
    return "not refreshed for " + std::to_string((now.sec - l.time.sec) / 60) + " minutes";
  if (l.hostname == Hostname() && l.pid > 0) {
    if (!ProcessAlive(l.pid))
      return "process " + std::to_string(l.pid) + " on this host is gone";
  }
  return {};
}

std::string DescribeLock(const LockInfo& l) {
  return std::string(l.exclusive ? "exclusive" : "shared") + " lock of PID " +
         std::to_string(l.pid) + " on " + l.hostname + " by " + l.username + ", since " +
         FormatLocal(l.time);
}

RepoLock::RepoLock(Repository& repo, LockInfo info, Id id)
    : repo_(repo), info_(std::move(info)), id_(id) {
  refresher_ = std::thread([this] { RefreshLoop(); });
}

Result<std::unique_ptr<RepoLock>> RepoLock::Acquire(Repository& repo, bool exclusive,
                                                    int retry_seconds) {
  LockInfo info;
  info.exclusive = exclusive;
  info.hostname = Hostname();
  info.username = Username();
  info.pid = getpid();
  info.uid = getuid();
  info.gid = getgid();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(retry_seconds);
  for (;;) {
    info.time = Now();
    Id mine = MX_TRY(repo.SaveFile(FileType::kLock, SerializeLock(info)));
    auto locks = ListLocks(repo);
    if (!locks.ok()) {
      (void)repo.backend().Remove(Handle{FileType::kLock, mine.Hex()});
      return std::move(locks).error();
    }
    std::optional<LockEntry> conflict;
    for (const LockEntry& e : *locks) {
      if (e.id == mine) continue;
      if (!exclusive && !e.info.exclusive) continue;
      std::string stale = LockStaleReason(e.info, Now());
      if (!stale.empty()) {
        // What `unlock` would remove: restic 0.14 does not skip stale locks
        // when it locks, so one left by a killed process would block it.
        log::Info("removing stale lock " + e.id.Short() + " (" + stale + ")");
        (void)repo.backend().Remove(Handle{FileType::kLock, e.id.Hex()});
        continue;
      }
      conflict = e;
      break;
    }
    if (!conflict) return std::unique_ptr<RepoLock>(new RepoLock(repo, info, mine));
    (void)repo.backend().Remove(Handle{FileType::kLock, mine.Hex()});
    if (std::chrono::steady_clock::now() >= deadline)
      return Error(Code::kLocked,
                   std::string("cannot take ") + (exclusive ? "an exclusive" : "a shared") +
                       " lock on repository",
                   repo.backend().Location(),
                   "locks/" + conflict->id.Short() + " is a " + DescribeLock(conflict->info));
    std::this_thread::sleep_for(std::chrono::seconds(2));
  }
}

void RepoLock::RefreshLoop() {
  std::unique_lock<std::mutex> l(mu_);
  while (!cv_.wait_for(l, std::chrono::seconds(kLockRefreshSeconds), [&] { return stop_; })) {
    info_.time = Now();
    auto fresh = repo_.SaveFile(FileType::kLock, SerializeLock(info_));
    if (!fresh.ok()) {
      log::Warn("cannot refresh repository lock: " + fresh.error().Message());
      continue;
    }
    (void)repo_.backend().Remove(Handle{FileType::kLock, id_.Hex()});
    id_ = *fresh;
  }
}

RepoLock::~RepoLock() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  refresher_.join();
  (void)repo_.backend().Remove(Handle{FileType::kLock, id_.Hex()});
}

Result<bool> RepoLock::Alone() {
  auto locks = MX_TRY(ListLocks(repo_));
  Id mine;
  {
    std::lock_guard<std::mutex> l(mu_);
    mine = id_;
  }
  for (const LockEntry& e : locks)
    if (e.id != mine && LockStaleReason(e.info, Now()).empty()) return false;
  return true;
}

Result<size_t> RemoveLocks(Repository& repo, bool all) {
  auto locks = MX_TRY(ListLocks(repo));
  size_t removed = 0;
  for (const LockEntry& e : locks) {
    if (!all && LockStaleReason(e.info, Now()).empty()) continue;
    Status s = repo.backend().Remove(Handle{FileType::kLock, e.id.Hex()});
    if (!s.ok() && s.error().code() != Code::kNotFound) return s.error();
    ++removed;
  }
  return removed;
}

}  // namespace mx::repo
