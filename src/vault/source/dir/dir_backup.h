// Backup of local directory trees into a snapshot (the `dir` source).
//
// Pipeline: the calling thread walks the trees depth-first; reader threads
// read and chunk files (restic's chunker with the repository's polynomial);
// blob workers hash, deduplicate, compress, encrypt and pack the chunks
// (BlobSaver); a directory's tree blob is written by whichever thread finishes
// its last child. Chunk memory in flight is bounded (ByteBudget), so memory
// does not grow with the input. Files unchanged since the parent snapshot
// (type, size, mtime, ctime, inode) are not read.
//
// One Backup() call at a time per Repository object; the repository must have
// its index loaded and a lock held by the caller.
#pragma once

#include <atomic>
#include <optional>
#include <string>
#include <vector>

#include "repo/repository.h"

namespace mx::vault {

struct BackupOptions {
  std::vector<std::string> paths;     // as given on the command line
  std::vector<std::string> excludes;  // glob patterns (docs/cli.md)
  std::vector<std::string> tags;
  std::string hostname;
  std::optional<repo::Id> parent;  // explicit parent; else the newest matching
  bool force = false;              // read every file, ignore the parent
  unsigned threads = 0;            // 0: one per core
  bool count_totals = false;       // walk once more in the background for ETA
  std::string program_version;
};

/// Live counters for a progress display; safe to read from another thread.
struct BackupProgress {
  std::atomic<uint64_t> files_done{0};
  std::atomic<uint64_t> bytes_done{0};
  std::atomic<uint64_t> files_total{0};
  std::atomic<uint64_t> bytes_total{0};
  std::atomic<bool> totals_known{false};
  std::atomic<uint64_t> errors{0};
};

struct BackupSummary {
  repo::Id snapshot_id;
  repo::Snapshot snapshot;
  std::optional<repo::Id> parent;
  uint64_t files_new = 0, files_changed = 0, files_unmodified = 0;
  uint64_t dirs_new = 0, dirs_changed = 0, dirs_unmodified = 0;
  uint64_t data_blobs = 0, tree_blobs = 0;
  uint64_t data_added = 0;         // plaintext bytes of new blobs
  uint64_t data_added_packed = 0;  // bytes written to packs
  uint64_t total_files_processed = 0, total_bytes_processed = 0;
  double seconds = 0;
  std::vector<Error> file_errors;  // files that could not be read (skipped)
};

/// Fails (and writes no snapshot) when the repository cannot be written or a
/// target path does not exist; unreadable files inside the trees are skipped
/// and listed in file_errors.
Result<BackupSummary> Backup(repo::Repository& repo, const BackupOptions& opts,
                             BackupProgress* progress);

/// Turns a target as given ("src", "../a/b", "/srv/x") into the snapshot's
/// path components, as restic does: "." and ".." parts are dropped from
/// relative paths; absolute paths keep all their components.
std::vector<std::string> TargetComponents(const std::string& target);

}  // namespace mx::vault
