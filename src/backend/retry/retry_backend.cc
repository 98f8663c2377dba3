#include "backend/retry/retry_backend.h"

#include <chrono>
#include <random>
#include <thread>
#include <vector>

namespace mx::backend {
using repo::FileType;
using repo::Handle;

namespace {

// Backends report what may pass (connections, throttling, server errors) as
// NETWORK; a local disk's IO_ERROR (permission, space) does not pass by waiting.
bool Transient(const Error& e) { return e.code() == Code::kNetwork; }

template <typename T>
const Error* ErrorOf(const Result<T>& r) {
  return r.ok() ? nullptr : &r.error();
}

}  // namespace

template <typename F>
auto RetryBackend::Retry(F&& f) -> decltype(f()) {
  thread_local std::mt19937 rng(std::random_device{}());
  double delay = p_.first_delay;
  for (int attempt = 1;; ++attempt) {
    auto r = f();
    const Error* e = ErrorOf(r);
    if (!e || !Transient(*e)) return r;
    if (attempt >= p_.attempts)
      return e->Wrap("gave up after " + std::to_string(attempt) + " attempts", "");
    double wait = std::min(delay, p_.max_delay) * std::uniform_real_distribution<double>(0.5, 1.0)(rng);
    if (p_.on_retry) p_.on_retry(*e, attempt, wait);
    std::this_thread::sleep_for(std::chrono::duration<double>(wait));
    delay *= 2;
  }
}

Status RetryBackend::Create() {
  return Retry([&] { return inner_->Create(); });
}

Status RetryBackend::Save(const Handle& h, const uint8_t* data, size_t n) {
  return Retry([&] { return inner_->Save(h, data, n); });
}

Result<Bytes> RetryBackend::Load(const Handle& h, uint64_t offset, uint64_t length) {
  return Retry([&] { return inner_->Load(h, offset, length); });
}

Status RetryBackend::LoadInto(const Handle& h, uint64_t offset, uint64_t length, Bytes* out) {
  return Retry([&] { return inner_->LoadInto(h, offset, length, out); });
}

Result<repo::FileInfo> RetryBackend::Stat(const Handle& h) {
  return Retry([&] { return inner_->Stat(h); });
}

Status RetryBackend::List(FileType t, const std::function<Status(const repo::FileInfo&)>& fn) {
  std::vector<repo::FileInfo> all;
  MX_CHECK(Retry([&]() -> Status {
    all.clear();
    return inner_->List(t, [&](const repo::FileInfo& fi) {
      all.push_back(fi);
      return Ok();
    });
  }));
  for (const auto& fi : all) MX_CHECK(fn(fi));
  return Ok();
}

Status RetryBackend::Remove(const Handle& h) {
  return Retry([&] { return inner_->Remove(h); });
}

Result<uint64_t> RetryBackend::RemoveLeftovers(FileType t) {
  return Retry([&] { return inner_->RemoveLeftovers(t); });
}

}  // namespace mx::backend
