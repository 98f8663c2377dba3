// The database header: a small JSON record beside the RocksDB files that says
// what state the database is in (docs/formats/store.md). It is readable while
// the database is dismounted, as `eseutil /mh` reads an EDB header. Written
// by rename (tmp, fsync, rename, directory fsync). Value type; not shared.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace mx::store {

/// A completed backup as the header records it: when, and the log position
/// it reached (the newest log it holds and the last sequence in it).
struct BackupRecord {
  std::string time;       // RFC 3339
  uint64_t log_number = 0;
  uint64_t sequence = 0;
  std::string log_chain;  // the chain it belongs to (a later chain cannot build on it)
  std::string session;    // the backup session's id
};

struct DatabaseHeader {
  int format = 1;
  std::string name;
  std::string identity;    // random 128-bit id, hex; never changes
  std::string created;     // RFC 3339
  std::string state = "dismounted";  // "mounted" | "dismounted"
  bool clean_shutdown = true;        // false while mounted and after a crash
  bool last_mount_recovered = false; // the last mount replayed a dirty database
  bool circular_logging = false;
  std::string log_chain;   // random id; a new chain starts when circular logging changes
  uint64_t chain_first_log = 0;  // first log number of the current chain
  uint64_t oldest_log = 0, oldest_seq = 0;  // log range, refreshed at mount/dismount
  uint64_t newest_log = 0, newest_seq = 0;
  std::optional<BackupRecord> last_full;
  std::optional<BackupRecord> last_incremental;
  std::optional<BackupRecord> last_differential;
  std::optional<BackupRecord> last_copy;
  std::string checksums = "crc32c (block and file)";

  /// Reads `dir`/header.json. NOT_FOUND when `dir` holds no database.
  static Result<DatabaseHeader> Load(const std::string& dir);
  /// Writes `dir`/header.json durably.
  Status Save(const std::string& dir) const;
  nlohmann::json ToJson() const;
};

}  // namespace mx::store
