// One mailbox database: a RocksDB instance in its own directory, holding many
// mailboxes, their folders and messages, and bodies stored once per database.
// docs/formats/store.md gives the key layout, the header and the invariants.
//
// Thread-safety: every public method may be called from any thread. Writes
// run concurrently and are group-committed by RocksDB (one WAL fsync for all
// writers waiting at that moment); each returns only once its batch is
// durable in the transaction log. Lifecycle (Mount/Dismount) is driven by the
// owner (Store), which must not destroy a Database while calls are in flight;
// Dismount waits for them within a bound.
//
// Concurrency table:
//   Deliver / Create* / Delete*  — concurrent with each other and with reads
//   Dismount                     — refuses new work at once, waits for work in flight
//   Freeze (issue 4)             — will take the write gate exclusive
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "store/db/header.h"
#include "store/db/write_gate.h"

namespace rocksdb {
class DB;
class WriteBatch;
}

namespace mx::store {

using BodyId = std::array<uint8_t, 32>;  // SHA-256 of the message bytes

enum Flag : uint32_t {
  kSeen = 1,
  kAnswered = 2,
  kFlagged = 4,
  kDeleted = 8,
  kDraft = 16,
};

struct MailboxInfo {
  uint64_t id = 0;
  std::string name;
  std::string created;
};

struct FolderInfo {
  uint32_t id = 0;
  std::string name;          // hierarchy separator '/'
  std::string special_use;   // "\\Sent", ... or empty
  uint32_t uidvalidity = 0;
  uint32_t uidnext = 1;
  uint64_t highestmodseq = 0;
  uint32_t messages = 0;     // filled by ListFolders
  /// Keywords ever used in the folder, in order of first use (IMAP's FLAGS
  /// lists them); filled by GetFolder.
  std::vector<std::string> keywords;
  bool subscribed = true;
};

struct MessageRecord {
  uint32_t uid = 0;
  uint64_t modseq = 0;
  uint32_t flags = 0;
  std::vector<std::string> keywords;
  int64_t internal_date = 0;    // Unix seconds
  int32_t internal_zone = 0;    // minutes east of UTC, as given at delivery/APPEND
  uint64_t size = 0;
  BodyId body{};
};

/// One message of an APPEND (MULTIAPPEND gives several).
struct AppendItem {
  std::string_view message;
  uint32_t flags = 0;
  std::vector<std::string> keywords;
  int64_t internal_date = 0;
  int32_t internal_zone = 0;
};

struct DatabaseOptions {
  bool serial_commits = false;  // true: one synced write at a time (no group commit), for measurement
  uint64_t write_buffer_size = 64 << 20;
  uint64_t min_blob_size = 64 << 10;  // bodies at least this large go to blob files
  uint64_t max_message_size = 64 << 20;
};

/// One file of a captured file set (see Database::LiveFiles).
struct LiveFile {
  std::string directory;   // where it lives now
  std::string name;        // relative file name ("000012.sst", "MANIFEST-000005", "archive/000007.log"...)
  std::string kind;        // "table", "blob", "log", "manifest", "current", "options", "other"
  uint64_t size = 0;       // bytes that belong to the set
  bool trim_to_size = false;       // the file may have grown since; use only `size` bytes
  std::string replacement_contents;  // when set, the file's contents in the set (CURRENT)
};

/// A consistent cut of a database: its live files and the latest sequence.
struct FileSet {
  uint64_t sequence = 0;
  std::vector<LiveFile> files;
};

/// What `mxstore db recover` asks for.
struct RecoverOptions {
  uint64_t until_seq = 0;       // stop after this sequence (0: replay everything)
  int64_t until_time_us = 0;    // stop before the first commit after this time (0: no limit)
  uint64_t expect_seq = 0;      // the restored chain's consistency point: reaching less is an error
  std::string name;             // the database name for the header
  std::string identity;         // the database identity the logs must carry
  std::string roll_forward_from;  // a live database directory (or its rocksdb/) whose logs to replay too
  uint64_t roll_forward_from_log = 0;  // copy its logs numbered from here (the restored newest log)
};

struct RecoverReport {
  uint64_t sequence = 0;        // latest sequence after replay
  uint64_t batches = 0;         // write batches replayed
  uint64_t logs = 0;
  int64_t last_commit_us = 0;   // stamp of the last replayed commit
  bool stopped_early = false;   // --until took effect
  uint64_t logs_rolled_forward = 0;  // logs copied from the live store
};

/// One mailbox delivery result.
struct Delivered {
  std::string mailbox;
  uint32_t uid = 0;
};

class Database {
 public:
  /// Creates an empty database in `dir` (which must not hold one) and leaves
  /// it dismounted. DATABASE_EXISTS, IO_ERROR, STORE_ENGINE.
  static Status Create(const std::string& dir, const std::string& name, bool circular_logging);

  /// Opens the database in `dir` for service. A database that was not
  /// cleanly dismounted is recovered from its logs (RocksDB replays them) and
  /// the header records that it was. DATABASE_NOT_FOUND, DATABASE_CORRUPT
  /// (a log is damaged in the middle), STORE_ENGINE.
  static Result<std::unique_ptr<Database>> Mount(const std::string& dir,
                                                 const DatabaseOptions& options);
  ~Database();

  /// Replays the logs in `dir`/rocksdb onto its database files (a restored
  /// backup) with a strict sequence check, verifies every file, and writes a
  /// clean, dismounted header. LOG_CHAIN_BROKEN on a gap (naming it),
  /// DATABASE_CORRUPT on a damaged log or file, MISSING_LOGS when the replay
  /// ends before `expect_seq`.
  static Result<RecoverReport> Recover(const std::string& dir, const RecoverOptions& options);

  /// Refuses new work, waits up to `bound` for work in flight, closes the
  /// engine and marks the header clean. DISMOUNT_TIMEOUT leaves the database
  /// refusing work but open; call again.
  Status Dismount(std::chrono::milliseconds bound);

  bool mounted() const { return state_.load() == State::kMounted; }
  /// Counts durable commits: a session that saw one value and now sees
  /// another knows something changed (IMAP IDLE polls it; one atomic load).
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  const std::string& dir() const { return dir_; }
  const std::string& name() const { return header_.name; }
  /// The header with the log range refreshed from the live engine.
  DatabaseHeader Header();

  Result<MailboxInfo> CreateMailbox(const std::string& mailbox);
  Status DeleteMailbox(const std::string& mailbox);
  Result<std::vector<MailboxInfo>> ListMailboxes();
  Result<FolderInfo> CreateFolder(const std::string& mailbox, const std::string& folder,
                                  const std::string& special_use);
  Result<std::vector<FolderInfo>> ListFolders(const std::string& mailbox);
  /// One folder with its UIDNEXT and HIGHESTMODSEQ, without counting its
  /// messages (ListFolders does). FOLDER_NOT_FOUND.
  Result<FolderInfo> GetFolder(const std::string& mailbox, const std::string& folder);
  /// Removes a folder with its messages (each drops its body reference), in
  /// one durable batch. FOLDER_NOT_FOUND.
  Status DeleteFolder(const std::string& mailbox, const std::string& folder);
  /// Renames `from` and every folder below it ("from/...") to `to`; their
  /// messages, UIDs and UIDVALIDITY stay. FOLDER_NOT_FOUND, MAILBOX_EXISTS
  /// when `to` (or a renamed child) exists.
  Status RenameFolder(const std::string& mailbox, const std::string& from, const std::string& to);

  /// Delivers `message` to `folder` of every mailbox in `mailboxes` in one
  /// atomic, durable batch: when this returns OK the message is in the log
  /// (fsynced); after a crash it is either in every one of them or in none.
  /// DATABASE_NOT_MOUNTED, MAILBOX_NOT_FOUND, MESSAGE_TOO_LARGE, STORE_ENGINE.
  Result<std::vector<Delivered>> Deliver(const std::vector<std::string>& mailboxes,
                                         std::string_view message, int64_t internal_date,
                                         int32_t internal_zone,
                                         const std::string& folder = "INBOX");

  /// Appends `message` to `folder` of one mailbox with its flags, keywords
  /// and internal date, in one durable batch (IMAP APPEND): after a crash it
  /// is there whole, flags included, or not at all. Returns its UID. Errors
  /// as Deliver, FOLDER_NOT_FOUND for a missing folder.
  Result<uint32_t> Append(const std::string& mailbox, const std::string& folder, std::string_view message,
                          uint32_t flags, const std::vector<std::string>& keywords, int64_t internal_date,
                          int32_t internal_zone);

  /// Appends several messages to one folder in one durable batch (IMAP
  /// MULTIAPPEND): after a crash all are there or none. UIDs in order.
  Result<std::vector<uint32_t>> AppendMany(const std::string& mailbox, const std::string& folder,
                                           const std::vector<AppendItem>& items);

  /// One message; NOT_FOUND when it was expunged (or never delivered).
  Result<MessageRecord> GetMessage(const std::string& mailbox, const std::string& folder, uint32_t uid);
  /// The UIDs of `folder` that commits after generation `since` added,
  /// changed or expunged (unsorted, may repeat), and the generation now.
  /// False when the journal does not reach back to `since`, or a commit in
  /// between changed folders themselves: then re-read the folder.
  bool ChangesSince(uint64_t since, const std::string& mailbox, const std::string& folder,
                    std::vector<uint32_t>* uids, uint64_t* now);
  /// Registers an eventfd that every commit writes to (IMAP IDLE sleeps on
  /// it), until Unwatch.
  void Watch(int fd);
  void Unwatch(int fd);

  /// Messages of one folder in UID order.
  Result<std::vector<MessageRecord>> ListMessages(const std::string& mailbox,
                                                  const std::string& folder);
  Result<std::string> ReadBody(const BodyId& body);

  /// Replaces the system flags and keywords of message `uid`, durably, at a
  /// new MODSEQ (returned). FOLDER_NOT_FOUND, NOT_FOUND (no such UID).
  Result<uint64_t> SetFlags(const std::string& mailbox, const std::string& folder, uint32_t uid,
                            uint32_t flags, const std::vector<std::string>& keywords);
  /// Removes `uids` from the folder, recording each as expunged at one new
  /// MODSEQ (returned) so that QRESYNC can report them as VANISHED. UIDs not
  /// present are ignored.
  Result<uint64_t> Expunge(const std::string& mailbox, const std::string& folder,
                           const std::vector<uint32_t>& uids);
  /// Copies (or with `move`, moves) messages `uids` of `from` to `to` in the
  /// same mailbox, in one durable batch: bodies are shared, not duplicated;
  /// flags, keywords and dates are kept; new UIDs are given in the order of
  /// `uids` sorted. A move also expunges the originals (recorded for
  /// VANISHED). Returns (source UID, new UID) pairs of the messages that
  /// existed; UIDs not present are skipped. FOLDER_NOT_FOUND for either folder.
  Result<std::vector<std::pair<uint32_t, uint32_t>>> Copy(const std::string& mailbox, const std::string& from,
                                                           std::vector<uint32_t> uids, const std::string& to, bool move);

  /// UIDs expunged from the folder at a MODSEQ greater than `since`, ascending.
  Result<std::vector<uint32_t>> ExpungedSince(const std::string& mailbox, const std::string& folder,
                                              uint64_t since);

  // ---- writer primitives (the backup service's freeze providers use them) ----
  /// Makes everything committed so far durable in the log (fsync).
  Status SyncLog();
  /// Closes the write gate: new commits wait, commits in flight finish.
  /// FREEZE_TIMEOUT when they do not within `deadline`; the gate reopens by
  /// itself at the deadline whatever the caller does.
  Status Freeze(std::chrono::milliseconds deadline);
  /// Reopens the gate. FREEZE_TIMEOUT when the deadline had already passed.
  Status Thaw();
  /// Stops (and resumes) RocksDB's deletion of obsolete files; calls nest.
  Status PinFiles();
  Status UnpinFiles();
  /// The live files without a memtable flush, sizes captured now, and the
  /// latest sequence. Consistent when taken with files pinned.
  Result<FileSet> LiveFiles();

  /// The whole-file CRC-32C the MANIFEST recorded for each live table and
  /// blob file when it was written, by file number.
  Result<std::map<uint64_t, uint32_t>> RecordedChecksums();

  /// Records a completed backup of `type` ("full", "incremental",
  /// "differential", "copy") in the header, durably.
  Status RecordBackup(const std::string& type, const BackupRecord& record);
  /// Deletes archived logs numbered below `below` (those a completed full or
  /// incremental holds). Returns how many were deleted.
  Result<uint64_t> TruncateArchivedLogs(uint64_t below);
  const std::string& identity() const { return header_.identity; }

  /// Writes the memtables to table files (the logs they came from become
  /// obsolete: archived, or deleted with circular logging).
  Status Flush();

  /// Verifies every table and blob file (block checksums and whole-file
  /// CRC-32C against the MANIFEST) and every log record. Returns the damaged
  /// files, one line each naming the file and the damage; empty when sound.
  Result<std::vector<std::string>> Check();
  /// The same on a dismounted database in `dir` (opened read-only).
  static Result<std::vector<std::string>> CheckOffline(const std::string& dir);

 private:
  enum class State { kMounted, kDismounting, kDismounted };
  struct FolderState {
    uint32_t uidnext = 1;
    uint64_t modseq = 0;
    std::vector<std::string> keywords;  // every keyword ever set in the folder, in order of first use
  };
  /// Adds `keywords` new to the folder to its list (in memory, and one key
  /// each in `batch`). Call with alloc_mu_ held.
  void NoteKeywords(FolderState* st, uint64_t mbox, uint32_t folder, const std::vector<std::string>& keywords,
                    rocksdb::WriteBatch* batch);
  Database(std::string dir, DatabaseOptions options);

  /// Registers a call in flight; DATABASE_NOT_MOUNTED once dismount began.
  Status BeginOp();
  void EndOp();
  class OpGuard;

  Result<std::vector<Delivered>> Insert(const std::vector<std::string>& mailboxes, std::string_view message,
                                       int64_t internal_date, int32_t internal_zone, const std::string& folder,
                                       uint32_t flags, const std::vector<std::string>& keywords);
  /// Puts `message` (when new to the database) and its reference count
  /// increment into `batch`; returns its id.
  BodyId AddBody(rocksdb::WriteBatch* batch, std::string_view message, uint64_t references);
  Result<uint64_t> MailboxId(const std::string& mailbox);
  Result<uint32_t> FolderId(uint64_t mailbox_id, const std::string& mailbox, const std::string& folder);
  /// The folder records of a mailbox (no counters, no message counts).
  std::vector<FolderInfo> FolderRecords(uint64_t mailbox_id);
  /// A new MODSEQ for the folder (allocated in memory; made durable by the
  /// caller's batch through the 'C'..'m' max-merge counter).
  Result<uint64_t> NextModseq(uint64_t mailbox_id, uint32_t folder_id);
  /// (mailbox id, folder id) of `mailbox`/`folder`; takes alloc_mu_.
  Result<std::pair<uint64_t, uint32_t>> ResolveFolder(const std::string& mailbox, const std::string& folder);
  Result<FolderState*> LoadFolderState(uint64_t mailbox_id, uint32_t folder_id);
  /// What a commit changed in one folder, for ChangesSince.
  struct Touched {
    uint64_t mbox;
    uint32_t fid;
    std::vector<uint32_t> uids;
  };
  /// Writes `batch` (a rocksdb::WriteBatch*) durably and moves the
  /// generation; `touched` names the messages it changed (empty: it changed
  /// folders, and sessions re-read theirs).
  Status Commit(void* batch, std::vector<Touched> touched = {});
  static MessageRecord DecodeMessage(uint32_t uid, const std::string& value);
  static constexpr size_t kJournalEntries = 4096;
  struct Change {
    uint64_t generation;
    std::vector<Touched> touched;
    bool all;
  };
  std::mutex journal_mu_;
  std::deque<Change> journal_;  // the last kJournalEntries commits; journal_mu_
  std::set<int> watchers_;      // eventfds written at every commit; journal_mu_
  /// Adds the deletion of every key starting with `prefix` to `batch`; under
  /// a message prefix ('U') each message also drops its body reference.
  Status DeleteKeysUnder(rocksdb::WriteBatch* batch, const std::string& prefix, const std::string& what);
  /// A batch that starts with the commit stamp (identity + time).
  rocksdb::WriteBatch NewBatch();
  Status RefreshLogRange(DatabaseHeader* h);

  const std::string dir_;
  const DatabaseOptions options_;
  std::unique_ptr<rocksdb::DB> db_;
  DatabaseHeader header_;                 // guarded by admin_mu_

  std::atomic<State> state_{State::kDismounted};
  std::atomic<uint64_t> generation_{0};
  std::mutex ops_mu_;
  std::condition_variable ops_cv_;
  int ops_in_flight_ = 0;                 // guarded by ops_mu_

  WriteGate gate_;                        // commits pass shared; Freeze closes it
  std::mutex serial_mu_;                  // only with options_.serial_commits
  std::mutex admin_mu_;                   // mailbox/folder creation and deletion, header

  // Read-modify-write of message records (flags, expunge) holds the stripe of
  // its folder across the commit, so two sessions never lose each other's update.
  std::mutex update_mu_[16];
  std::mutex alloc_mu_;                   // UID/MODSEQ allocation
  std::map<std::string, uint64_t> mailbox_ids_;                       // guarded by alloc_mu_
  std::map<std::pair<uint64_t, std::string>, uint32_t> folder_ids_;   // guarded by alloc_mu_
  std::map<std::pair<uint64_t, uint32_t>, FolderState> folders_;      // guarded by alloc_mu_
};

/// Hex of a body id.
std::string BodyIdHex(const BodyId& id);

}  // namespace mx::store
