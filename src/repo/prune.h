// Prune: removes the data no snapshot references (restic's `prune`, same
// write order). Blobs reachable from any snapshot are marked; packs holding
// only unreferenced blobs are deleted, partly used packs are repacked (their
// used blobs copied, sealed bytes unchanged after verification, into new
// packs) until the unused space left is within the tolerated limit. Then a
// new index is written, and only after it is durable are the old index files
// and the packs deleted — so a prune killed at any point leaves every
// snapshot restorable; what it leaves behind (unindexed packs, duplicate
// index entries) the next prune removes.
//
// The caller holds an exclusive lock and has loaded the index. Memory: one
// byte per index slot for the marks, a few dozen bytes per pack, and one
// pack being repacked.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "repo/repository.h"

namespace mx::repo {

struct PruneOptions {
  /// Unused space tolerated in the packs kept: a percentage of the used data
  /// (restic's default 5%), or an absolute number of bytes (UINT64_MAX:
  /// unlimited, i.e. never repack for space).
  double max_unused_percent = 5;
  std::optional<uint64_t> max_unused_bytes;
  /// Stop choosing packs to repack once this many pack bytes are chosen (0: no limit).
  uint64_t max_repack_bytes = 0;
  bool dry_run = false;
  size_t pack_size = 4 << 20;
  std::function<void(const std::string&)> on_progress;
};

struct PruneReport {
  size_t snapshots = 0, trees = 0;
  uint64_t used_blobs = 0, used_bytes = 0;      // sealed sizes as stored
  uint64_t unused_blobs = 0, unused_bytes = 0;  // includes duplicate copies
  size_t packs = 0, packs_keep = 0, packs_repack = 0, packs_delete = 0;
  size_t packs_unindexed = 0, packs_missing = 0;
  uint64_t bytes_repack = 0;        // size of the packs repacked
  uint64_t bytes_repack_freed = 0;  // unused bytes inside them
  uint64_t bytes_delete = 0;        // size of the wholly unused packs
  uint64_t bytes_unindexed = 0;     // size of packs no index listed
  uint64_t bytes_leftovers = 0;     // temporary files of interrupted saves, removed
  uint64_t unused_after = 0;        // unused bytes left in kept packs
  uint64_t size_before = 0, size_after = 0;  // all packs, bytes
  size_t packs_written = 0;
  uint64_t bytes_written = 0;
  size_t index_files_removed = 0, index_files_written = 0;
  bool changed = false;  // whether anything was (or, dry run, would be) changed
};

Result<PruneReport> Prune(Repository& repo, const PruneOptions& opts);

}  // namespace mx::repo
