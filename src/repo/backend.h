// Backend: plain storage of repository files, below encryption and dedup
// (restic's backend.Backend is the model). Implementations: LocalBackend
// (src/backend/local), S3Backend (later). Every implementation passes
// tests/backend_conformance_test.cc.
//
// Implementations must be thread-safe: the repository calls them from many
// threads at once.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/bytes.h"
#include "common/error.h"

namespace mx::repo {

enum class FileType { kConfig, kKey, kLock, kSnapshot, kIndex, kPack };

const char* FileTypeName(FileType t);  // "config", "keys", "locks", ...

struct Handle {
  FileType type;
  std::string name;  // lower-case hex id; empty for kConfig
};

/// Whether `name` can name a repository file: 64 lower-case hex digits (the
/// SHA-256 of its content). Listings skip everything else.
inline bool IsObjectName(const std::string& name) {
  if (name.size() != 64) return false;
  for (char c : name)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

struct FileInfo {
  std::string name;
  uint64_t size = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;

  /// Where the repository lives, for messages ("/srv/repo", "s3:...").
  virtual std::string Location() const = 0;

  /// How many requests are worth running at once. A local disk answers 1:
  /// reads and writes land in the page cache and more threads only contend.
  /// Object storage answers its connection limit; the backup keeps that many
  /// pack uploads in flight and the restore reads that many packs at once.
  virtual unsigned Concurrency() const { return 1; }

  /// Creates the empty layout (directories). REPO_EXISTS if a config exists.
  virtual Status Create() = 0;

  /// Stores `data` under `h`. Atomic: readers see either nothing or the whole
  /// file, never a prefix, even if the process dies mid-call; when Save
  /// returns OK the file is durable. Saving an existing name replaces it.
  virtual Status Save(const Handle& h, const uint8_t* data, size_t n) = 0;

  /// Reads `length` bytes at `offset` (length 0: to the end). NOT_FOUND when
  /// the file does not exist; IO_ERROR when it is shorter than requested.
  virtual Result<Bytes> Load(const Handle& h, uint64_t offset = 0, uint64_t length = 0) = 0;

  /// Load into `out` (resized; its capacity is reused across calls).
  virtual Status LoadInto(const Handle& h, uint64_t offset, uint64_t length, Bytes* out) {
    auto r = Load(h, offset, length);
    if (!r.ok()) return std::move(r).error();
    *out = std::move(*r);
    return Ok();
  }

  /// NOT_FOUND when the file does not exist.
  virtual Result<FileInfo> Stat(const Handle& h) = 0;

  /// Calls `fn` for every file of type `t` with a valid name (others, like
  /// temporary files of an interrupted save, are skipped). Stops at the first
  /// error `fn` returns.
  virtual Status List(FileType t, const std::function<Status(const FileInfo&)>& fn) = 0;

  /// Removes `h`. NOT_FOUND when it does not exist.
  virtual Status Remove(const Handle& h) = 0;

  /// Removes what saves of type `t` interrupted by a crash left behind
  /// (temporary files) and returns how many bytes that freed. Only while no
  /// other process writes: the caller holds an exclusive lock (prune).
  virtual Result<uint64_t> RemoveLeftovers(FileType t) {
    (void)t;
    return uint64_t{0};
  }
};

using BackendPtr = std::shared_ptr<Backend>;

}  // namespace mx::repo
