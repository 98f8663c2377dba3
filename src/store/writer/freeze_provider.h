// Freeze providers: how a backup gets a consistent file set of a live
// database (docs/formats/store.md, "Backups"). Two implementations:
//
//   CheckpointFreezeProvider (method "snapshot"): makes the log durable,
//     pins files, closes the write gate (bounded by the freeze deadline),
//     captures the live files and sequence, reopens the gate, and then
//     materialises a checkpoint directory: immutable files hard-linked,
//     MANIFEST / CURRENT / OPTIONS / logs copied up to their captured sizes.
//     Commits are blocked only for the capture (fractions of a millisecond).
//   PinnedFreezeProvider (method "streaming"): makes the log durable and pins
//     the live files; commits are never blocked; the set names the live files
//     with their captured sizes.
//
// Release() always unpins, whatever happened before; Prepare() on failure
// leaves nothing pinned or frozen. One provider serves one backup session at a
// time; not thread-safe.
#pragma once

#include <chrono>
#include <string>

#include "common/error.h"
#include "store/db/database.h"

namespace mx::store {

struct FrozenSet {
  FileSet files;
  std::chrono::microseconds commits_blocked{0};  // how long the gate was closed
};

class FreezeProvider {
 public:
  virtual ~FreezeProvider() = default;
  /// A consistent file set of `db`. FREEZE_TIMEOUT when the freeze passed
  /// its deadline (nothing taken); STORE_ENGINE, IO_ERROR.
  virtual Result<FrozenSet> Prepare(Database& db, std::chrono::milliseconds freeze_deadline) = 0;
  /// Ends the backup's hold on the database (unpins; removes a checkpoint).
  virtual Status Release(Database& db) = 0;
};

class CheckpointFreezeProvider : public FreezeProvider {
 public:
  /// `checkpoint_dir` must not exist; it is created on the database's file
  /// system (hard links) and removed by Release().
  explicit CheckpointFreezeProvider(std::string checkpoint_dir) : dir_(std::move(checkpoint_dir)) {}
  Result<FrozenSet> Prepare(Database& db, std::chrono::milliseconds freeze_deadline) override;
  Status Release(Database& db) override;

 private:
  std::string dir_;
  bool pinned_ = false;
};

class PinnedFreezeProvider : public FreezeProvider {
 public:
  Result<FrozenSet> Prepare(Database& db, std::chrono::milliseconds freeze_deadline) override;
  Status Release(Database& db) override;

 private:
  bool pinned_ = false;
};

/// Writes `set` into `target` as a directory RocksDB opens: every file under
/// its name (archived logs at the top level), immutable files hard-linked
/// when possible, the others copied up to their captured size.
Status MaterializeFileSet(const FileSet& set, const std::string& target);

}  // namespace mx::store
