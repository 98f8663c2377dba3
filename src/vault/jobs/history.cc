#include "vault/jobs/history.h"

#include <sqlite3.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/fs.h"
#include "common/host.h"

namespace mx::vault {
namespace {

Error DbError(sqlite3* db, const std::string& what, const std::string& path) {
  return Error(Code::kIo, what, path, db ? sqlite3_errmsg(db) : "out of memory",
               "check that the state directory is writable and the disk has room; a damaged history database can "
               "be moved away (a new one is created)");
}

// A prepared statement, finalised on scope exit.
class Stmt {
 public:
  Stmt(sqlite3* db, const std::string& sql) { rc_ = sqlite3_prepare_v2(db, sql.c_str(), -1, &s_, nullptr); }
  ~Stmt() { sqlite3_finalize(s_); }
  bool ok() const { return rc_ == SQLITE_OK; }
  sqlite3_stmt* get() { return s_; }
  void Bind(int i, const std::string& v) { sqlite3_bind_text(s_, i, v.c_str(), int(v.size()), SQLITE_TRANSIENT); }
  void Bind(int i, int64_t v) { sqlite3_bind_int64(s_, i, v); }
  void Bind(int i, double v) { sqlite3_bind_double(s_, i, v); }
  void BindNull(int i) { sqlite3_bind_null(s_, i); }

 private:
  sqlite3_stmt* s_ = nullptr;
  int rc_;
};

std::string Text(sqlite3_stmt* s, int col) {
  auto* p = sqlite3_column_text(s, col);
  return p ? reinterpret_cast<const char*>(p) : "";
}

const char kColumns[] =
    "id, job, trigger, backup_type, status, started, ended, error_code, error_message, snapshot_id, files, "
    "bytes_read, bytes_added, pid, host";

}  // namespace

Result<std::unique_ptr<JobHistory>> JobHistory::Open(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) MX_CHECK(MakeDirs(path.substr(0, slash), 0750));
  std::unique_ptr<JobHistory> h(new JobHistory());
  h->path_ = path;
  if (sqlite3_open_v2(path.c_str(), &h->db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK)
    return DbError(h->db_, "cannot open the job history database", path);
  sqlite3_busy_timeout(h->db_, 10000);
  MX_CHECK(h->Exec("PRAGMA journal_mode=WAL"));
  MX_CHECK(h->Exec("PRAGMA synchronous=NORMAL"));
  MX_CHECK(h->Exec(
      "CREATE TABLE IF NOT EXISTS runs ("
      " id INTEGER PRIMARY KEY AUTOINCREMENT,"
      " job TEXT NOT NULL, trigger TEXT NOT NULL, backup_type TEXT NOT NULL DEFAULT '',"
      " status TEXT NOT NULL, started REAL NOT NULL, ended REAL,"
      " error_code TEXT NOT NULL DEFAULT '', error_message TEXT NOT NULL DEFAULT '',"
      " snapshot_id TEXT NOT NULL DEFAULT '', files INTEGER NOT NULL DEFAULT 0,"
      " bytes_read INTEGER NOT NULL DEFAULT 0, bytes_added INTEGER NOT NULL DEFAULT 0,"
      " pid INTEGER NOT NULL DEFAULT 0, pid_start INTEGER NOT NULL DEFAULT 0, host TEXT NOT NULL DEFAULT '');"
      "CREATE INDEX IF NOT EXISTS runs_by_job ON runs(job, id);"
      "PRAGMA user_version=1;"));
  return h;
}

JobHistory::~JobHistory() { sqlite3_close(db_); }

Status JobHistory::Exec(const std::string& sql) const {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return Error(Code::kIo, "job history database statement failed", path_, msg,
                 "check that the state directory is writable and the disk has room");
  }
  return Ok();
}

Result<int64_t> JobHistory::Begin(const std::string& job, const std::string& trigger, const std::string& type) {
  std::lock_guard<std::mutex> l(mu_);
  Stmt s(db_,
         "INSERT INTO runs(job, trigger, backup_type, status, started, pid, pid_start, host)"
         " VALUES(?, ?, ?, 'RUNNING', ?, ?, ?, ?)");
  if (!s.ok()) return DbError(db_, "cannot record the start of a job run", path_);
  s.Bind(1, job);
  s.Bind(2, trigger);
  s.Bind(3, type);
  s.Bind(4, NowSeconds());
  s.Bind(5, int64_t(getpid()));
  s.Bind(6, int64_t(ProcessStartTicks(getpid())));
  s.Bind(7, Hostname());
  if (sqlite3_step(s.get()) != SQLITE_DONE) return DbError(db_, "cannot record the start of a job run", path_);
  return int64_t(sqlite3_last_insert_rowid(db_));
}

Status JobHistory::Finish(const JobRun& r) {
  std::lock_guard<std::mutex> l(mu_);
  Stmt s(db_,
         "UPDATE runs SET status=?, ended=?, error_code=?, error_message=?, snapshot_id=?, files=?, bytes_read=?,"
         " bytes_added=? WHERE id=?");
  if (!s.ok()) return DbError(db_, "cannot record the end of a job run", path_);
  s.Bind(1, r.status);
  s.Bind(2, r.ended ? *r.ended : NowSeconds());
  s.Bind(3, r.error_code);
  s.Bind(4, r.error_message);
  s.Bind(5, r.snapshot_id);
  s.Bind(6, int64_t(r.files));
  s.Bind(7, int64_t(r.bytes_read));
  s.Bind(8, int64_t(r.bytes_added));
  s.Bind(9, r.id);
  if (sqlite3_step(s.get()) != SQLITE_DONE) return DbError(db_, "cannot record the end of a job run", path_);
  return Ok();
}

Result<int64_t> JobHistory::NotStarted(const std::string& job, const std::string& trigger, const std::string& type,
                                       const std::string& reason) {
  std::lock_guard<std::mutex> l(mu_);
  Stmt s(db_,
         "INSERT INTO runs(job, trigger, backup_type, status, started, ended, error_code, error_message, pid, host)"
         " VALUES(?, ?, ?, 'NOT_STARTED', ?, ?, 'NOT_STARTED', ?, ?, ?)");
  if (!s.ok()) return DbError(db_, "cannot record a run that did not start", path_);
  double now = NowSeconds();
  s.Bind(1, job);
  s.Bind(2, trigger);
  s.Bind(3, type);
  s.Bind(4, now);
  s.Bind(5, now);
  s.Bind(6, reason);
  s.Bind(7, int64_t(getpid()));
  s.Bind(8, Hostname());
  if (sqlite3_step(s.get()) != SQLITE_DONE) return DbError(db_, "cannot record a run that did not start", path_);
  return int64_t(sqlite3_last_insert_rowid(db_));
}

Result<std::vector<JobRun>> JobHistory::Sweep() {
  std::vector<JobRun> out;
  std::vector<std::pair<int64_t, int64_t>> dead;  // id, pid
  {
    std::lock_guard<std::mutex> l(mu_);
    Stmt s(db_, "SELECT id, pid, pid_start FROM runs WHERE status='RUNNING' AND host=?");
    if (!s.ok()) return DbError(db_, "cannot read the job history", path_);
    s.Bind(1, Hostname());
    while (sqlite3_step(s.get()) == SQLITE_ROW) {
      int64_t id = sqlite3_column_int64(s.get(), 0), pid = sqlite3_column_int64(s.get(), 1);
      uint64_t start = uint64_t(sqlite3_column_int64(s.get(), 2));
      if (!ProcessAlive(pid, start)) dead.push_back({id, pid});
    }
    for (auto [id, pid] : dead) {
      Stmt u(db_,
             "UPDATE runs SET status='INTERRUPTED', error_code='INTERRUPTED', error_message=? WHERE id=? AND "
             "status='RUNNING'");
      u.Bind(1, "the process running it (pid " + std::to_string(pid) +
                    ") ended without recording a result: it crashed, was killed, or the daemon was restarted");
      u.Bind(2, id);
      if (sqlite3_step(u.get()) != SQLITE_DONE) return DbError(db_, "cannot record an interrupted run", path_);
    }
  }
  for (auto [id, pid] : dead) {
    auto rows = MX_TRY(Query("id=?", {std::to_string(id)}, 1));
    for (auto& r : rows) out.push_back(std::move(r));
  }
  return out;
}

Result<std::vector<JobRun>> JobHistory::Query(const std::string& where, const std::vector<std::string>& args,
                                              size_t limit) const {
  std::lock_guard<std::mutex> l(mu_);
  std::string sql = std::string("SELECT ") + kColumns + " FROM runs";
  if (!where.empty()) sql += " WHERE " + where;
  sql += " ORDER BY id DESC";
  if (limit) sql += " LIMIT " + std::to_string(limit);
  Stmt s(db_, sql);
  if (!s.ok()) return DbError(db_, "cannot read the job history", path_);
  for (size_t i = 0; i < args.size(); ++i) s.Bind(int(i + 1), args[i]);
  std::vector<JobRun> out;
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
    sqlite3_stmt* q = s.get();
    JobRun r;
    r.id = sqlite3_column_int64(q, 0);
    r.job = Text(q, 1);
    r.trigger = Text(q, 2);
    r.backup_type = Text(q, 3);
    r.status = Text(q, 4);
    r.started = sqlite3_column_double(q, 5);
    if (sqlite3_column_type(q, 6) != SQLITE_NULL) r.ended = sqlite3_column_double(q, 6);
    r.error_code = Text(q, 7);
    r.error_message = Text(q, 8);
    r.snapshot_id = Text(q, 9);
    r.files = uint64_t(sqlite3_column_int64(q, 10));
    r.bytes_read = uint64_t(sqlite3_column_int64(q, 11));
    r.bytes_added = uint64_t(sqlite3_column_int64(q, 12));
    r.pid = sqlite3_column_int64(q, 13);
    r.host = Text(q, 14);
    out.push_back(std::move(r));
  }
  if (rc != SQLITE_DONE) return DbError(db_, "cannot read the job history", path_);
  return out;
}

Result<std::vector<JobRun>> JobHistory::List(const std::string& job, size_t limit) const {
  if (job.empty()) return Query("", {}, limit);
  return Query("job=?", {job}, limit);
}

Result<std::optional<JobRun>> JobHistory::Last(const std::string& job) const {
  auto rows = MX_TRY(Query("job=?", {job}, 1));
  if (rows.empty()) return std::optional<JobRun>();
  return std::optional<JobRun>(std::move(rows[0]));
}

Result<std::optional<JobRun>> JobHistory::LastSuccess(const std::string& job) const {
  auto rows = MX_TRY(Query("job=? AND status='SUCCESS'", {job}, 1));
  if (rows.empty()) return std::optional<JobRun>();
  return std::optional<JobRun>(std::move(rows[0]));
}

}  // namespace mx::vault
