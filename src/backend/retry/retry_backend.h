// RetryBackend: wraps any Backend and retries failed calls with exponential
// backoff and jitter (restic's backend/retry is the model), for throttling
// (503 SlowDown), server errors and dropped connections. Only NETWORK
// failures are retried; NOT_FOUND, AUTH_FAILED, a local disk's IO_ERROR and
// the like are answers, not accidents. After the last attempt the error names the object
// and how often it was tried.
//
// List collects the whole listing before calling back, so a listing retried
// half-way never reports a file twice.
//
// Thread-safe if the wrapped backend is.
#pragma once

#include <functional>

#include "repo/backend.h"

namespace mx::backend {

struct RetryPolicy {
  int attempts = 10;           // in all, the first included
  double first_delay = 0.5;    // seconds; doubles each time
  double max_delay = 30;       // seconds
  /// Called before each wait: (what failed, attempt number, delay seconds).
  std::function<void(const Error&, int, double)> on_retry;
};

class RetryBackend : public repo::Backend {
 public:
  RetryBackend(repo::BackendPtr inner, RetryPolicy p) : inner_(std::move(inner)), p_(std::move(p)) {}

  std::string Location() const override { return inner_->Location(); }
  unsigned Concurrency() const override { return inner_->Concurrency(); }
  Status Create() override;
  Status Save(const repo::Handle& h, const uint8_t* data, size_t n) override;
  Result<Bytes> Load(const repo::Handle& h, uint64_t offset, uint64_t length) override;
  Status LoadInto(const repo::Handle& h, uint64_t offset, uint64_t length, Bytes* out) override;
  Result<repo::FileInfo> Stat(const repo::Handle& h) override;
  Status List(repo::FileType t, const std::function<Status(const repo::FileInfo&)>& fn) override;
  Status Remove(const repo::Handle& h) override;
  Result<uint64_t> RemoveLeftovers(repo::FileType t) override;

 private:
  template <typename F>
  auto Retry(F&& f) -> decltype(f());

  repo::BackendPtr inner_;
  RetryPolicy p_;
};

}  // namespace mx::backend
