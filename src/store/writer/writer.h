// Writer: one database's side of a backup session (docs/formats/backup.md).
// It decides what a backup of each type holds, takes the consistent file set
// through a FreezeProvider, verifies the log chain, and on completion
// truncates the logs the backup now holds and records it in the header.
//
// States (reported by `mxvault writers`):
//   stable
//   waiting_for_freeze          Begin is preparing (log sync, pin, gate)
//   waiting_for_thaw            a dry-run freeze is held by the client
//   waiting_for_post_snapshot   the file set is taken; files are being read
//   waiting_for_backup_complete every file was read; waiting for End
//   failed                      at a named step, with the last error; the next
//                               Begin starts again from here
//
// One session per database at a time: a second Begin is refused with
// BACKUP_IN_PROGRESS naming the holder. Abort (or the end of the connection,
// or a store restart) releases the freeze provider and changes nothing.
// Thread-safe: every method may be called from any thread.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "store/db/store.h"
#include "store/writer/freeze_provider.h"

namespace mx::store {

enum class BackupType { kFull, kIncremental, kDifferential, kCopy };
enum class BackupMethod { kSnapshot, kStreaming };
const char* BackupTypeName(BackupType t);
const char* BackupMethodName(BackupMethod m);

/// One file of a backup set.
struct BackupFile {
  std::string name;      // flat name inside the backup ("000012.sst", "000015.log", "CURRENT")
  std::string path;      // where the store reads it ("" when `contents` is used)
  std::string contents;  // the file's bytes when they are not read from disk (CURRENT)
  uint64_t size = 0;     // bytes that belong to the backup
  std::string kind;      // table, blob, manifest, current, options, log, other
  uint64_t log_number = 0, first_seq = 0, last_seq = 0;  // logs only
  uint32_t crc32c = 0;   // of the `size` bytes; verified again as they are read
};

struct SessionHolder {
  std::string session_id;
  std::string client;   // peer address as the transport saw it
  std::string started;  // RFC 3339
};

struct BackupSet {
  SessionHolder holder;
  BackupType type = BackupType::kFull;
  BackupMethod method = BackupMethod::kSnapshot;
  std::string database, identity, log_chain;
  uint64_t sequence = 0;    // the consistency point: the last sequence the set holds
  uint64_t first_log = 0, newest_log = 0;
  uint64_t first_seq = 0;   // first sequence in the set's logs (0: none)
  std::optional<BackupRecord> base;  // what an incremental/differential builds on
  std::vector<BackupFile> files;
  std::chrono::microseconds commits_blocked{0};
};

struct WriterStatus {
  std::string database;
  std::string state;        // see the table above
  std::string failed_step;  // when state == "failed"
  std::string last_error;
  std::optional<SessionHolder> holder;
  std::optional<BackupRecord> last_full, last_incremental, last_differential, last_copy;
  bool mounted = false;
  bool circular_logging = false;
};

class Writer {
 public:
  Writer(Store* store, std::string database) : store_(store), database_(std::move(database)) {}
  ~Writer();

  /// Starts a session. Refusals (at once, nothing held): DATABASE_NOT_FOUND,
  /// DATABASE_NOT_MOUNTED, BACKUP_IN_PROGRESS (naming the holder),
  /// CIRCULAR_LOGGING, NO_BASE_BACKUP, LOG_CHAIN_BROKEN; FREEZE_TIMEOUT when
  /// the freeze passed its deadline. `dry_run` checks and holds the session
  /// without taking files (for Freeze/Thaw rehearsals).
  Result<BackupSet> Begin(const SessionHolder& who, BackupType type, BackupMethod method,
                          std::chrono::milliseconds freeze_deadline, bool dry_run);
  /// Dry-run sessions only: closes the write gate (after syncing the log)
  /// until Thaw or the deadline, whichever comes first.
  Status Freeze(const std::string& session, std::chrono::milliseconds deadline);
  Result<std::chrono::microseconds> Thaw(const std::string& session);
  /// The session's file `name`, for reading; NOT_FOUND when not in the set.
  Result<BackupFile> File(const std::string& session, const std::string& name);
  /// The session's files.
  Result<std::vector<BackupFile>> Files(const std::string& session);
  /// Every file was read: the writer waits for End.
  void AllFilesRead(const std::string& session);
  /// Marks the session failed at `step` with `error` (and keeps it held until
  /// Abort).
  void Fail(const std::string& session, const std::string& step, const Error& error);
  /// Ends the session after the client's repository committed the snapshot:
  /// truncates (full, incremental) and records the backup. Returns the number
  /// of archived logs deleted and the record written.
  struct Completed {
    uint64_t truncated = 0;
    BackupRecord record;
  };
  Result<Completed> Complete(const std::string& session);
  /// Ends the session without changing anything. Idempotent.
  void Abort(const std::string& session);

  WriterStatus Report();

 private:
  struct Session {
    SessionHolder holder;
    BackupSet set;
    std::shared_ptr<Database> db;
    std::unique_ptr<FreezeProvider> provider;
    bool dry_run = false;
    bool frozen = false;
    std::chrono::steady_clock::time_point frozen_at;
  };
  /// Takes the file set of the session begun in `s.set` (type, method, base).
  Result<BackupSet> Prepare(Session& s, std::chrono::milliseconds deadline);
  void SetFailed(const std::string& step, const Error& e);  // requires mu_
  void Release(Session& s);                                 // requires mu_

  Store* const store_;
  const std::string database_;
  std::mutex mu_;
  std::unique_ptr<Session> session_;  // guarded by mu_
  std::string state_ = "stable";      // guarded by mu_
  std::string failed_step_, last_error_;
};

/// The writers of a store, one per database, created on first use.
class WriterRegistry {
 public:
  explicit WriterRegistry(Store* store) : store_(store) {}
  Writer& Get(const std::string& database);
  std::vector<WriterStatus> List();
  /// Removes checkpoint directories that a session of an earlier run left
  /// (a store that stopped mid-backup).
  void RemoveStaleCheckpoints();

 private:
  Store* const store_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<Writer>> writers_;
};

/// Refuses database names that are not a plain name (empty, '/', "..",
/// control characters): UNSAFE_PATH-like refusal as DATABASE_NOT_FOUND.
Status CheckDatabaseName(const std::string& name);

}  // namespace mx::store
