// Thin POSIX file helpers that turn errno into mx::Error in one place.
// Stateless; an Fd is owned by one thread at a time.
#pragma once

#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/error.h"

namespace mx {

/// An owned file descriptor, closed on destruction.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Fd& operator=(Fd&& o) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd();
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() { int f = fd_; fd_ = -1; return f; }

 private:
  int fd_ = -1;
};

/// Reads the whole file at `path`.
Result<Bytes> ReadFile(const std::string& path);
/// Reads exactly `n` bytes at `offset`; a short file is an IO_ERROR naming `path`.
Status PreadFull(int fd, uint8_t* buf, size_t n, uint64_t offset, const std::string& path);
/// Writes all of `n` bytes (at `offset`, or at the file position if offset < 0).
Status WriteFull(int fd, const uint8_t* buf, size_t n, int64_t offset, const std::string& path);
/// Replaces `path` with `data` durably: writes `path`.tmp with `mode`, fsyncs
/// it, renames it over `path` and fsyncs the directory. A crash leaves the
/// old or the new file, never a mix.
Status WriteFileAtomic(const std::string& path, std::string_view data, int mode = 0600);
/// CRC-32C of the file's first `limit` bytes (all of it by default);
/// `size` gets the bytes read. A file shorter than `limit` is an IO_ERROR.
Result<uint32_t> FileCrc32c(const std::string& path, uint64_t limit = UINT64_MAX, uint64_t* size = nullptr);
/// fsync of a directory, so a rename inside it is durable.
Status SyncDir(const std::string& dir);
/// mkdir -p with `mode` for created directories.
Status MakeDirs(const std::string& path, int mode = 0700);

bool IsTerminal(int fd);

}  // namespace mx
