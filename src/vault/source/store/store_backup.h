// Store-level backup of one mxstore database into a snapshot (the `store`
// source). The snapshot's tree is
//     /<database>/rocksdb/<files>     the database files and logs, as RocksDB names them
//     /<database>/backup.json         the manifest (docs/formats/backup.md)
// so `restic restore` alone yields the files. Tags carry the type, method,
// log range and chain for `snapshots`. The store is told to complete (and
// truncate logs) only after the snapshot is saved in the repository.
#pragma once

#include <atomic>
#include <string>

#include "repo/repository.h"
#include "vault/source/store/store_client.h"

namespace mx::vault {

struct StoreBackupOptions {
  std::string type = "full";        // full, incremental, differential, copy
  std::string method = "snapshot";  // snapshot, streaming
  std::string hostname;             // recorded in the snapshot (default: the store's host)
  std::vector<std::string> tags;
  std::string program_version;
  unsigned threads = 0;
  uint64_t limit_bytes_per_second = 0;  // 0: as fast as the store sends
};

struct StoreBackupProgress {
  std::atomic<uint64_t> files_done{0}, bytes_done{0}, files_total{0}, bytes_total{0};
};

struct StoreBackupSummary {
  repo::Id snapshot_id;
  std::string session, type, method;
  uint64_t files = 0, bytes = 0;
  uint64_t data_added = 0, data_added_packed = 0;
  uint64_t first_log = 0, newest_log = 0, first_seq = 0, sequence = 0;
  uint64_t commits_blocked_us = 0;
  uint64_t logs_truncated = 0;
  double seconds = 0;
};

/// Backs up `address.database`. On any failure before the snapshot is saved
/// the session is aborted (nothing truncated) and no snapshot is written.
Result<StoreBackupSummary> BackupStore(repo::Repository& repo, StoreClient& client, const StoreBackupOptions& opts,
                                       StoreBackupProgress* progress);

/// The manifest file name inside /<database>/.
constexpr const char* kStoreManifestName = "backup.json";

}  // namespace mx::vault
