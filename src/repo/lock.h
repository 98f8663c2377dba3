// Repository locks (restic's lock files in locks/). A shared lock lets other
// shared holders in; an exclusive lock lets nobody in. A lock is stale — and
// ignored — when it was not refreshed for 30 minutes, or when its holder was on
// this host and its process is gone. Holders refresh their lock every 5 minutes.
// Acquire removes the stale locks it meets (as `unlock` would): restic does
// not skip them, so a lock left by a killed mxvault would otherwise block it.
//
// A RepoLock is owned by one thread; its refresher runs in the background.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "repo/repository.h"

namespace mx::repo {

constexpr int64_t kLockStaleSeconds = 30 * 60;
constexpr int64_t kLockRefreshSeconds = 5 * 60;

/// Why a lock is stale (empty if it is live).
std::string LockStaleReason(const LockInfo& l, Timestamp now);
std::string DescribeLock(const LockInfo& l);

class RepoLock {
 public:
  /// Takes the lock, or fails with LOCKED naming the holder. Retries for up to
  /// `retry_seconds` while a live conflicting lock exists.
  static Result<std::unique_ptr<RepoLock>> Acquire(Repository& repo, bool exclusive,
                                                   int retry_seconds = 0);
  ~RepoLock();  // stops refreshing and removes the lock file

  /// True when no other live lock exists (every other holder is stale), i.e.
  /// no other process is writing to the repository right now.
  Result<bool> Alone();

 private:
  RepoLock(Repository& repo, LockInfo info, Id id);
  void RefreshLoop();

  Repository& repo_;
  LockInfo info_;
  std::mutex mu_;
  Id id_;  // GUARDED_BY(mu_)
  std::condition_variable cv_;
  bool stop_ = false;  // GUARDED_BY(mu_)
  std::thread refresher_;
};

/// Removes stale locks (all locks with `all`). Returns how many were removed.
Result<size_t> RemoveLocks(Repository& repo, bool all);

}  // namespace mx::repo
