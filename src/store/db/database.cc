#include "store/db/database.h"

#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <limits>
#include <map>
#include <cstring>
#include <nlohmann/json.hpp>

#include "common/bytes.h"
#include "common/clock.h"
#include "common/crc32c.h"
#include "common/fs.h"
#include "common/secure.h"
#include "common/log.h"
#include "rocksdb/db.h"
#include "rocksdb/file_checksum.h"
#include "rocksdb/merge_operator.h"
#include "rocksdb/metadata.h"
#include "rocksdb/options.h"
#include "rocksdb/sst_file_reader.h"
#include "rocksdb/wal_filter.h"
#include "rocksdb/write_batch.h"
#include "store/log/wal.h"
#include "store/mime/message_info.h"

namespace mx::store {
namespace {

using nlohmann::json;

// ---- keys (docs/formats/store.md) ------------------------------------------
void PutBE(std::string* s, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) s->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint64_t GetBE(const char* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}
std::string MailboxKey(const std::string& name) { return "M" + name; }
std::string FolderPrefix(uint64_t mbox) {
  std::string k = "F";
  PutBE(&k, mbox, 8);
  return k;
}
std::string FolderKey(uint64_t mbox, const std::string& name) { return FolderPrefix(mbox) + name; }
std::string CounterKey(uint64_t mbox, uint32_t folder, char which) {
  std::string k = "C";
  PutBE(&k, mbox, 8);
  PutBE(&k, folder, 4);
  k.push_back(which);
  return k;
}
std::string MessagePrefix(uint64_t mbox, uint32_t folder) {
  std::string k = "U";
  PutBE(&k, mbox, 8);
  PutBE(&k, folder, 4);
  return k;
}
std::string MessageKey(uint64_t mbox, uint32_t folder, uint32_t uid) {
  std::string k = MessagePrefix(mbox, folder);
  PutBE(&k, uid, 4);
  return k;
}
std::string BodyKey(char tag, const BodyId& id) {
  std::string k(1, tag);
  k.append(reinterpret_cast<const char*>(id.data()), id.size());
  return k;
}
const std::string kMailboxCounter = "Gmailbox";

std::string Fixed64(uint64_t v) {
  std::string s(8, '\0');
  std::memcpy(s.data(), &v, 8);
  return s;
}

// The body a message record ('U' value, CBOR) refers to.
BodyId RecordBody(const json& rec) {
  const auto& b = rec.at("b").get_binary();
  BodyId id{};
  std::copy_n(b.begin(), std::min<size_t>(32, b.size()), id.begin());
  return id;
}
uint64_t ReadFixed64(const rocksdb::Slice& s) {
  uint64_t v = 0;
  if (s.size() == 8) std::memcpy(&v, s.data(), 8);
  return v;
}

// Counters merge without a read: 'R' (body reference counts) add, every other
// counter ('C' UIDNEXT/HIGHESTMODSEQ, 'G' ids) keeps the maximum. Both are
// commutative, so concurrent batches may reach the log in any order.
class CounterMerge : public rocksdb::AssociativeMergeOperator {
 public:
  bool Merge(const rocksdb::Slice& key, const rocksdb::Slice* existing,
             const rocksdb::Slice& value, std::string* new_value,
             rocksdb::Logger*) const override {
    uint64_t a = existing ? ReadFixed64(*existing) : 0;
    uint64_t b = ReadFixed64(value);
    uint64_t r;
    if (!key.empty() && key[0] == 'R')
      r = static_cast<uint64_t>(static_cast<int64_t>(a) + static_cast<int64_t>(b));
    else
      r = std::max(a, b);
    *new_value = Fixed64(r);
    return true;
  }
  const char* Name() const override { return "mx.CounterMerge"; }
};

std::string ToCbor(const json& j) {
  auto v = json::to_cbor(j);
  return std::string(v.begin(), v.end());
}
json FromCbor(const std::string& s) {
  return json::from_cbor(s.begin(), s.end(), true, false);
}

Error Engine(const std::string& what, const std::string& object, const rocksdb::Status& s) {
  Code code = s.IsCorruption() ? Code::kStoreCorrupt : Code::kStoreEngine;
  return Error(code, what, object, s.ToString());
}

rocksdb::Options EngineOptions(const DatabaseOptions& o, bool circular) {
  rocksdb::Options opt;
  opt.merge_operator = std::make_shared<CounterMerge>();
  // File checksums from creation: VerifyFileChecksums and `db check` depend
  // on them (ROCKSDB-NOTES: only set-at-write checksums catch every flip).
  opt.file_checksum_gen_factory = rocksdb::GetFileChecksumGenCrc32cFactory();
  // A damaged record in the middle of a log fails the mount instead of
  // silently dropping what follows (kPointInTimeRecovery would).
  opt.wal_recovery_mode = rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
  opt.recycle_log_file_num = 0;  // unusable in 7.8.3 (ROCKSDB-NOTES)
  if (circular) {
    opt.WAL_ttl_seconds = 0;      // obsolete logs are deleted at once
    opt.WAL_size_limit_MB = 0;
  } else {
    // Archive: RocksDB must never expire archived logs itself; only a backup
    // truncates them.
    opt.WAL_ttl_seconds = uint64_t{1} << 40;
    opt.WAL_size_limit_MB = uint64_t{1} << 40;
  }
  opt.write_buffer_size = o.write_buffer_size;
  opt.enable_blob_files = true;
  opt.min_blob_size = o.min_blob_size;
  opt.max_background_jobs = 2;
  opt.keep_log_file_num = 5;  // RocksDB's info LOG files, not the transaction logs
  return opt;
}

int64_t NowMicros() {
  Timestamp t = Now();
  return t.sec * 1000000 + t.nsec / 1000;
}

/// The whole-file CRC-32C RocksDB recorded in the MANIFEST for each live
/// table and blob file (file checksums on from creation), by file number.
/// Files written without one (not by this store) are left out.
rocksdb::Status RecordedCrcs(rocksdb::DB* db, std::map<uint64_t, uint32_t>* out) {
  std::unique_ptr<rocksdb::FileChecksumList> list(rocksdb::NewFileChecksumList());
  rocksdb::Status s = db->GetLiveFilesChecksumInfo(list.get());
  std::vector<uint64_t> numbers;
  std::vector<std::string> sums, funcs;
  if (s.ok()) s = list->GetAllFileChecksums(&numbers, &sums, &funcs);
  if (!s.ok()) return s;
  for (size_t i = 0; i < numbers.size(); ++i) {
    if (funcs[i] != rocksdb::kStandardDbFileChecksumFuncName || sums[i].size() != 4) continue;
    // Stored big-endian (PutBigEndian32 in RocksDB's crc32c generator).
    const auto* b = reinterpret_cast<const uint8_t*>(sums[i].data());
    (*out)[numbers[i]] = (uint32_t(b[0]) << 24) | (uint32_t(b[1]) << 16) | (uint32_t(b[2]) << 8) | b[3];
  }
  return s;
}

}  // namespace

std::string BodyIdHex(const BodyId& id) { return ToHex(id.data(), id.size()); }

class Database::OpGuard {
 public:
  explicit OpGuard(Database* db) : db_(db), status_(db->BeginOp()) {}
  ~OpGuard() {
    if (status_.ok()) db_->EndOp();
  }
  const Status& status() const { return status_; }

 private:
  Database* db_;
  Status status_;
};
#define MX_OP()                               \
  OpGuard op_guard_(this);                    \
  if (!op_guard_.status().ok()) return op_guard_.status().error()

Database::Database(std::string dir, DatabaseOptions options)
    : dir_(std::move(dir)), options_(options) {}

Database::~Database() {
  if (db_) {
    (void)Dismount(std::chrono::milliseconds(10000));
  }
}

namespace {

/// Replay filter for recovery: every batch must follow on from the one
/// before (RocksDB itself never notices a missing log: ROCKSDB-NOTES), must
/// carry this database's stamp when it carries one, and replay stops at the
/// requested point.
class ChainFilter : public rocksdb::WalFilter {
 public:
  ChainFilter(const RecoverOptions& o) : o_(o) {}
  WalProcessingOption LogRecordFound(unsigned long long log_number, const std::string& file, const rocksdb::WriteBatch& batch,
                                     rocksdb::WriteBatch*, bool*) override {
    const std::string& rep = batch.Data();
    if (rep.size() < 12) return WalProcessingOption::kCorruptedRecord;
    const auto* p = reinterpret_cast<const uint8_t*>(rep.data());
    uint64_t seq = 0;
    std::memcpy(&seq, p, 8);
    uint32_t count = 0;
    std::memcpy(&count, p + 8, 4);
    if (stopped) return WalProcessingOption::kStopReplay;
    if (expect && seq > expect) {
      gap = "sequences " + std::to_string(expect) + ".." + std::to_string(seq - 1) + " are missing before log " +
            std::to_string(log_number) + " (" + file + ")";
      return WalProcessingOption::kCorruptedRecord;
    }
    std::string id;
    int64_t t = 0;
    bool stamped = rep.size() > 14 && p[12] == 0x03 && p[13] == 27 && ParseCommitStamp(p + 14, 27, &id, &t);
    if (stamped && !o_.identity.empty() && id != o_.identity) {
      foreign = "log " + std::to_string(log_number) + " holds commits of database " + id;
      return WalProcessingOption::kCorruptedRecord;
    }
    if ((o_.until_seq && seq > o_.until_seq) || (o_.until_time_us && stamped && t > o_.until_time_us)) {
      stopped = true;
      return WalProcessingOption::kStopReplay;
    }
    if (stamped) last_time = std::max(last_time, t);
    if (seq + count > expect) expect = seq + count;
    ++batches;
    if (log_number != last_log) {
      last_log = log_number;
      ++logs;
    }
    return WalProcessingOption::kContinueProcessing;
  }
  const char* Name() const override { return "mxstore.ChainFilter"; }

  const RecoverOptions& o_;
  uint64_t expect = 0, batches = 0, logs = 0, last_log = 0;
  int64_t last_time = 0;
  bool stopped = false;
  std::string gap, foreign;
};

}  // namespace

Result<RecoverReport> Database::Recover(const std::string& dir, const RecoverOptions& o) {
  std::string rdir = dir + "/rocksdb";
  uint64_t rolled = 0;
  if (!o.roll_forward_from.empty()) {
    // The logs that survived on the live store carry on from the backup:
    // copy those from the backup's newest log on (the live copy is longer).
    std::string live = o.roll_forward_from;
    while (live.size() > 1 && live.back() == '/') live.pop_back();
    std::string live_db = live;
    if (access((live + "/header.json").c_str(), F_OK) != 0 && live.size() > 8 &&
        live.compare(live.size() - 8, 8, "/rocksdb") == 0)
      live_db = live.substr(0, live.size() - 8);
    auto lh = DatabaseHeader::Load(live_db);
    if (!lh.ok())
      return Error(Code::kDatabaseNotFound, "cannot roll forward", live, "it is not a database directory (no header.json)",
                   "name the live database's directory, e.g. DATA/databases/NAME");
    if (!o.identity.empty() && lh->identity != o.identity)
      return Error(Code::kLogChainBroken, "cannot roll forward from another database", live_db,
                   "its identity is " + lh->identity + ", the restored database's is " + o.identity,
                   "name the directory of the database this backup was taken from");
    auto paths = MX_TRY(ListWalPaths(live_db + "/rocksdb"));
    for (const auto& p : paths) {
      if (p.number < o.roll_forward_from_log) continue;
      std::string to = rdir + p.path.substr(p.path.rfind('/'));
      auto data = ReadFile(p.path);
      if (!data.ok()) {
        if (access(p.path.c_str(), F_OK) != 0) continue;  // archived or truncated meanwhile
        return std::move(data).error();
      }
      MX_CHECK(WriteFileAtomic(to, std::string_view(reinterpret_cast<const char*>(data->data()), data->size())));
      ++rolled;
    }
  }
  // 1. Our own pass over the logs first: checksums and continuity.
  auto logs = MX_TRY(ListWalFiles(rdir));
  for (size_t i = 0; i < logs.size(); ++i) {
    if (!logs[i].damage.empty())
      return Error(Code::kStoreCorrupt, "cannot recover: log " + std::to_string(logs[i].number) + " is damaged", logs[i].path,
                   logs[i].damage, "restore the log from another backup, or recover with --until before it");
    if (!logs[i].foreign_identity.empty() || (!o.identity.empty() && !logs[i].identity.empty() && logs[i].identity != o.identity))
      return Error(Code::kLogChainBroken, "cannot recover: log " + std::to_string(logs[i].number) + " belongs to another database",
                   logs[i].path, "its commits are stamped " + (logs[i].foreign_identity.empty() ? logs[i].identity : logs[i].foreign_identity),
                   "remove it; roll forward only from the same database's logs");
  }
  std::string gap = FindChainGap(logs);
  if (!gap.empty())
    return Error(Code::kLogChainBroken, "cannot recover: the logs have a gap", rdir, gap,
                 "find the missing logs (another backup, or the live store's archive), or recover with --until before the gap");
  // 2. Replay with the strict filter.
  rocksdb::Options opt = EngineOptions(DatabaseOptions{}, false);
  opt.create_if_missing = false;
  opt.wal_recovery_mode = rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
  ChainFilter filter(o);
  opt.wal_filter = &filter;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(opt, rdir, &raw);
  if (!filter.gap.empty())
    return Error(Code::kLogChainBroken, "cannot recover: the logs have a gap", rdir, filter.gap,
                 "find the missing logs, or recover with --until before the gap");
  if (!filter.foreign.empty())
    return Error(Code::kLogChainBroken, "cannot recover: a log belongs to another database", rdir, filter.foreign,
                 "remove it and recover again");
  if (!s.ok()) return Engine("cannot recover the database", rdir, s);
  std::unique_ptr<rocksdb::DB> db(raw);
  RecoverReport r;
  r.sequence = db->GetLatestSequenceNumber();
  r.batches = filter.batches;
  r.logs = filter.logs;
  r.last_commit_us = filter.last_time;
  r.stopped_early = filter.stopped;
  r.logs_rolled_forward = rolled;
  if (!filter.stopped && o.expect_seq && r.sequence < o.expect_seq)
    return Error(Code::kMissingLogs, "cannot recover: the replay ended early", rdir,
                 "it reached sequence " + std::to_string(r.sequence) + ", the restored backups reach " + std::to_string(o.expect_seq),
                 "a log of the chain is missing or cut short; restore the chain again");
  rocksdb::FlushOptions fo;
  fo.wait = true;
  s = db->Flush(fo);
  if (s.ok()) s = db->VerifyChecksum();
  if (s.ok()) s = db->VerifyFileChecksums(rocksdb::ReadOptions());
  if (!s.ok()) return Error(Code::kStoreCorrupt, "the recovered database fails its checksums", rdir, s.ToString(),
                            "restore the chain again; run `mxvault check --read-data` on the repository");
  s = db->Close();
  if (!s.ok()) return Engine("cannot close the recovered database", rdir, s);
  db.reset();
  DatabaseHeader h;
  auto old = DatabaseHeader::Load(dir);
  if (old.ok()) h = *old;
  h.name = o.name.empty() ? h.name : o.name;
  if (!o.identity.empty()) h.identity = o.identity;
  if (h.identity.empty()) h.identity = RandomHex(16);
  if (h.created.empty()) h.created = FormatRfc3339(Now());
  h.state = "dismounted";
  h.clean_shutdown = true;
  h.last_mount_recovered = true;
  h.circular_logging = false;
  h.log_chain = RandomHex(8);  // a restored copy starts its own chain
  h.chain_first_log = 0;
  h.last_full.reset();
  h.last_incremental.reset();
  h.last_differential.reset();
  h.last_copy.reset();
  MX_CHECK(h.Save(dir));
  return r;
}

Status Database::Create(const std::string& dir, const std::string& name, bool circular) {
  if (access((dir + "/header.json").c_str(), F_OK) == 0)
    return Error(Code::kDatabaseExists, "cannot create the database", dir, "it holds a database already");
  MX_CHECK(MakeDirs(dir, 0700));
  rocksdb::Options opt = EngineOptions(DatabaseOptions{}, circular);
  opt.create_if_missing = true;
  opt.error_if_exists = true;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(opt, dir + "/rocksdb", &raw);
  if (!s.ok()) return Engine("cannot create the database", dir, s);
  std::unique_ptr<rocksdb::DB> db(raw);
  s = db->Close();
  if (!s.ok()) return Engine("cannot close the new database", dir, s);
  DatabaseHeader h;
  h.name = name;
  h.identity = RandomHex(16);
  h.created = FormatRfc3339(Now());
  h.circular_logging = circular;
  h.log_chain = RandomHex(8);
  h.chain_first_log = 0;  // set by the first mount
  return h.Save(dir);
}

Result<std::unique_ptr<Database>> Database::Mount(const std::string& dir,
                                                  const DatabaseOptions& options) {
  DatabaseHeader h = MX_TRY(DatabaseHeader::Load(dir));
  bool dirty = !h.clean_shutdown;  // false from mount until a clean dismount
  std::unique_ptr<Database> d(new Database(dir, options));
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(EngineOptions(options, h.circular_logging), dir + "/rocksdb", &raw);
  if (!s.ok()) {
    Error e = Engine("cannot mount database '" + h.name + "'", dir, s);
    if (s.IsCorruption())
      return Error(Code::kStoreCorrupt, e.what(), dir, e.cause(),
                   "run `mxstore db check " + h.name + "` to name the damaged file; restore the database from a backup");
    return e;
  }
  d->db_.reset(raw);
  if (dirty)
    log::Warn("database '" + h.name + "' was not dismounted cleanly; recovered from its transaction logs");
  h.state = "mounted";
  h.clean_shutdown = false;
  h.last_mount_recovered = dirty;
  d->header_ = h;
  MX_CHECK(d->RefreshLogRange(&d->header_));
  // A new chain (created, or circular logging changed) starts with the log
  // this mount opened.
  if (d->header_.chain_first_log == 0) d->header_.chain_first_log = d->header_.newest_log;
  MX_CHECK(d->header_.Save(dir));
  d->state_ = State::kMounted;
  return d;
}

Status Database::BeginOp() {
  std::lock_guard<std::mutex> l(ops_mu_);
  if (state_.load() != State::kMounted)
    return Error(Code::kDatabaseNotMounted, "database is not mounted", header_.name,
                 state_.load() == State::kDismounting ? "it is being dismounted" : "it is dismounted");
  ++ops_in_flight_;
  return Ok();
}

void Database::EndOp() {
  std::lock_guard<std::mutex> l(ops_mu_);
  if (--ops_in_flight_ == 0) ops_cv_.notify_all();
}

Status Database::Dismount(std::chrono::milliseconds bound) {
  {
    std::unique_lock<std::mutex> l(ops_mu_);
    if (state_.load() == State::kDismounted) return Ok();
    state_ = State::kDismounting;
    if (!ops_cv_.wait_for(l, bound, [&] { return ops_in_flight_ == 0; }))
      return Error(Code::kDismountTimeout, "cannot dismount database '" + header_.name + "'", dir_,
                   std::to_string(ops_in_flight_) + " operations still in flight after " +
                       std::to_string(bound.count()) + " ms");
  }
  std::lock_guard<std::mutex> admin(admin_mu_);
  rocksdb::Status s = db_->FlushWAL(true /* sync */);
  (void)RefreshLogRange(&header_);  // from the engine while it is open: no log is read
  if (s.ok()) s = db_->Close();
  db_.reset();
  {
    std::lock_guard<std::mutex> l(alloc_mu_);
    mailbox_ids_.clear();
    folder_ids_.clear();
    folders_.clear();
  }
  state_ = State::kDismounted;
  header_.state = "dismounted";
  header_.clean_shutdown = s.ok();
  MX_CHECK(header_.Save(dir_));
  if (!s.ok()) return Engine("database closed with an error", dir_, s);
  return Ok();
}

Status Database::RefreshLogRange(DatabaseHeader* h) {
  auto logs = MX_TRY(ListWalPaths(dir_ + "/rocksdb"));
  if (logs.empty()) {
    h->oldest_log = h->newest_log = h->oldest_seq = h->newest_seq = 0;
    return Ok();
  }
  // The first sequence of the oldest log is read only when the oldest log
  // changed (a backup truncated the archive, or circular logging deleted it).
  if (logs.front().number != h->oldest_log || h->oldest_seq == 0) {
    h->oldest_seq = 0;
    for (const auto& w : logs) {
      auto info = ReadWalFile(w.path);
      if (info.ok() && info->batches > 0) {
        h->oldest_seq = info->first_seq;
        break;
      }
    }
  }
  h->oldest_log = logs.front().number;
  h->newest_log = logs.back().number;
  if (db_) {
    h->newest_seq = db_->GetLatestSequenceNumber();
    return Ok();
  }
  for (auto it = logs.rbegin(); it != logs.rend(); ++it) {  // dismounted: read the logs
    auto info = ReadWalFile(it->path);
    if (info.ok() && info->batches > 0) {
      h->newest_seq = info->last_seq;
      break;
    }
  }
  return Ok();
}

DatabaseHeader Database::Header() {
  std::lock_guard<std::mutex> l(admin_mu_);
  if (db_ && mounted()) (void)RefreshLogRange(&header_);
  return header_;
}

rocksdb::WriteBatch Database::NewBatch() {
  // The commit stamp goes first, so the log reader finds it at a fixed place
  // (docs/formats/store.md, "Commit stamps").
  rocksdb::WriteBatch batch;
  batch.PutLogData(MakeCommitStamp(header_.identity, NowMicros()));
  return batch;
}

Status Database::Commit(void* batch_ptr, std::vector<Touched> touched) {
  auto* batch = static_cast<rocksdb::WriteBatch*>(batch_ptr);
  rocksdb::WriteOptions wo;
  wo.sync = true;  // acknowledged only when durable in the log
  gate_.Enter();  // waits while a freeze holds the gate (never past its deadline)
  struct Leave {
    WriteGate* g;
    ~Leave() { g->Exit(); }
  } leave{&gate_};
  rocksdb::Status s;
  if (options_.serial_commits) {
    std::lock_guard<std::mutex> l(serial_mu_);
    s = db_->Write(wo, batch);
  } else {
    s = db_->Write(wo, batch);  // concurrent writers share one fsync
  }
  if (!s.ok()) return Engine("cannot commit to database '" + header_.name + "'", dir_, s);
  // The generation moves with its journal entry under one lock, so that a
  // session that read generation G finds every change after G named.
  std::lock_guard<std::mutex> l(journal_mu_);
  uint64_t g = generation_.fetch_add(1, std::memory_order_release) + 1;
  bool all = touched.empty();
  journal_.push_back({g, std::move(touched), all});
  if (journal_.size() > kJournalEntries) journal_.pop_front();
  const uint64_t one = 1;
  for (int fd : watchers_) (void)!::write(fd, &one, sizeof one);  // an eventfd: wakes IDLE sessions
  return Ok();
}

// ---- mailboxes and folders ---------------------------------------------------

Result<MailboxInfo> Database::CreateMailbox(const std::string& mailbox) {
  MX_OP();
  std::lock_guard<std::mutex> admin(admin_mu_);
  std::string v;
  if (db_->Get(rocksdb::ReadOptions(), MailboxKey(mailbox), &v).ok())
    return Error(Code::kMailboxExists, "cannot create mailbox", mailbox,
                 "it exists in database '" + header_.name + "'");
  std::string counter;
  uint64_t id = 1;
  if (db_->Get(rocksdb::ReadOptions(), kMailboxCounter, &counter).ok()) id = ReadFixed64(counter) + 1;
  MailboxInfo info{id, mailbox, FormatRfc3339(Now())};
  rocksdb::WriteBatch batch = NewBatch();
  batch.Merge(kMailboxCounter, Fixed64(id));
  batch.Put(MailboxKey(mailbox), ToCbor({{"id", id}, {"created", info.created}}));
  // Every new mailbox has the special-use folders (RFC 6154) and INBOX as 1.
  static const std::pair<const char*, const char*> kFolders[] = {
      {"INBOX", ""}, {"Drafts", "\\Drafts"}, {"Sent", "\\Sent"},
      {"Trash", "\\Trash"}, {"Junk", "\\Junk"}, {"Archive", "\\Archive"}};
  uint32_t fid = 0;
  uint32_t uidvalidity = static_cast<uint32_t>(Now().sec);
  for (const auto& [name, use] : kFolders) {
    ++fid;
    batch.Put(FolderKey(id, name), ToCbor({{"id", fid}, {"special_use", use},
                                           {"uidvalidity", uidvalidity}, {"subscribed", true}}));
  }
  MX_CHECK(Commit(&batch));
  return info;
}

Status Database::DeleteKeysUnder(rocksdb::WriteBatch* batch, const std::string& prefix, const std::string& what) {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    if (prefix[0] == 'U')  // a message: its body loses a reference
      batch->Merge(BodyKey('R', RecordBody(FromCbor(it->value().ToString()))), Fixed64(static_cast<uint64_t>(int64_t{-1})));
    batch->Delete(it->key());
  }
  if (!it->status().ok()) return Engine(what, dir_, it->status());
  return Ok();
}

Status Database::DeleteMailbox(const std::string& mailbox) {
  MX_OP();
  std::lock_guard<std::mutex> admin(admin_mu_);
  uint64_t id = MX_TRY(MailboxId(mailbox));
  rocksdb::WriteBatch batch = NewBatch();
  batch.Delete(MailboxKey(mailbox));
  // Every key of the mailbox: folders, counters, messages, expunge records;
  // each message drops its body reference.
  for (char tag : {'F', 'C', 'U', 'X'}) {
    std::string prefix(1, tag);
    PutBE(&prefix, id, 8);
    MX_CHECK(DeleteKeysUnder(&batch, prefix, "cannot delete mailbox " + mailbox));
  }
  MX_CHECK(Commit(&batch));
  std::lock_guard<std::mutex> l(alloc_mu_);
  mailbox_ids_.erase(mailbox);
  for (auto it = folders_.begin(); it != folders_.end();)
    it = it->first.first == id ? folders_.erase(it) : std::next(it);
  for (auto it = folder_ids_.begin(); it != folder_ids_.end();)
    it = it->first.first == id ? folder_ids_.erase(it) : std::next(it);
  return Ok();
}

Result<std::vector<MailboxInfo>> Database::ListMailboxes() {
  MX_OP();
  std::vector<MailboxInfo> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek("M"); it->Valid() && it->key().starts_with("M"); it->Next()) {
    json rec = FromCbor(it->value().ToString());
    out.push_back({rec.at("id").get<uint64_t>(), it->key().ToString().substr(1),
                   rec.value("created", "")});
  }
  return out;
}

Result<uint64_t> Database::MailboxId(const std::string& mailbox) {
  {
    auto it = mailbox_ids_.find(mailbox);
    if (it != mailbox_ids_.end()) return it->second;
  }
  std::string v;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), MailboxKey(mailbox), &v);
  if (s.IsNotFound())
    return Error(Code::kMailboxNotFound, "no such mailbox", mailbox,
                 "database '" + header_.name + "' does not hold it");
  if (!s.ok()) return Engine("cannot read mailbox", mailbox, s);
  uint64_t id = FromCbor(v).at("id").get<uint64_t>();
  mailbox_ids_[mailbox] = id;
  return id;
}

Result<uint32_t> Database::FolderId(uint64_t mbox, const std::string& mailbox, const std::string& folder) {
  auto key = std::make_pair(mbox, folder);
  auto it = folder_ids_.find(key);
  if (it != folder_ids_.end()) return it->second;
  std::string v;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), FolderKey(mbox, folder), &v);
  if (s.IsNotFound())
    return Error(Code::kFolderNotFound, "no such folder", mailbox + "/" + folder,
                 "the mailbox has no folder of this name");
  if (!s.ok()) return Engine("cannot read folder", mailbox + "/" + folder, s);
  uint32_t id = FromCbor(v).at("id").get<uint32_t>();
  folder_ids_[key] = id;
  return id;
}

Result<uint64_t> Database::NextModseq(uint64_t mbox, uint32_t folder) {
  std::lock_guard<std::mutex> l(alloc_mu_);
  FolderState* st = MX_TRY(LoadFolderState(mbox, folder));
  return ++st->modseq;
}

Result<std::pair<uint64_t, uint32_t>> Database::ResolveFolder(const std::string& mailbox,
                                                              const std::string& folder) {
  std::lock_guard<std::mutex> l(alloc_mu_);
  uint64_t mbox = MX_TRY(MailboxId(mailbox));
  uint32_t fid = MX_TRY(FolderId(mbox, mailbox, folder));
  return std::make_pair(mbox, fid);
}

Result<Database::FolderState*> Database::LoadFolderState(uint64_t mbox, uint32_t folder) {
  auto key = std::make_pair(mbox, folder);
  auto it = folders_.find(key);
  if (it != folders_.end()) return &it->second;
  FolderState st;
  std::string v;
  if (db_->Get(rocksdb::ReadOptions(), CounterKey(mbox, folder, 'u'), &v).ok())
    st.uidnext = static_cast<uint32_t>(ReadFixed64(v));
  if (st.uidnext == 0) st.uidnext = 1;
  if (db_->Get(rocksdb::ReadOptions(), CounterKey(mbox, folder, 'm'), &v).ok())
    st.modseq = ReadFixed64(v);
  // RFC 7162: a mod-sequence is at least 1, and a client that was told a
  // HIGHESTMODSEQ must see every later change above it: an untouched
  // folder reports 1 and its first change gets 2.
  if (st.modseq == 0) st.modseq = 1;
  // Keywords: one key each ("C" mbox folder 'k' keyword → order of first
  // use), so that concurrent batches adding different ones lose none.
  std::vector<std::pair<uint64_t, std::string>> kws;
  std::string kp = CounterKey(mbox, folder, 'k');
  std::unique_ptr<rocksdb::Iterator> ki(db_->NewIterator(rocksdb::ReadOptions()));
  for (ki->Seek(kp); ki->Valid() && ki->key().starts_with(kp); ki->Next())
    kws.emplace_back(ReadFixed64(ki->value().ToString()), ki->key().ToString().substr(kp.size()));
  std::sort(kws.begin(), kws.end());
  for (auto& [order, k] : kws) st.keywords.push_back(std::move(k));
  return &(folders_[key] = st);
}

void Database::NoteKeywords(FolderState* st, uint64_t mbox, uint32_t folder, const std::vector<std::string>& keywords,
                            rocksdb::WriteBatch* batch) {
  for (const auto& k : keywords)
    if (std::find(st->keywords.begin(), st->keywords.end(), k) == st->keywords.end()) {
      st->keywords.push_back(k);
      batch->Put(CounterKey(mbox, folder, 'k') + k, Fixed64(st->keywords.size()));
    }
}

std::vector<FolderInfo> Database::FolderRecords(uint64_t mbox) {
  std::vector<FolderInfo> out;
  std::string prefix = FolderPrefix(mbox);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    json rec = FromCbor(it->value().ToString());
    FolderInfo f;
    f.name = it->key().ToString().substr(prefix.size());
    f.id = rec.at("id").get<uint32_t>();
    f.special_use = rec.value("special_use", "");
    f.uidvalidity = rec.value("uidvalidity", 0u);
    f.subscribed = rec.value("subscribed", true);
    out.push_back(std::move(f));
  }
  return out;
}

Result<FolderInfo> Database::CreateFolder(const std::string& mailbox, const std::string& folder,
                                          const std::string& special_use) {
  MX_OP();
  std::lock_guard<std::mutex> admin(admin_mu_);
  uint64_t mbox;
  {
    std::lock_guard<std::mutex> l(alloc_mu_);
    mbox = MX_TRY(MailboxId(mailbox));
  }
  uint32_t max_id = 0;
  for (const auto& f : FolderRecords(mbox)) {
    if (f.name == folder)
      return Error(Code::kMailboxExists, "cannot create folder", mailbox + "/" + folder,
                   "the mailbox has a folder of this name", "choose another folder name");
    max_id = std::max(max_id, f.id);
  }
  FolderInfo info;
  info.id = max_id + 1;
  info.name = folder;
  info.special_use = special_use;
  info.uidvalidity = static_cast<uint32_t>(Now().sec);
  rocksdb::WriteBatch batch = NewBatch();
  batch.Put(FolderKey(mbox, folder), ToCbor({{"id", info.id}, {"special_use", special_use},
                                              {"uidvalidity", info.uidvalidity}, {"subscribed", true}}));
  MX_CHECK(Commit(&batch));
  return info;
}

Status Database::DeleteFolder(const std::string& mailbox, const std::string& folder) {
  MX_OP();
  std::lock_guard<std::mutex> admin(admin_mu_);
  auto [mbox, fid] = MX_TRY(ResolveFolder(mailbox, folder));
  std::lock_guard<std::mutex> stripe(update_mu_[(mbox * 31 + fid) % 16]);
  rocksdb::WriteBatch batch = NewBatch();
  batch.Delete(FolderKey(mbox, folder));
  // Its counters, messages and expunge records; each message drops its body reference.
  for (char tag : {'C', 'U', 'X'}) {
    std::string prefix(1, tag);
    PutBE(&prefix, mbox, 8);
    PutBE(&prefix, fid, 4);
    MX_CHECK(DeleteKeysUnder(&batch, prefix, "cannot delete folder " + mailbox + "/" + folder));
  }
  MX_CHECK(Commit(&batch));
  std::lock_guard<std::mutex> l(alloc_mu_);
  folders_.erase({mbox, fid});
  folder_ids_.erase({mbox, folder});
  return Ok();
}

Status Database::RenameFolder(const std::string& mailbox, const std::string& from, const std::string& to) {
  MX_OP();
  std::lock_guard<std::mutex> admin(admin_mu_);
  uint64_t mbox;
  {
    std::lock_guard<std::mutex> l(alloc_mu_);
    mbox = MX_TRY(MailboxId(mailbox));
  }
  std::vector<FolderInfo> all = FolderRecords(mbox);
  auto has = [&](const std::string& n) {
    return std::any_of(all.begin(), all.end(), [&](const FolderInfo& f) { return f.name == n; });
  };
  if (!has(from)) return Error(Code::kFolderNotFound, "cannot rename folder", mailbox + "/" + from, "the mailbox has no folder of this name");
  if (to == from || to.rfind(from + "/", 0) == 0)
    return Error(Code::kUsage, "cannot rename folder", mailbox + "/" + from, "the new name " + to + " is the folder itself or below it",
                 "choose a name outside the folder");
  rocksdb::WriteBatch batch = NewBatch();
  std::vector<std::string> renamed;
  for (const FolderInfo& f : all) {
    if (f.name != from && f.name.rfind(from + "/", 0) != 0) continue;
    std::string name = to + f.name.substr(from.size());
    if (has(name))
      return Error(Code::kMailboxExists, "cannot rename folder", mailbox + "/" + from, "a folder named " + name + " exists",
                   "choose another name, or delete that folder first");
    std::string v;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), FolderKey(mbox, f.name), &v);
    if (!s.ok()) return Engine("cannot read folder", mailbox + "/" + f.name, s);
    batch.Delete(FolderKey(mbox, f.name));
    batch.Put(FolderKey(mbox, name), v);
    renamed.push_back(f.name);
  }
  MX_CHECK(Commit(&batch));
  std::lock_guard<std::mutex> l(alloc_mu_);
  for (const auto& n : renamed) folder_ids_.erase({mbox, n});
  return Ok();
}

Result<FolderInfo> Database::GetFolder(const std::string& mailbox, const std::string& folder) {
  MX_OP();
  uint64_t mbox;
  {
    std::lock_guard<std::mutex> l(alloc_mu_);
    mbox = MX_TRY(MailboxId(mailbox));
  }
  for (auto& f : FolderRecords(mbox)) {
    if (f.name != folder) continue;
    std::lock_guard<std::mutex> l(alloc_mu_);
    FolderState* st = MX_TRY(LoadFolderState(mbox, f.id));
    f.uidnext = st->uidnext;
    f.highestmodseq = st->modseq;
    f.keywords = st->keywords;
    return f;
  }
  return Error(Code::kFolderNotFound, "no such folder", mailbox + "/" + folder, "the mailbox has no folder of this name");
}

Result<std::vector<FolderInfo>> Database::ListFolders(const std::string& mailbox) {
  MX_OP();
  uint64_t mbox;
  {
    std::lock_guard<std::mutex> l(alloc_mu_);
    mbox = MX_TRY(MailboxId(mailbox));
  }
  std::vector<FolderInfo> out = FolderRecords(mbox);
  for (auto& f : out) {
    {
      std::lock_guard<std::mutex> l(alloc_mu_);
      FolderState* st = MX_TRY(LoadFolderState(mbox, f.id));
      f.uidnext = st->uidnext;
      f.highestmodseq = st->modseq;
    }
    std::string mp = MessagePrefix(mbox, f.id);
    std::unique_ptr<rocksdb::Iterator> m(db_->NewIterator(rocksdb::ReadOptions()));
    for (m->Seek(mp); m->Valid() && m->key().starts_with(mp); m->Next()) ++f.messages;
  }
  return out;
}

// ---- messages ----------------------------------------------------------------

Result<std::vector<Delivered>> Database::Deliver(const std::vector<std::string>& mailboxes,
                                                 std::string_view message, int64_t internal_date,
                                                 int32_t internal_zone, const std::string& folder) {
  return Insert(mailboxes, message, internal_date, internal_zone, folder, 0, {});
}

Result<uint32_t> Database::Append(const std::string& mailbox, const std::string& folder,
                                  std::string_view message, uint32_t flags,
                                  const std::vector<std::string>& keywords, int64_t internal_date,
                                  int32_t internal_zone) {
  auto uids = MX_TRY(AppendMany(mailbox, folder, {{message, flags, keywords, internal_date, internal_zone}}));
  return uids.at(0);
}

BodyId Database::AddBody(rocksdb::WriteBatch* batch, std::string_view message, uint64_t references) {
  BodyId id{};
  unsigned int len = 0;
  EVP_Digest(message.data(), message.size(), id.data(), &len, EVP_sha256(), nullptr);
  std::string info_key = BodyKey('P', id);
  std::string existing;
  if (!db_->Get(rocksdb::ReadOptions(), info_key, &existing).ok()) {
    // First copy in this database: the body and what FETCH needs of it.
    // (Twice in one batch is harmless: the same bytes are put twice.)
    batch->Put(BodyKey('B', id), rocksdb::Slice(message.data(), message.size()));
    batch->Put(info_key, ToCbor(ParseMessageInfo(message)));
  }
  batch->Merge(BodyKey('R', id), Fixed64(references));
  return id;
}

Result<std::vector<uint32_t>> Database::AppendMany(const std::string& mailbox, const std::string& folder,
                                                   const std::vector<AppendItem>& items) {
  for (const auto& item : items)
    if (item.message.size() > options_.max_message_size)
      return Error(Code::kMessageTooLarge, "message refused", header_.name,
                   std::to_string(item.message.size()) + " bytes is over the limit of " +
                       std::to_string(options_.max_message_size));
  MX_OP();
  rocksdb::WriteBatch batch = NewBatch();
  std::vector<BodyId> ids;
  for (const auto& item : items) ids.push_back(AddBody(&batch, item.message, 1));
  std::vector<uint32_t> out;
  std::vector<Touched> touched;
  {
    std::lock_guard<std::mutex> l(alloc_mu_);
    uint64_t mbox = MX_TRY(MailboxId(mailbox));
    uint32_t fid = MX_TRY(FolderId(mbox, mailbox, folder));
    FolderState* st = MX_TRY(LoadFolderState(mbox, fid));
    for (size_t i = 0; i < items.size(); ++i) {
      const AppendItem& item = items[i];
      uint32_t uid = st->uidnext++;
      uint64_t modseq = ++st->modseq;
      json rec = {{"m", modseq}, {"f", item.flags}, {"d", item.internal_date}, {"z", item.internal_zone},
                  {"s", item.message.size()}, {"b", json::binary(std::vector<uint8_t>(ids[i].begin(), ids[i].end()))}};
      if (!item.keywords.empty()) rec["k"] = item.keywords;
      batch.Put(MessageKey(mbox, fid, uid), ToCbor(rec));
      NoteKeywords(st, mbox, fid, item.keywords, &batch);
      out.push_back(uid);
    }
    touched.push_back({mbox, fid, out});
    batch.Merge(CounterKey(mbox, fid, 'u'), Fixed64(st->uidnext));
    batch.Merge(CounterKey(mbox, fid, 'm'), Fixed64(st->modseq));
  }
  MX_CHECK(Commit(&batch, std::move(touched)));
  return out;
}

Result<std::vector<Delivered>> Database::Insert(const std::vector<std::string>& mailboxes,
                                               std::string_view message, int64_t internal_date,
                                               int32_t internal_zone, const std::string& folder,
                                               uint32_t flags, const std::vector<std::string>& keywords) {
  if (message.size() > options_.max_message_size)
    return Error(Code::kMessageTooLarge, "message refused", header_.name,
                 std::to_string(message.size()) + " bytes is over the limit of " +
                     std::to_string(options_.max_message_size));
  MX_OP();
  rocksdb::WriteBatch batch = NewBatch();
  BodyId id = AddBody(&batch, message, mailboxes.size());

  std::vector<Delivered> out;
  std::vector<Touched> touched;
  {
    std::lock_guard<std::mutex> l(alloc_mu_);
    for (const auto& mailbox : mailboxes) {
      uint64_t mbox = MX_TRY(MailboxId(mailbox));
      uint32_t fid = MX_TRY(FolderId(mbox, mailbox, folder));
      FolderState* st = MX_TRY(LoadFolderState(mbox, fid));
      uint32_t uid = st->uidnext++;
      uint64_t modseq = ++st->modseq;
      json rec = {{"m", modseq}, {"f", flags}, {"d", internal_date}, {"z", internal_zone},
                  {"s", message.size()}, {"b", json::binary(std::vector<uint8_t>(id.begin(), id.end()))}};
      if (!keywords.empty()) rec["k"] = keywords;
      batch.Put(MessageKey(mbox, fid, uid), ToCbor(rec));
      NoteKeywords(st, mbox, fid, keywords, &batch);
      batch.Merge(CounterKey(mbox, fid, 'u'), Fixed64(st->uidnext));
      batch.Merge(CounterKey(mbox, fid, 'm'), Fixed64(modseq));
      out.push_back({mailbox, uid});
      touched.push_back({mbox, fid, {uid}});
    }
  }
  MX_CHECK(Commit(&batch, std::move(touched)));
  return out;
}

Result<std::vector<MessageRecord>> Database::ListMessages(const std::string& mailbox,
                                                          const std::string& folder) {
  MX_OP();
  auto [mbox, fid] = MX_TRY(ResolveFolder(mailbox, folder));
  std::vector<MessageRecord> out;
  std::string prefix = MessagePrefix(mbox, fid);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    out.push_back(DecodeMessage(static_cast<uint32_t>(GetBE(it->key().data() + prefix.size(), 4)),
                                it->value().ToString()));
  }
  if (!it->status().ok()) return Engine("cannot list messages", mailbox + "/" + folder, it->status());
  return out;
}

MessageRecord Database::DecodeMessage(uint32_t uid, const std::string& value) {
  json rec = FromCbor(value);
  MessageRecord m;
  m.uid = uid;
  m.modseq = rec.at("m").get<uint64_t>();
  m.flags = rec.value("f", 0u);
  if (rec.contains("k")) m.keywords = rec["k"].get<std::vector<std::string>>();
  m.internal_date = rec.value("d", int64_t{0});
  m.internal_zone = rec.value("z", 0);
  m.size = rec.value("s", uint64_t{0});
  m.body = RecordBody(rec);
  return m;
}

Result<MessageRecord> Database::GetMessage(const std::string& mailbox, const std::string& folder, uint32_t uid) {
  MX_OP();
  auto [mbox, fid] = MX_TRY(ResolveFolder(mailbox, folder));
  std::string v;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), MessageKey(mbox, fid, uid), &v);
  if (s.IsNotFound())
    return Error(Code::kNotFound, "no such message", mailbox + "/" + folder + " UID " + std::to_string(uid),
                 "expunged, or never delivered");
  if (!s.ok()) return Engine("cannot read message", mailbox + "/" + folder, s);
  return DecodeMessage(uid, v);
}

bool Database::ChangesSince(uint64_t since, const std::string& mailbox, const std::string& folder,
                            std::vector<uint32_t>* uids, uint64_t* now) {
  auto where = ResolveFolder(mailbox, folder);
  std::lock_guard<std::mutex> l(journal_mu_);
  *now = generation_.load(std::memory_order_acquire);
  if (*now == since) return true;
  if (!where.ok() || journal_.empty() || journal_.front().generation > since + 1) return false;
  auto [mbox, fid] = *where;
  for (auto it = journal_.rbegin(); it != journal_.rend() && it->generation > since; ++it) {
    if (it->all) return false;
    for (const auto& t : it->touched)
      if (t.mbox == mbox && t.fid == fid) uids->insert(uids->end(), t.uids.begin(), t.uids.end());
  }
  return true;
}

void Database::Watch(int fd) {
  std::lock_guard<std::mutex> l(journal_mu_);
  watchers_.insert(fd);
}

void Database::Unwatch(int fd) {
  std::lock_guard<std::mutex> l(journal_mu_);
  watchers_.erase(fd);
}

Result<std::string> Database::ReadBody(const BodyId& body) {
  MX_OP();
  std::string v;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), BodyKey('B', body), &v);
  if (!s.ok()) return Engine("cannot read message body", BodyIdHex(body), s);
  return v;
}

Status Database::SyncLog() {
  MX_OP();
  rocksdb::Status s = db_->SyncWAL();
  if (!s.ok()) return Engine("cannot sync the log of database '" + header_.name + "'", dir_, s);
  return Ok();
}

Status Database::Freeze(std::chrono::milliseconds deadline) {
  MX_OP();
  if (!gate_.Freeze(deadline))
    return Error(Code::kFreezeTimeout, "cannot freeze database '" + header_.name + "'", dir_,
                 "commits in flight did not finish within " + std::to_string(deadline.count()) +
                     " ms, or another freeze holds the database");
  return Ok();
}

Status Database::Thaw() {
  if (!gate_.Thaw())
    return Error(Code::kFreezeTimeout, "freeze of database '" + header_.name + "' expired", dir_,
                 "the deadline passed before the thaw; the store thawed by itself");
  return Ok();
}

Status Database::PinFiles() {
  MX_OP();
  rocksdb::Status s = db_->DisableFileDeletions();
  if (!s.ok()) return Engine("cannot pin the files of database '" + header_.name + "'", dir_, s);
  return Ok();
}

Status Database::UnpinFiles() {
  MX_OP();
  rocksdb::Status s = db_->EnableFileDeletions(false /* force: only undo our own pin */);
  if (!s.ok()) return Engine("cannot unpin the files of database '" + header_.name + "'", dir_, s);
  return Ok();
}

Result<FileSet> Database::LiveFiles() {
  MX_OP();
  FileSet set;
  set.sequence = db_->GetLatestSequenceNumber();
  std::vector<rocksdb::LiveFileStorageInfo> files;
  rocksdb::LiveFilesStorageInfoOptions lo;
  lo.wal_size_for_flush = std::numeric_limits<uint64_t>::max();  // never flush inside
  rocksdb::Status s = db_->GetLiveFilesStorageInfo(lo, &files);
  if (!s.ok()) return Engine("cannot list the live files of database '" + header_.name + "'", dir_, s);
  for (const auto& f : files) {
    LiveFile lf;
    lf.directory = f.directory;
    lf.name = f.relative_filename;
    lf.size = f.size;
    lf.trim_to_size = f.trim_to_size;
    lf.replacement_contents = f.replacement_contents;
    switch (f.file_type) {
      case rocksdb::kTableFile: lf.kind = "table"; break;
      case rocksdb::kBlobFile: lf.kind = "blob"; break;
      case rocksdb::kWalFile: lf.kind = "log"; break;
      case rocksdb::kDescriptorFile: lf.kind = "manifest"; break;
      case rocksdb::kCurrentFile: lf.kind = "current"; break;
      case rocksdb::kOptionsFile: lf.kind = "options"; break;
      default: lf.kind = "other"; break;
    }
    set.files.push_back(std::move(lf));
  }
  return set;
}

Result<std::map<uint64_t, uint32_t>> Database::RecordedChecksums() {
  MX_OP();
  std::map<uint64_t, uint32_t> out;
  rocksdb::Status s = RecordedCrcs(db_.get(), &out);
  if (!s.ok()) return Engine("cannot read the recorded file checksums of database '" + header_.name + "'", dir_, s);
  return out;
}

Status Database::RecordBackup(const std::string& type, const BackupRecord& record) {
  std::lock_guard<std::mutex> l(admin_mu_);
  if (type == "full") header_.last_full = record;
  else if (type == "incremental") header_.last_incremental = record;
  else if (type == "differential") header_.last_differential = record;
  else header_.last_copy = record;
  return header_.Save(dir_);
}

Result<uint64_t> Database::TruncateArchivedLogs(uint64_t below) {
  auto logs = MX_TRY(ListWalPaths(dir_ + "/rocksdb"));
  uint64_t removed = 0;
  for (const auto& l : logs) {
    if (!l.archived || l.number >= below) continue;
    if (unlink(l.path.c_str()) != 0 && errno != ENOENT)
      return ErrnoError("cannot truncate a backed-up log of database '" + header_.name + "'", l.path, errno);
    ++removed;
  }
  if (removed) MX_CHECK(SyncDir(dir_ + "/rocksdb/archive"));
  return removed;
}

Status Database::Flush() {
  MX_OP();
  rocksdb::FlushOptions fo;
  fo.wait = true;
  rocksdb::Status s = db_->Flush(fo);
  if (!s.ok()) return Engine("cannot flush database '" + header_.name + "'", dir_, s);
  return Ok();
}

namespace {
std::string ExpungeKey(uint64_t mbox, uint32_t folder, uint64_t modseq, uint32_t uid) {
  std::string k = "X";
  PutBE(&k, mbox, 8);
  PutBE(&k, folder, 4);
  PutBE(&k, modseq, 8);
  PutBE(&k, uid, 4);
  return k;
}
}  // namespace

Result<uint64_t> Database::SetFlags(const std::string& mailbox, const std::string& folder, uint32_t uid,
                                    uint32_t flags, const std::vector<std::string>& keywords) {
  MX_OP();
  auto [mbox, fid] = MX_TRY(ResolveFolder(mailbox, folder));
  std::lock_guard<std::mutex> stripe(update_mu_[(mbox * 31 + fid) % 16]);
  std::string key = MessageKey(mbox, fid, uid);
  std::string v;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), key, &v);
  if (s.IsNotFound())
    return Error(Code::kNotFound, "no such message", mailbox + "/" + folder + " UID " + std::to_string(uid),
                 "the folder has no message with this UID (expunged, or never delivered)",
                 "list the folder's messages and use one of their UIDs");
  if (!s.ok()) return Engine("cannot read message", mailbox + "/" + folder, s);
  json rec = FromCbor(v);
  uint64_t modseq = MX_TRY(NextModseq(mbox, fid));
  rec["f"] = flags;
  rec["k"] = keywords;
  rec["m"] = modseq;
  rocksdb::WriteBatch batch = NewBatch();
  batch.Put(key, ToCbor(rec));
  {
    std::lock_guard<std::mutex> l(alloc_mu_);
    FolderState* st = MX_TRY(LoadFolderState(mbox, fid));
    NoteKeywords(st, mbox, fid, keywords, &batch);
  }
  batch.Merge(CounterKey(mbox, fid, 'm'), Fixed64(modseq));
  MX_CHECK(Commit(&batch, {{mbox, fid, {uid}}}));
  return modseq;
}

Result<uint64_t> Database::Expunge(const std::string& mailbox, const std::string& folder,
                                   const std::vector<uint32_t>& uids) {
  MX_OP();
  auto [mbox, fid] = MX_TRY(ResolveFolder(mailbox, folder));
  std::lock_guard<std::mutex> stripe(update_mu_[(mbox * 31 + fid) % 16]);
  uint64_t modseq = MX_TRY(NextModseq(mbox, fid));
  rocksdb::WriteBatch batch = NewBatch();
  for (uint32_t uid : uids) {
    std::string key = MessageKey(mbox, fid, uid);
    std::string v;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), key, &v);
    if (s.IsNotFound()) continue;
    if (!s.ok()) return Engine("cannot read message", mailbox + "/" + folder, s);
    const BodyId bid = RecordBody(FromCbor(v));
    batch.Delete(key);
    batch.Put(ExpungeKey(mbox, fid, modseq, uid), "");
    batch.Merge(BodyKey('R', bid), Fixed64(static_cast<uint64_t>(int64_t{-1})));
  }
  batch.Merge(CounterKey(mbox, fid, 'm'), Fixed64(modseq));
  MX_CHECK(Commit(&batch, {{mbox, fid, uids}}));
  return modseq;
}

Result<std::vector<std::pair<uint32_t, uint32_t>>> Database::Copy(const std::string& mailbox, const std::string& from,
                                                                   std::vector<uint32_t> uids, const std::string& to,
                                                                   bool move) {
  MX_OP();
  auto [mbox, src] = MX_TRY(ResolveFolder(mailbox, from));
  auto [mbox2, dst] = MX_TRY(ResolveFolder(mailbox, to));
  (void)mbox2;
  std::sort(uids.begin(), uids.end());
  uids.erase(std::unique(uids.begin(), uids.end()), uids.end());
  // The source's stripe keeps a concurrent STORE or EXPUNGE from changing
  // what is copied; the destination's UIDs are allocated under alloc_mu_, as
  // for a delivery.
  std::lock_guard<std::mutex> stripe(update_mu_[(mbox * 31 + src) % 16]);
  std::vector<std::pair<uint32_t, json>> found;
  for (uint32_t uid : uids) {
    std::string v;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), MessageKey(mbox, src, uid), &v);
    if (s.IsNotFound()) continue;
    if (!s.ok()) return Engine("cannot read message", mailbox + "/" + from, s);
    found.emplace_back(uid, FromCbor(v));
  }
  std::vector<std::pair<uint32_t, uint32_t>> out;
  if (found.empty()) return out;
  rocksdb::WriteBatch batch = NewBatch();
  uint64_t src_modseq = 0;
  if (move) src_modseq = MX_TRY(NextModseq(mbox, src));
  {
    std::lock_guard<std::mutex> l(alloc_mu_);
    FolderState* st = MX_TRY(LoadFolderState(mbox, dst));
    for (auto& [uid, rec] : found) {
      uint32_t nuid = st->uidnext++;
      uint64_t modseq = ++st->modseq;
      json copy = rec;
      copy["m"] = modseq;
      batch.Put(MessageKey(mbox, dst, nuid), ToCbor(copy));
      if (copy.contains("k")) NoteKeywords(st, mbox, dst, copy["k"].get<std::vector<std::string>>(), &batch);
      out.emplace_back(uid, nuid);
    }
    batch.Merge(CounterKey(mbox, dst, 'u'), Fixed64(st->uidnext));
    batch.Merge(CounterKey(mbox, dst, 'm'), Fixed64(st->modseq));
  }
  for (auto& [uid, rec] : found) {
    // One more reference per copy; a move drops the original's.
    const BodyId bid = RecordBody(rec);
    if (!move) {
      batch.Merge(BodyKey('R', bid), Fixed64(1));
      continue;
    }
    batch.Delete(MessageKey(mbox, src, uid));
    batch.Put(ExpungeKey(mbox, src, src_modseq, uid), "");
  }
  if (move) batch.Merge(CounterKey(mbox, src, 'm'), Fixed64(src_modseq));
  std::vector<Touched> touched{{mbox, dst, {}}};
  for (auto& [from, to] : out) touched[0].uids.push_back(to);
  if (move) {
    touched.push_back({mbox, src, {}});
    for (auto& [from, to] : out) touched[1].uids.push_back(from);
  }
  MX_CHECK(Commit(&batch, std::move(touched)));
  return out;
}

Result<std::vector<uint32_t>> Database::ExpungedSince(const std::string& mailbox, const std::string& folder,
                                                      uint64_t since) {
  MX_OP();
  auto [mbox, fid] = MX_TRY(ResolveFolder(mailbox, folder));
  std::string prefix = "X";
  PutBE(&prefix, mbox, 8);
  PutBE(&prefix, fid, 4);
  std::vector<uint32_t> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(ExpungeKey(mbox, fid, since + 1, 0)); it->Valid() && it->key().starts_with(prefix); it->Next())
    out.push_back(static_cast<uint32_t>(GetBE(it->key().data() + prefix.size() + 8, 4)));
  std::sort(out.begin(), out.end());
  return out;
}

// ---- check ---------------------------------------------------------------------

namespace {

/// Every live table file read through its block checksums (SstFileReader,
/// so a failure names the file), then the whole-file CRC-32C of every live
/// table and blob file against the checksum the MANIFEST recorded when the
/// file was written. Uses only metadata calls that never read the logs, so
/// a damaged log cannot hide a damaged table.
void CheckFileChecksums(rocksdb::DB* db, const std::string& rdir, std::vector<std::string>* damage) {
  rocksdb::ColumnFamilyMetaData cf;
  db->GetColumnFamilyMetaData(&cf);
  std::map<uint64_t, std::string> paths;
  for (const auto& level : cf.levels)
    for (const auto& f : level.files) paths[f.file_number] = f.directory + "/" + f.relative_filename;
  for (const auto& b : cf.blob_files) {
    char name[32];
    std::snprintf(name, sizeof(name), "/%06llu.blob", static_cast<unsigned long long>(b.blob_file_number));
    paths[b.blob_file_number] = rdir + name;
  }
  size_t before = damage->size();
  rocksdb::Options opt;
  for (const auto& [number, path] : paths) {
    if (path.size() < 4 || path.compare(path.size() - 4, 4, ".sst") != 0) continue;
    rocksdb::SstFileReader reader(opt);
    rocksdb::Status s = reader.Open(path);
    if (s.ok()) s = reader.VerifyChecksum();
    if (!s.ok()) damage->push_back(path + ": " + s.ToString());
  }
  std::map<uint64_t, uint32_t> recorded;
  rocksdb::Status s = RecordedCrcs(db, &recorded);
  if (!s.ok()) {
    damage->push_back("engine: cannot read the recorded file checksums: " + s.ToString());
    return;
  }
  for (const auto& [number, want] : recorded) {
    auto it = paths.find(number);
    if (it == paths.end()) continue;
    const std::string& path = it->second;
    auto crc = FileCrc32c(path);
    if (!crc.ok()) {
      damage->push_back(path + ": " + crc.error().cause());
      continue;
    }
    char buf[64];
    std::snprintf(buf, sizeof(buf), "(recorded %08x, computed %08x)", want, *crc);
    if (*crc != want) damage->push_back(path + ": whole-file checksum mismatch " + buf);
  }
  if (damage->size() == before) {
    // Belt and braces: RocksDB's own pass over every table.
    s = db->VerifyChecksum();
    if (!s.ok()) damage->push_back("engine block checksums: " + s.ToString());
  }
}

void CheckLogs(const std::string& rdir, std::vector<std::string>* damage) {
  auto logs = ListWalFiles(rdir);
  if (!logs.ok()) {
    damage->push_back(rdir + ": " + logs.error().Message());
    return;
  }
  for (size_t i = 0; i < logs->size(); ++i) {
    const auto& l = (*logs)[i];
    if (!l.damage.empty()) damage->push_back(l.path + ": " + l.damage);
  }
  std::string gap = FindChainGap(*logs);
  if (!gap.empty()) damage->push_back(rdir + ": log chain broken: " + gap);
}

}  // namespace

Result<std::vector<std::string>> Database::Check() {
  MX_OP();
  std::vector<std::string> damage;
  // Pin the files while they are read: a compaction or a log archiving
  // finishing meanwhile must not delete or move a file between listing and
  // reading it. The counter nests with a backup's own pin
  // (EnableFileDeletions(false) only decrements).
  rocksdb::Status pin = db_->DisableFileDeletions();
  if (!pin.ok()) return Engine("cannot pin the database's files for the check", dir_, pin);
  CheckLogs(dir_ + "/rocksdb", &damage);
  CheckFileChecksums(db_.get(), dir_ + "/rocksdb", &damage);
  (void)db_->EnableFileDeletions(false /* force */);
  return damage;
}

Result<std::vector<std::string>> Database::CheckOffline(const std::string& dir) {
  DatabaseHeader h = MX_TRY(DatabaseHeader::Load(dir));
  std::vector<std::string> damage;
  CheckLogs(dir + "/rocksdb", &damage);
  rocksdb::Options opt = EngineOptions(DatabaseOptions{}, h.circular_logging);
  opt.max_open_files = -1;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::OpenForReadOnly(opt, dir + "/rocksdb", &raw);
  if (!s.ok()) {
    damage.push_back("engine: cannot open the database: " + s.ToString());
    // A damaged log stops the strict open; the logs were checked above, so
    // open once more skipping damaged records, only to check the tables.
    opt.wal_recovery_mode = rocksdb::WALRecoveryMode::kSkipAnyCorruptedRecords;
    raw = nullptr;
    if (!rocksdb::DB::OpenForReadOnly(opt, dir + "/rocksdb", &raw).ok()) return damage;
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  CheckFileChecksums(db.get(), dir + "/rocksdb", &damage);
  (void)db->Close();
  return damage;
}

}  // namespace mx::store
