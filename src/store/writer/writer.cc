#include "store/writer/writer.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "common/clock.h"
#include "common/crc32c.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/secure.h"
#include "store/log/wal.h"

namespace mx::store {
namespace {

bool IsLogChainType(BackupType t) { return t == BackupType::kIncremental || t == BackupType::kDifferential; }

std::string HolderText(const SessionHolder& h) {
  return "session " + h.session_id + " from " + h.client + ", started " + h.started;
}

uint64_t NumberOf(const std::string& name) {
  std::string base = name.substr(name.rfind('/') + 1);
  uint64_t n = 0;
  for (char c : base) {
    if (c < '0' || c > '9') break;
    n = n * 10 + uint64_t(c - '0');
  }
  return n;
}

}  // namespace

const char* BackupTypeName(BackupType t) {
  switch (t) {
    case BackupType::kFull: return "full";
    case BackupType::kIncremental: return "incremental";
    case BackupType::kDifferential: return "differential";
    case BackupType::kCopy: return "copy";
  }
  return "?";
}

const char* BackupMethodName(BackupMethod m) { return m == BackupMethod::kSnapshot ? "snapshot" : "streaming"; }

Status CheckDatabaseName(const std::string& name) {
  bool bad = name.empty() || name == "." || name == ".." || name.size() > 128;
  for (char c : name)
    if (c == '/' || c == '\\' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f) bad = true;
  if (bad)
    return Error(Code::kDatabaseNotFound, "no such database", "'" + name + "'",
                 "a database name is a plain name (no '/', '..' or control characters)",
                 "list the databases with `mxvault writers` or `mxstore db list`");
  return Ok();
}

Writer::~Writer() {
  std::lock_guard<std::mutex> l(mu_);
  if (session_) Release(*session_);
}

Result<BackupSet> Writer::Begin(const SessionHolder& who, BackupType type, BackupMethod method,
                                std::chrono::milliseconds deadline, bool dry_run) {
  MX_CHECK(CheckDatabaseName(database_));
  (void)MX_TRY(store_->DatabaseDir(database_));
  std::unique_lock<std::mutex> l(mu_);
  if (session_)
    return Error(Code::kBackupInProgress, "cannot start a backup of database '" + database_ + "'",
                 database_, "another backup holds it: " + HolderText(session_->holder),
                 "wait for that session to end (`mxvault writers` shows it); a session whose client is gone "
                 "ends by itself when its connection closes");
  auto db = store_->Get(database_);
  if (!db)
    return Error(Code::kDatabaseNotMounted, "cannot back up database '" + database_ + "'", database_,
                 "it is dismounted", "mount it with `mxstore db mount " + database_ + "`");
  DatabaseHeader h = db->Header();
  std::optional<BackupRecord> base;
  if (IsLogChainType(type)) {
    if (h.circular_logging)
      return Error(Code::kCircularLogging,
                   std::string("cannot take an ") + BackupTypeName(type) + " backup of database '" + database_ + "'",
                   database_, "circular logging is on, so the logs it needs are deleted",
                   "run `mxstore db set " + database_ + " --circular-logging off`, then a full backup; "
                   "or take a full or copy backup");
    auto same_chain = [&](const std::optional<BackupRecord>& r) { return r && r->log_chain == h.log_chain; };
    if (!same_chain(h.last_full))
      return Error(Code::kNoBaseBackup, std::string("cannot take an ") + BackupTypeName(type) + " backup of database '" + database_ + "'",
                   database_,
                   h.last_full ? "the last full backup belongs to an earlier log chain (circular logging changed since)"
                               : "no full backup has completed",
                   "take a full backup first: mxvault backup --type full");
    base = h.last_full;
    bool inc_after_full = same_chain(h.last_incremental) && h.last_incremental->sequence >= h.last_full->sequence;
    if (type == BackupType::kIncremental && inc_after_full) base = h.last_incremental;
    if (type == BackupType::kDifferential && inc_after_full)
      return Error(Code::kLogChainBroken, "cannot take a differential backup of database '" + database_ + "'",
                   database_,
                   "incremental backup " + h.last_incremental->session + " (" + h.last_incremental->time +
                       ") completed after the last full and truncated logs a differential needs",
                   "take an incremental backup, or a full backup and then differentials");
  }
  auto s = std::make_unique<Session>();
  s->holder = who;
  s->db = db;
  s->dry_run = dry_run;
  session_ = std::move(s);
  state_ = "waiting_for_freeze";
  failed_step_.clear();
  Session* sess = session_.get();
  // What every session knows before any file is taken; Prepare adds the files.
  sess->set.holder = who;
  sess->set.type = type;
  sess->set.method = method;
  sess->set.database = database_;
  sess->set.identity = h.identity;
  sess->set.log_chain = h.log_chain;
  sess->set.base = base;
  if (dry_run) return sess->set;
  l.unlock();  // the prepare copies files; ListWriters must not wait for it
  auto set = Prepare(*sess, deadline);
  l.lock();
  if (!session_ || session_.get() != sess) {
    return Error(Code::kSessionLost, "backup session " + who.session_id + " ended while it was prepared", database_,
                 "it was aborted", "run the backup again");
  }
  if (!set.ok()) {
    SetFailed(state_ == "waiting_for_freeze" ? "freeze" : "prepare", set.error());
    Release(*session_);
    session_.reset();
    return std::move(set).error();
  }
  sess->set = *set;
  state_ = "waiting_for_post_snapshot";
  return *set;
}

Result<BackupSet> Writer::Prepare(Session& s, std::chrono::milliseconds deadline) {
  const BackupType type = s.set.type;
  Database& db = *s.db;
  std::string dbdir = db.dir();
  std::string rdir = dbdir + "/rocksdb";
  if (s.set.method == BackupMethod::kSnapshot)
    s.provider = std::make_unique<CheckpointFreezeProvider>(dbdir + "/checkpoint." + s.holder.session_id);
  else
    s.provider = std::make_unique<PinnedFreezeProvider>();
  FrozenSet frozen = MX_TRY(s.provider->Prepare(db, deadline));
  {
    std::lock_guard<std::mutex> l(mu_);
    if (state_ == "waiting_for_freeze") state_ = "waiting_for_post_snapshot";
  }
  BackupSet set = s.set;
  set.commits_blocked = frozen.commits_blocked;
  set.sequence = frozen.files.sequence;

  // Logs of the frozen set, by number (with the captured size).
  std::map<uint64_t, const LiveFile*> frozen_logs;
  uint64_t newest_frozen_log = 0;
  for (const auto& f : frozen.files.files)
    if (f.kind == "log") {
      uint64_t n = NumberOf(f.name);
      frozen_logs[n] = &f;
      newest_frozen_log = std::max(newest_frozen_log, n);
    }

  std::vector<BackupFile> logs;
  auto add_log = [&](const std::string& path, uint64_t size) -> Status {
    auto info = MX_TRY(ReadWalFile(path, size));
    if (!info.damage.empty())
      return Error(Code::kChecksumMismatch, "log " + std::to_string(info.number) + " of database '" + database_ + "' is damaged",
                   path, info.damage, "run `mxstore db check " + database_ + "`; a full backup is needed after a damaged log");
    if (info.gap_inside)
      return Error(Code::kLogChainBroken, "log " + std::to_string(info.number) + " of database '" + database_ + "' has a gap",
                   path, "a write batch does not follow on from the one before", "take a full backup to start a new chain");
    if (!info.identity.empty() && info.identity != set.identity)
      return Error(Code::kLogChainBroken, "log " + std::to_string(info.number) + " belongs to another database",
                   path, "its commit stamps name database " + info.identity + ", not " + set.identity,
                   "remove logs copied from another database from the archive");
    BackupFile b;
    b.name = path.substr(path.rfind('/') + 1);
    b.path = path;
    b.size = info.size;
    b.kind = "log";
    b.log_number = info.number;
    b.first_seq = info.first_seq;
    b.last_seq = info.last_seq;
    b.crc32c = info.crc32c;
    logs.push_back(std::move(b));
    return Ok();
  };

  if (IsLogChainType(type)) {
    // Every log from the base's newest (copied again whole: it was still
    // being written then) to the newest of the frozen set.
    uint64_t from = set.base->log_number;
    auto paths = MX_TRY(ListWalPaths(rdir));
    for (const auto& p : paths) {
      if (p.number < from || p.number > newest_frozen_log) continue;
      if (frozen_logs.count(p.number)) continue;
      MX_CHECK(add_log(p.path, UINT64_MAX));
    }
    for (const auto& [n, f] : frozen_logs)
      if (n >= from) MX_CHECK(add_log(f->directory + "/" + f->name, f->size));
  } else {
    auto checksums = MX_TRY(db.RecordedChecksums());
    for (const auto& f : frozen.files.files) {
      if (f.kind == "log") {
        MX_CHECK(add_log(f.directory + "/" + f.name, f.size));
        continue;
      }
      BackupFile b;
      b.name = f.name.substr(f.name.rfind('/') + 1);
      b.kind = f.kind;
      if (!f.replacement_contents.empty()) {
        b.contents = f.replacement_contents;
        b.size = b.contents.size();
        b.crc32c = Crc32c(reinterpret_cast<const uint8_t*>(b.contents.data()), b.contents.size());
      } else {
        b.path = f.directory + "/" + f.name;
        b.size = f.size;
        auto it = checksums.find(NumberOf(b.name));
        if ((f.kind == "table" || f.kind == "blob") && it != checksums.end() && !f.trim_to_size)
          b.crc32c = it->second;  // recorded when the file was written: catches damage since
        else
          b.crc32c = MX_TRY(FileCrc32c(b.path, b.size));
      }
      set.files.push_back(std::move(b));
    }
  }
  std::sort(logs.begin(), logs.end(), [](const BackupFile& a, const BackupFile& b) { return a.log_number < b.log_number; });

  // The chain the logs form must have no hole, and an incremental or
  // differential must start where its base ended.
  std::vector<WalFileInfo> infos;
  for (const auto& b : logs) {
    WalFileInfo w;
    w.number = b.log_number;
    w.first_seq = b.first_seq;
    w.last_seq = b.last_seq;
    w.batches = b.last_seq ? 1 : 0;
    infos.push_back(w);
  }
  std::string gap = FindChainGap(infos);
  if (!gap.empty())
    return Error(Code::kLogChainBroken, "the logs of database '" + database_ + "' have a gap", rdir, gap,
                 "a log is missing from the archive; take a full backup to start a new chain");
  uint64_t first_seq = 0;
  for (const auto& b : logs) {
    if (b.first_seq && (!first_seq || b.first_seq < first_seq)) first_seq = b.first_seq;
    set.sequence = std::max(set.sequence, b.last_seq);
    if (!set.first_log || b.log_number < set.first_log) set.first_log = b.log_number;
    set.newest_log = std::max(set.newest_log, b.log_number);
  }
  set.first_seq = first_seq;
  if (IsLogChainType(type)) {
    uint64_t need = set.base->sequence + 1;
    if (logs.empty() || (first_seq != 0 && first_seq > need))
      return Error(Code::kLogChainBroken,
                   std::string("cannot take an ") + BackupTypeName(type) + " backup of database '" + database_ + "'", rdir,
                   "sequences " + std::to_string(need) + ".." + std::to_string(first_seq ? first_seq - 1 : set.sequence) +
                       " (from log " + std::to_string(set.base->log_number) + ") are no longer in the archive",
                   "take a full backup to start a new chain");
  }
  if (set.newest_log == 0) set.newest_log = newest_frozen_log;
  for (auto& b : logs) set.files.push_back(std::move(b));
  return set;
}

Status Writer::Freeze(const std::string& session, std::chrono::milliseconds deadline) {
  std::lock_guard<std::mutex> l(mu_);
  if (!session_ || session_->holder.session_id != session)
    return Error(Code::kSessionLost, "no such backup session", session, "it ended", "begin a new session");
  if (!session_->dry_run)
    return Error(Code::kProtocol, "freeze refused", session, "only a dry-run session freezes on request",
                 "a backup session freezes by itself in Begin");
  MX_CHECK(session_->db->SyncLog());  // the log is durable before commits block
  MX_CHECK(session_->db->Freeze(deadline));
  session_->frozen = true;
  session_->frozen_at = std::chrono::steady_clock::now();
  state_ = "waiting_for_thaw";
  return Ok();
}

Result<std::chrono::microseconds> Writer::Thaw(const std::string& session) {
  std::lock_guard<std::mutex> l(mu_);
  if (!session_ || session_->holder.session_id != session)
    return Error(Code::kSessionLost, "no such backup session", session, "it ended", "begin a new session");
  if (!session_->frozen) return std::chrono::microseconds(0);
  session_->frozen = false;
  auto held = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - session_->frozen_at);
  Status s = session_->db->Thaw();
  if (!s.ok()) {
    SetFailed("thaw", s.error());
    return s.error();
  }
  state_ = "waiting_for_backup_complete";
  return held;
}

Result<BackupFile> Writer::File(const std::string& session, const std::string& name) {
  std::lock_guard<std::mutex> l(mu_);
  if (!session_ || session_->holder.session_id != session)
    return Error(Code::kSessionLost, "no such backup session", session, "it ended", "begin a new session");
  for (const auto& f : session_->set.files)
    if (f.name == name) return f;
  return Error(Code::kNotFound, "no such file in the backup session", name, "ListFiles names the files of this session");
}

Result<std::vector<BackupFile>> Writer::Files(const std::string& session) {
  std::lock_guard<std::mutex> l(mu_);
  if (!session_ || session_->holder.session_id != session)
    return Error(Code::kSessionLost, "no such backup session", session, "it ended", "begin a new session");
  return session_->set.files;
}

void Writer::AllFilesRead(const std::string& session) {
  std::lock_guard<std::mutex> l(mu_);
  if (session_ && session_->holder.session_id == session && state_ != "failed") state_ = "waiting_for_backup_complete";
}

void Writer::Fail(const std::string& session, const std::string& step, const Error& error) {
  std::lock_guard<std::mutex> l(mu_);
  if (session_ && session_->holder.session_id == session) SetFailed(step, error);
}

Result<Writer::Completed> Writer::Complete(const std::string& session) {
  std::lock_guard<std::mutex> l(mu_);
  if (!session_ || session_->holder.session_id != session)
    return Error(Code::kSessionLost, "no such backup session", session, "it ended", "begin a new session");
  if (session_->dry_run)
    return Error(Code::kProtocol, "a dry-run session cannot complete", session, "it took no files", "end it with abort");
  if (state_ == "failed")
    return Error(Code::kProtocol, "the backup session failed and cannot complete", session,
                 "failed at " + failed_step_ + ": " + last_error_, "end it with abort and run the backup again");
  const BackupSet set = session_->set;  // a copy: the session ends below
  auto db = store_->Get(database_);
  if (!db || db->identity() != set.identity) {
    Error e(Code::kDatabaseNotMounted, "cannot record the backup of database '" + database_ + "'", database_,
            "the database was dismounted during the backup; nothing was truncated",
            "the snapshot is usable; mount the database and take the next backup as a full");
    SetFailed("backup-complete", e);
    Release(*session_);
    session_.reset();
    return e;
  }
  // Unpin first: logs that became obsolete while the files were pinned are
  // archived now, and the backup holds them too.
  Release(*session_);
  uint64_t truncated = 0;
  if (set.type == BackupType::kFull || set.type == BackupType::kIncremental) {
    auto t = db->TruncateArchivedLogs(set.newest_log);
    if (!t.ok()) {
      SetFailed("backup-complete", t.error());
      session_.reset();
      return std::move(t).error();
    }
    truncated = *t;
  }
  BackupRecord r;
  r.time = FormatRfc3339(Now());
  r.log_number = set.newest_log;
  r.sequence = set.sequence;
  r.log_chain = set.log_chain;
  r.session = set.holder.session_id;
  Status s = db->RecordBackup(BackupTypeName(set.type), r);
  session_.reset();
  if (!s.ok()) {
    SetFailed("backup-complete", s.error());
    return s.error();
  }
  state_ = "stable";
  log::Info("backup: " + std::string(BackupTypeName(set.type)) + " backup of database '" + database_ + "' completed (session " +
            r.session + ", log " + std::to_string(r.log_number) + ", sequence " + std::to_string(r.sequence) + ", " +
            std::to_string(truncated) + " archived log(s) truncated)");
  return Completed{truncated, r};
}

void Writer::Abort(const std::string& session) {
  std::lock_guard<std::mutex> l(mu_);
  if (!session_ || session_->holder.session_id != session) return;
  Release(*session_);
  session_.reset();
  if (state_ != "failed") state_ = "stable";
}

void Writer::SetFailed(const std::string& step, const Error& e) {
  state_ = "failed";
  failed_step_ = step;
  last_error_ = e.Message();
}

void Writer::Release(Session& s) {
  if (s.frozen) {
    (void)s.db->Thaw();
    s.frozen = false;
  }
  if (s.provider) {
    Status r = s.provider->Release(*s.db);
    if (!r.ok() && r.error().code() != Code::kDatabaseNotMounted)
      log::Warn("backup: releasing session " + s.holder.session_id + ": " + r.error().Message());
    s.provider.reset();
  }
}

WriterStatus Writer::Report() {
  WriterStatus w;
  w.database = database_;
  auto h = store_->Header(database_);
  auto db = store_->Get(database_);
  w.mounted = db != nullptr;
  if (h.ok()) {
    w.circular_logging = h->circular_logging;
    w.last_full = h->last_full;
    w.last_incremental = h->last_incremental;
    w.last_differential = h->last_differential;
    w.last_copy = h->last_copy;
  }
  std::lock_guard<std::mutex> l(mu_);
  w.state = state_;
  w.failed_step = failed_step_;
  w.last_error = last_error_;
  if (session_) w.holder = session_->holder;
  return w;
}

Writer& WriterRegistry::Get(const std::string& database) {
  std::lock_guard<std::mutex> l(mu_);
  auto& w = writers_[database];
  if (!w) w = std::make_unique<Writer>(store_, database);
  return *w;
}

std::vector<WriterStatus> WriterRegistry::List() {
  std::vector<WriterStatus> out;
  for (const auto& d : store_->ListDatabases()) out.push_back(Get(d.name).Report());
  return out;
}

void WriterRegistry::RemoveStaleCheckpoints() {
  for (const auto& d : store_->ListDatabases()) {
    auto dir = store_->DatabaseDir(d.name);
    if (!dir.ok()) continue;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(*dir, ec)) {
      if (e.path().filename().string().rfind("checkpoint.", 0) != 0) continue;
      log::Info("backup: removing " + e.path().string() + " left by a backup session of an earlier run");
      std::filesystem::remove_all(e.path(), ec);
    }
  }
}

}  // namespace mx::store
