// LocalBackend: a repository in a local directory, laid out as restic lays it
// out (config, keys/, locks/, snapshots/, index/, data/XX/). Saves write a
// temporary file in the target directory, fsync it, rename it into place and
// fsync the directory, so a crash leaves the old state or the new file whole.
// Thread-safe.
#pragma once

#include <string>

#include "repo/backend.h"

namespace mx::backend {

class LocalBackend : public repo::Backend {
 public:
  explicit LocalBackend(std::string root) : root_(std::move(root)) {}

  std::string Location() const override { return root_; }
  Status Create() override;
  Status Save(const repo::Handle& h, const uint8_t* data, size_t n) override;
  Result<Bytes> Load(const repo::Handle& h, uint64_t offset, uint64_t length) override;
  Status LoadInto(const repo::Handle& h, uint64_t offset, uint64_t length, Bytes* out) override;
  Result<repo::FileInfo> Stat(const repo::Handle& h) override;
  Status List(repo::FileType t,
              const std::function<Status(const repo::FileInfo&)>& fn) override;
  Status Remove(const repo::Handle& h) override;
  Result<uint64_t> RemoveLeftovers(repo::FileType t) override;

  /// Path of the file behind `h` (for messages and tests).
  std::string PathOf(const repo::Handle& h) const;

 private:
  std::string DirOf(const repo::Handle& h) const;
  Status Walk(repo::FileType t, bool leftovers, const std::function<Status(const repo::FileInfo&)>& fn);
  std::string root_;
};

}  // namespace mx::backend
