// Concurrency building blocks for pipelines: a bounded blocking queue, a
// buffer pool and a parallel loop. All are thread-safe.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "common/error.h"

namespace mx {

/// A FIFO of at most `capacity` items. Push blocks while full; Pop blocks while
/// empty and returns nullopt once the queue is closed and drained.
template <class T>
class BoundedQueue {
 public:
  explicit BoundedQueue(size_t capacity) : capacity_(capacity) {}

  /// Returns false (dropping `item`) if the queue was closed.
  bool Push(T item) {
    std::unique_lock<std::mutex> l(mu_);
    not_full_.wait(l, [&] { return closed_ || items_.size() < capacity_; });
    if (closed_) return false;
    items_.push_back(std::move(item));
    not_empty_.notify_one();
    return true;
  }

  std::optional<T> Pop() {
    std::unique_lock<std::mutex> l(mu_);
    not_empty_.wait(l, [&] { return closed_ || !items_.empty(); });
    if (items_.empty()) return std::nullopt;
    T item = std::move(items_.front());
    items_.pop_front();
    not_full_.notify_one();
    return item;
  }

  /// No more pushes; pops drain what is queued.
  void Close() {
    std::lock_guard<std::mutex> l(mu_);
    closed_ = true;
    not_empty_.notify_all();
    not_full_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable not_full_, not_empty_;
  std::deque<T> items_;  // GUARDED_BY(mu_)
  size_t capacity_;
  bool closed_ = false;  // GUARDED_BY(mu_)
};

/// Bounds the bytes in flight in a pipeline: Acquire blocks until `n` fits
/// (a single request larger than the budget is let through alone).
class ByteBudget {
 public:
  explicit ByteBudget(uint64_t limit) : limit_(limit) {}
  void Acquire(uint64_t n) {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return used_ == 0 || used_ + n <= limit_; });
    used_ += n;
  }
  void Release(uint64_t n) {
    std::lock_guard<std::mutex> l(mu_);
    used_ -= n;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t limit_;
  uint64_t used_ = 0;  // GUARDED_BY(mu_)
};

}  // namespace mx

namespace mx {

/// Recycles large byte buffers so that a pipeline does not pay page faults
/// for fresh multi-megabyte allocations on every chunk. Thread-safe.
template <class Buffer>
class BufferPool {
 public:
  /// Keeps at most `max_kept` buffers, none larger than `max_capacity`.
  BufferPool(size_t max_kept, size_t max_capacity) : max_kept_(max_kept), max_capacity_(max_capacity) {}
  /// An empty buffer, with at least `capacity` reserved.
  Buffer Get(size_t capacity) {
    Buffer b;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (!free_.empty()) {
        b = std::move(free_.back());
        free_.pop_back();
      }
    }
    b.clear();
    if (b.capacity() < capacity) b.reserve(capacity);
    return b;
  }
  void Put(Buffer&& b) {
    std::lock_guard<std::mutex> l(mu_);
    if (free_.size() < max_kept_ && b.capacity() > 0 && b.capacity() <= max_capacity_)
      free_.push_back(std::move(b));
  }

 private:
  std::mutex mu_;
  std::deque<Buffer> free_;  // GUARDED_BY(mu_)
  size_t max_kept_;
  size_t max_capacity_;
};

/// Calls fn(i) for every i in [0, n) on up to `workers` threads (the calling
/// thread among them). Stops handing out work at the first error and returns
/// it; work already started finishes.
inline Status ParallelFor(size_t n, unsigned workers, const std::function<Status(size_t)>& fn) {
  std::atomic<size_t> next{0};
  std::mutex mu;
  std::optional<Error> first;
  std::atomic<bool> failed{false};
  auto work = [&] {
    for (size_t i; !failed && (i = next++) < n;) {
      Status s = fn(i);
      if (!s.ok()) {
        std::lock_guard<std::mutex> l(mu);
        if (!first) first = s.error();
        failed = true;
      }
    }
  };
  std::vector<std::thread> threads;
  for (unsigned t = 1; t < std::min<size_t>(std::max(1u, workers), n); ++t) threads.emplace_back(work);
  work();
  for (auto& t : threads) t.join();
  if (first) return *first;
  return Ok();
}

}  // namespace mx
