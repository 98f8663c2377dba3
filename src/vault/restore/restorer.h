// Restores a snapshot (or a subtree of it) into a target directory.
//
// Safety: every tree is validated before anything is written — a name that
// is empty, ".", "..", or contains '/' or NUL fails the restore with
// UNSAFE_PATH and nothing is written. Files are created with O_NOFOLLOW and
// directories are entered only if they are real directories, so the restore
// never writes outside the target. Every blob is verified (MAC and SHA-256)
// as it is read; a file whose data cannot be read in full is removed and
// reported, never left silently wrong.
//
// Two ways to read: blob by blob (a local disk: each file is read and written
// by one worker, a directory at a time, which keeps the page cache warm and
// the directory inode uncontended) and pack by pack (object storage: every
// file is planned first, then each pack is read once, with one ranged read
// per run of needed blobs, by as many workers as the backend has
// connections; each blob is written to every place that needs it).
//
// Files are restored by a pool of threads; one Restore() at a time per call.
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "repo/repository.h"

namespace mx::vault {

struct RestoreOptions {
  std::string target;
  std::string subpath;                // "src/a" within the snapshot; empty: all
  std::vector<std::string> includes;  // glob patterns on snapshot paths
  std::vector<std::string> excludes;
  unsigned threads = 0;
  /// kAuto: by pack when the backend's Concurrency() is above 1.
  enum class Read { kAuto, kByBlob, kByPack } read = Read::kAuto;
};

struct RestoreProgress {
  std::atomic<uint64_t> files_done{0}, bytes_done{0};
  std::atomic<uint64_t> files_total{0}, bytes_total{0};
};

struct RestoreSummary {
  uint64_t files = 0, dirs = 0, links = 0, bytes = 0;
  double seconds = 0;
  std::vector<Error> errors;  // files that could not be restored (removed)
};

/// Fails before writing anything when the snapshot cannot be read or names an
/// unsafe path; per-file failures are collected in errors.
Result<RestoreSummary> Restore(repo::Repository& repo, const repo::Snapshot& snapshot,
                               const RestoreOptions& opts, RestoreProgress* progress);

/// Matches restic's restore filters: a pattern without '/' matches any name;
/// with '/' it matches the snapshot path ("/src/a/file").
bool PatternMatches(const std::string& pattern, const std::string& path);

}  // namespace mx::vault
