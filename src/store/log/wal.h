// Reading RocksDB write-ahead logs (the store's transaction logs) ourselves.
//
// RocksDB 7.8.3 never reads WAL files in its verify calls and never notices a
// missing WAL in the middle of a chain (../shared/ROCKSDB-NOTES.md), so the
// store parses them: each record's CRC-32C, and the sequence range of every
// write batch. docs/formats/store.md describes the record format. Stateless
// functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/error.h"

namespace mx::store {

/// What one log file holds.
struct WalFileInfo {
  std::string path;
  uint64_t number = 0;      // from the file name (000012.log → 12)
  bool archived = false;    // in archive/ (obsolete, kept for backups)
  uint64_t size = 0;
  uint64_t batches = 0;     // write batches read
  uint64_t first_seq = 0;   // sequence of the first batch (0 when empty)
  uint64_t last_seq = 0;    // last sequence the file covers (0 when empty)
  bool gap_inside = false;  // a batch did not follow on from the one before
  // The commit stamp mxstore writes first in every batch (docs/formats/store.md,
  // "Commit stamps"): the database identity and the commit time. Empty / 0
  // when no batch carries one (logs written before stamps existed).
  std::string identity;          // hex of the first stamp's identity
  std::string foreign_identity;  // set when a later batch names another database
  int64_t first_time_us = 0, last_time_us = 0;
  uint32_t crc32c = 0;           // of the bytes read (the whole file, or the prefix asked for)
  // Damage: empty when every record checked out. A torn record at the very
  // end of the newest live log (an interrupted append) is reported in
  // `torn_tail`, not as damage.
  std::string damage;
  bool torn_tail = false;
};

/// Parses one log file: every record's checksum and every batch's sequence.
/// IO_ERROR when the file cannot be read; damage is reported in the result.
/// `max_size` reads only that prefix (a live log captured at a size).
Result<WalFileInfo> ReadWalFile(const std::string& path, uint64_t max_size = UINT64_MAX);
/// The same on bytes already in memory (what the fuzz target drives).
WalFileInfo ParseWal(const uint8_t* data, size_t size);

/// Where one log file is, without reading it.
struct WalPath {
  uint64_t number = 0;
  std::string path;
  bool archived = false;
};
/// The database's logs (live `*.log` in `db_dir` and `archive/*.log`),
/// ordered by number; nothing is read. IO_ERROR when `db_dir` is unreadable.
Result<std::vector<WalPath>> ListWalPaths(const std::string& db_dir);

/// Lists the database's logs (as ListWalPaths), each parsed.
Result<std::vector<WalFileInfo>> ListWalFiles(const std::string& db_dir);

/// The first gap in the chain of `logs` (ordered by number; empty files are
/// skipped): a description naming the two logs and the missing sequence
/// range, or empty when every batch follows on from the one before.
std::string FindChainGap(const std::vector<WalFileInfo>& logs);

/// The commit stamp: LogData record 'M' 'X' 0x01 + 16-byte identity +
/// 8-byte little-endian microseconds since the epoch (27 bytes).
std::string MakeCommitStamp(const std::string& identity_hex, int64_t time_us);
/// Decodes a stamp; false when `data` is not one.
bool ParseCommitStamp(const uint8_t* data, size_t n, std::string* identity_hex, int64_t* time_us);

}  // namespace mx::store
