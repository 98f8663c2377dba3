// Repository verification (`mxvault check`): indexes against packs, pack
// sizes, every snapshot's trees and the blobs they reference, and with
// read_data every byte of every pack (hash, header, MAC, blob ids).
// Runs on one thread per core; the caller holds a lock.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "repo/repository.h"

namespace mx::repo {

struct CheckOptions {
  bool read_data = false;
  /// Called with human-readable progress ("checking snapshots", "read 10/200 packs").
  std::function<void(const std::string&)> on_progress;
};

struct CheckReport {
  std::vector<Error> errors;       // damaged or missing objects
  std::vector<std::string> notes;  // non-critical findings (unindexed packs)
  size_t snapshots = 0, trees = 0, packs = 0, blobs = 0;
  uint64_t bytes_read = 0;
};

/// Fails only when the check itself cannot run (repository unreadable);
/// findings go into the report.
Result<CheckReport> CheckRepository(Repository& repo, const CheckOptions& opts);

/// Verifies one whole pack's bytes against its name and `expected` index
/// entries (may be empty: then only the pack's own consistency). Appends
/// findings to `errors`.
void VerifyPackData(const Key& key, const Id& pack, const Bytes& data,
                    const std::vector<IndexBlob>* expected, std::vector<Error>* errors);

}  // namespace mx::repo
