// The write gate of a database: every commit passes through it shared; a
// freeze closes it. A freeze has a deadline: at the deadline the gate opens by
// itself (waiting commits see the deadline pass and go on), and the freeze's
// Thaw() reports that it expired. Nothing here can wait forever: Freeze waits
// for commits in flight at most until its deadline, and a commit waits for a
// freeze at most until that freeze's deadline. (This replaces RocksDB's
// LockWAL, which deadlocks in 7.8.3: see ../shared/ROCKSDB-NOTES.md.)
// Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace mx::store {

class WriteGate {
 public:
  using Clock = std::chrono::steady_clock;

  /// A commit enters; waits while a freeze holds the gate (not past its deadline).
  void Enter() {
    std::unique_lock<std::mutex> l(mu_);
    while (frozen_) {
      if (cv_.wait_until(l, thaw_at_) == std::cv_status::timeout && frozen_ && Clock::now() >= thaw_at_) {
        frozen_ = false;  // the deadline passed: thaw by ourselves
        expired_ = true;
        cv_.notify_all();
      }
    }
    ++active_;
  }
  void Exit() {
    std::lock_guard<std::mutex> l(mu_);
    if (--active_ == 0) cv_.notify_all();
  }

  /// Closes the gate: new commits wait; returns true once every commit in
  /// flight has finished. False when another freeze holds the gate or the
  /// commits in flight did not finish within `deadline` (the gate is then
  /// open again).
  bool Freeze(std::chrono::milliseconds deadline) {
    std::unique_lock<std::mutex> l(mu_);
    if (frozen_) return false;
    frozen_ = true;
    expired_ = false;
    thaw_at_ = Clock::now() + deadline;
    if (!cv_.wait_until(l, thaw_at_, [&] { return active_ == 0 || !frozen_; }) || !frozen_) {
      frozen_ = false;
      cv_.notify_all();
      return false;
    }
    return true;
  }

  /// Opens the gate. False when the freeze had already expired (the gate
  /// opened by itself at the deadline): the caller must treat whatever it
  /// did under the freeze as not consistent.
  bool Thaw() {
    std::lock_guard<std::mutex> l(mu_);
    bool ok = frozen_ && !expired_ && Clock::now() < thaw_at_;
    frozen_ = false;
    cv_.notify_all();
    return ok;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int active_ = 0;          // guarded by mu_
  bool frozen_ = false;     // guarded by mu_
  bool expired_ = false;    // guarded by mu_
  Clock::time_point thaw_at_{};  // guarded by mu_
};

}  // namespace mx::store
