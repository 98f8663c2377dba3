// Restore of a store-level snapshot: the whole chain it needs (the full, plus
// the incrementals since, or the differential), checked before anything is
// written: one database identity and log chain, and log sequences without a
// gap (MISSING_LOGS names the first and last missing log and sequence).
// Writes DIR/rocksdb/ (database files and every log, later copies of a log
// replacing earlier ones) and DIR/restore-manifest.json, which
// `mxstore db recover DIR` reads. Every file's CRC-32C is checked against the
// manifest of the snapshot it came from.
#pragma once

#include <string>
#include <vector>

#include "repo/repository.h"

namespace mx::vault {

struct StoreRestoreSummary {
  std::vector<std::string> chain;  // snapshot ids (short), full first
  uint64_t files = 0, bytes = 0;
  uint64_t sequence = 0;           // the consistency point of the newest backup
  double seconds = 0;
};

/// True when `snap` is a store-level snapshot (tag "mxstore").
bool IsStoreSnapshot(const repo::Snapshot& snap);

/// What a store-level snapshot's manifest says about its place in a chain.
struct StoreBackupInfo {
  std::string type;          // full, incremental, differential, copy
  std::string session;       // the backup session that wrote it
  std::string base_session;  // the session it builds on ("" for a full or copy)
  std::string log_chain, database_identity, database;
};
/// Reads the manifest (backup.json) of a store-level snapshot.
Result<StoreBackupInfo> LoadStoreBackupInfo(repo::Repository& repo, const repo::Id& id, const repo::Snapshot& snap);

Result<StoreRestoreSummary> RestoreStoreChain(repo::Repository& repo, const repo::Id& id, const repo::Snapshot& snap,
                                              const std::string& target);

}  // namespace mx::vault
