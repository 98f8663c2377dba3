#include "store/db/store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "common/fs.h"
#include "store/log/wal.h"
#include "tests/support/temp_dir.h"

namespace mx::store {
namespace {

namespace fs = std::filesystem;

StoreOptions SmallOptions(const std::string& dir) {
  StoreOptions o;
  o.data_dir = dir;
  o.database.write_buffer_size = 64 << 10;  // many flushes, so logs become obsolete
  o.dismount_bound = std::chrono::milliseconds(5000);
  return o;
}

std::string Message(int i, size_t body = 2000) {
  std::mt19937 rng(i);
  std::string m = "From: sender@example.org\r\nTo: alice@example.test\r\nSubject: message " +
                  std::to_string(i) + "\r\nMessage-ID: <" + std::to_string(i) + "@test>\r\n\r\n";
  while (m.size() < body) m += "line " + std::to_string(rng()) + "\r\n";
  return m;
}

std::vector<std::string> Files(const std::string& dir, const std::string& ext) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(dir, ec))
    if (e.path().extension() == ext) out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

void FlipByte(const std::string& path, uint64_t offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(offset));
  char c;
  f.get(c);
  f.seekp(static_cast<std::streamoff>(offset));
  f.put(static_cast<char>(c ^ 0x40));
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = Store::Open(SmallOptions(dir_.path()));
    ASSERT_TRUE(s.ok()) << s.error().Full();
    store_ = std::move(*s);
    ASSERT_TRUE(store_->CreateDatabase("db01", false).ok());
    ASSERT_TRUE(store_->CreateMailbox("alice@example.test", "db01").ok());
    ASSERT_TRUE(store_->CreateMailbox("Bob@Example.test", "db01").ok());
  }
  std::string RocksDir() { return dir_.path() + "/databases/db01/rocksdb"; }

  test::TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(StoreTest, DeliveredMessageReadsBackByteExactAndBodyIsStoredOnce) {
  std::string m = Message(1, 100000);  // above min_blob_size: a blob file
  auto r = store_->Deliver({"alice@example.test", "BOB@example.test", "nobody@example.test"}, m, 1700000000, 60);
  ASSERT_EQ(r.size(), 3u);
  ASSERT_TRUE(r[0].uid.ok());
  ASSERT_TRUE(r[1].uid.ok());
  EXPECT_EQ(*r[0].uid, 1u);
  EXPECT_EQ(r[2].uid.error().code(), Code::kMailboxNotFound);
  auto db = store_->Get("db01");
  for (const char* mb : {"alice@example.test", "bob@example.test"}) {
    auto msgs = db->ListMessages(mb, "INBOX");
    ASSERT_TRUE(msgs.ok());
    ASSERT_EQ(msgs->size(), 1u);
    EXPECT_EQ((*msgs)[0].internal_date, 1700000000);
    EXPECT_EQ((*msgs)[0].internal_zone, 60);
    auto body = db->ReadBody((*msgs)[0].body);
    ASSERT_TRUE(body.ok());
    EXPECT_EQ(*body, m);
  }
  auto folders = db->ListFolders("alice@example.test");
  ASSERT_TRUE(folders.ok());
  std::set<std::string> names;
  for (const auto& f : *folders) names.insert(f.name + "|" + f.special_use);
  EXPECT_EQ(names, (std::set<std::string>{"INBOX|", "Drafts|\\Drafts", "Sent|\\Sent", "Trash|\\Trash",
                                          "Junk|\\Junk", "Archive|\\Archive"}));
  for (const auto& f : *folders)
    if (f.name == "INBOX") {
      EXPECT_EQ(f.uidnext, 2u);
      EXPECT_EQ(f.highestmodseq, 2u);  // 1 for the empty folder, then the delivery
      EXPECT_EQ(f.messages, 1u);
    }
}

TEST_F(StoreTest, UidsAndModseqsSurviveRemount) {
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(store_->Deliver({"alice@example.test"}, Message(i), 1, 0)[0].uid.ok());
  ASSERT_TRUE(store_->Dismount("db01").ok());
  auto dismounted = store_->Deliver({"alice@example.test"}, Message(9), 1, 0);
  EXPECT_EQ(dismounted[0].uid.error().code(), Code::kDatabaseNotMounted);
  ASSERT_TRUE(store_->Mount("db01").ok());
  auto r = store_->Deliver({"alice@example.test"}, Message(10), 1, 0);
  ASSERT_TRUE(r[0].uid.ok());
  EXPECT_EQ(*r[0].uid, 6u);
  auto h = store_->Header("db01");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->state, "mounted");
  EXPECT_FALSE(h->last_mount_recovered);
}

TEST_F(StoreTest, DismountUnderLoadIsBoundedAndLosesNothingAcknowledged) {
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, refused{0}, other{0};
  std::vector<std::thread> writers;
  for (int t = 0; t < 6; ++t)
    writers.emplace_back([&, t] {
      for (int i = 0; i < 2000 && !stop; ++i) {
        auto r = store_->Deliver({"alice@example.test"}, Message(t * 10000 + i), 1, 0);
        if (r[0].uid.ok()) ++ok;
        else if (r[0].uid.error().code() == Code::kDatabaseNotMounted) ++refused;
        else ++other;
      }
    });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto start = std::chrono::steady_clock::now();
  Status s = store_->Dismount("db01");
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(s.ok()) << s.error().Full();
  EXPECT_LT(took, std::chrono::milliseconds(5000));  // the configured bound
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  stop = true;
  for (auto& w : writers) w.join();  // no writer is left waiting
  EXPECT_GT(ok.load(), 0);
  EXPECT_GT(refused.load(), 0);
  EXPECT_EQ(other.load(), 0);
  auto h = DatabaseHeader::Load(dir_.path() + "/databases/db01");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->state, "dismounted");
  EXPECT_TRUE(h->clean_shutdown);
  ASSERT_TRUE(store_->Mount("db01").ok());
  auto msgs = store_->Get("db01")->ListMessages("alice@example.test", "INBOX");
  ASSERT_TRUE(msgs.ok());
  EXPECT_EQ(msgs->size(), static_cast<size_t>(ok.load()));
}

TEST_F(StoreTest, ArchivedLogsFormAContiguousChainUntilTruncated) {
  for (int i = 0; i < 300; ++i) ASSERT_TRUE(store_->Deliver({"alice@example.test"}, Message(i, 3000), 1, 0)[0].uid.ok());
  ASSERT_TRUE(store_->Get("db01")->Flush().ok());
  auto logs = ListWalFiles(RocksDir());
  ASSERT_TRUE(logs.ok());
  size_t archived = 0;
  for (const auto& l : *logs) {
    archived += l.archived;
    EXPECT_TRUE(l.damage.empty()) << l.path << ": " << l.damage;
  }
  EXPECT_GE(archived, 3u);  // every obsolete log is kept
  EXPECT_EQ(FindChainGap(*logs), "");
  // From the first archived log's first batch to the live log: sequence 1..latest.
  uint64_t first = 0, last = 0;
  for (const auto& l : *logs)
    if (l.batches > 0) {
      if (first == 0) first = l.first_seq;
      last = std::max(last, l.last_seq);
    }
  EXPECT_EQ(first, 1u);
  auto h = store_->Header("db01");
  EXPECT_EQ(last, h->newest_seq);

  // Removing a log in the middle is found by the chain check.
  std::vector<const WalFileInfo*> nonempty;
  for (const auto& l : *logs)
    if (l.archived && l.batches > 0) nonempty.push_back(&l);
  ASSERT_GE(nonempty.size(), 3u);
  ASSERT_EQ(unlink(nonempty[1]->path.c_str()), 0);
  auto after = ListWalFiles(RocksDir());
  ASSERT_TRUE(after.ok());
  EXPECT_NE(FindChainGap(*after).find("are missing between log"), std::string::npos);
}

TEST_F(StoreTest, CircularLoggingDeletesObsoleteLogsAndStartsANewChain) {
  auto before = store_->Header("db01");
  ASSERT_TRUE(store_->SetCircularLogging("db01", true).ok());
  auto h = store_->Header("db01");
  ASSERT_TRUE(h.ok());
  EXPECT_TRUE(h->circular_logging);
  EXPECT_NE(h->log_chain, before->log_chain);
  EXPECT_GT(h->chain_first_log, before->chain_first_log);  // the log the remount opened
  EXPECT_EQ(h->chain_first_log, h->newest_log);
  EXPECT_EQ(h->state, "mounted");
  for (int i = 0; i < 300; ++i) ASSERT_TRUE(store_->Deliver({"alice@example.test"}, Message(i, 3000), 1, 0)[0].uid.ok());
  ASSERT_TRUE(store_->Get("db01")->Flush().ok());
  EXPECT_TRUE(Files(RocksDir() + "/archive", ".log").empty());
  EXPECT_LE(Files(RocksDir(), ".log").size(), 2u);  // only the live log (and one being retired)
  // Off again: a new chain, and obsolete logs are archived once more.
  ASSERT_TRUE(store_->SetCircularLogging("db01", false).ok());
  for (int i = 0; i < 300; ++i) ASSERT_TRUE(store_->Deliver({"alice@example.test"}, Message(i + 1000, 3000), 1, 0)[0].uid.ok());
  ASSERT_TRUE(store_->Get("db01")->Flush().ok());
  EXPECT_GE(Files(RocksDir() + "/archive", ".log").size(), 2u);
  auto msgs = store_->Get("db01")->ListMessages("alice@example.test", "INBOX");
  EXPECT_EQ(msgs->size(), 600u);
}

TEST_F(StoreTest, CheckNamesAFlippedTableFileAndAFlippedLogFile) {
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(store_->Deliver({"alice@example.test"}, Message(i, 3000), 1, 0)[0].uid.ok());
  ASSERT_TRUE(store_->Get("db01")->Flush().ok());
  for (int i = 200; i < 220; ++i) ASSERT_TRUE(store_->Deliver({"alice@example.test"}, Message(i, 3000), 1, 0)[0].uid.ok());
  auto clean = store_->Check("db01");
  ASSERT_TRUE(clean.ok());
  EXPECT_TRUE(clean->empty()) << (*clean)[0];
  ASSERT_TRUE(store_->Dismount("db01").ok());

  auto ssts = Files(RocksDir(), ".sst");
  ASSERT_FALSE(ssts.empty());
  std::string sst = ssts.back();
  FlipByte(sst, fs::file_size(sst) / 3);  // inside a data block
  auto archived = Files(RocksDir() + "/archive", ".log");
  ASSERT_FALSE(archived.empty());
  std::string log = archived.back();
  FlipByte(log, fs::file_size(log) / 2);
  // And the live log, which the read-only open replays.
  std::string live;
  for (const auto& l : Files(RocksDir(), ".log"))
    if (fs::file_size(l) > 100) live = l;
  ASSERT_FALSE(live.empty());
  FlipByte(live, fs::file_size(live) / 2);

  auto damage = store_->Check("db01");  // offline
  ASSERT_TRUE(damage.ok()) << damage.error().Full();
  std::string all;
  for (const auto& d : *damage) all += d + "\n";
  EXPECT_NE(all.find(sst), std::string::npos) << all;
  EXPECT_NE(all.find(log), std::string::npos) << all;
  EXPECT_NE(all.find(live), std::string::npos) << all;
  // A damaged database does not mount: RocksDB refuses the damaged live log.
  Status mount = store_->Mount("db01");
  ASSERT_FALSE(mount.ok());
  EXPECT_EQ(mount.error().code(), Code::kStoreCorrupt) << mount.error().Full();
}

TEST_F(StoreTest, CrashedDatabaseRecoversAndSaysSo) {
  ASSERT_TRUE(store_->Deliver({"alice@example.test"}, Message(1), 1, 0)[0].uid.ok());
  // Simulate a crash: the header still says mounted when the next Open runs.
  std::string dir = dir_.path() + "/databases/db01";
  auto h = DatabaseHeader::Load(dir);
  ASSERT_TRUE(h.ok());
  ASSERT_EQ(h->state, "mounted");
  fs::copy(dir, dir_.path() + "/crash-image", fs::copy_options::recursive);
  store_.reset();
  fs::remove_all(dir);
  fs::rename(dir_.path() + "/crash-image", dir);
  auto s = Store::Open(SmallOptions(dir_.path()));
  ASSERT_TRUE(s.ok());
  auto h2 = (*s)->Header("db01");
  ASSERT_TRUE(h2.ok());
  EXPECT_TRUE(h2->last_mount_recovered);
  auto msgs = (*s)->Get("db01")->ListMessages("alice@example.test", "INBOX");
  ASSERT_TRUE(msgs.ok());
  EXPECT_EQ(msgs->size(), 1u);
}

TEST_F(StoreTest, ExportWritesAMaildir) {
  std::string m = Message(7);
  ASSERT_TRUE(store_->Deliver({"alice@example.test"}, m, 1600000000, 0)[0].uid.ok());
  std::string target = dir_.path() + "/export";
  auto n = store_->ExportMailbox("alice@example.test", target);
  ASSERT_TRUE(n.ok()) << n.error().Full();
  EXPECT_EQ(*n, 1u);
  auto files = Files(target + "/INBOX/cur", "");
  std::vector<std::string> all;
  for (auto& e : fs::directory_iterator(target + "/INBOX/cur")) all.push_back(e.path().string());
  ASSERT_EQ(all.size(), 1u);
  auto data = ReadFile(all[0]);
  EXPECT_EQ(std::string(data->begin(), data->end()), m);
  struct stat st;
  ASSERT_EQ(stat(all[0].c_str(), &st), 0);
  EXPECT_EQ(st.st_mtime, 1600000000);
  EXPECT_TRUE(fs::is_directory(target + "/Sent/cur"));
  EXPECT_FALSE(store_->ExportMailbox("alice@example.test", target).ok());  // not empty
}

TEST_F(StoreTest, MoveMailboxToAnotherDatabase) {
  ASSERT_TRUE(store_->CreateDatabase("db02", false).ok());
  std::string m = Message(3);
  ASSERT_TRUE(store_->Deliver({"alice@example.test"}, m, 5, 0)[0].uid.ok());
  ASSERT_TRUE(store_->Get("db01")->SetFlags("alice@example.test", "INBOX", 1, kSeen, {"work"}).ok());
  ASSERT_TRUE(store_->MoveMailbox("alice@example.test", "db02").ok());
  auto where = store_->Locate("alice@example.test");
  ASSERT_TRUE(where.ok());
  EXPECT_EQ(*where, "db02");
  auto msgs = store_->Get("db02")->ListMessages("alice@example.test", "INBOX");
  ASSERT_EQ(msgs->size(), 1u);
  EXPECT_EQ(*store_->Get("db02")->ReadBody((*msgs)[0].body), m);
  EXPECT_EQ((*msgs)[0].flags, kSeen);
  EXPECT_EQ((*msgs)[0].keywords, std::vector<std::string>{"work"});
  EXPECT_EQ((*msgs)[0].internal_date, 5);
  EXPECT_FALSE(store_->Get("db01")->ListMessages("alice@example.test", "INBOX").ok());
}

TEST_F(StoreTest, FlagsAndExpungeAdvanceModseqAndRecordVanishedUids) {
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(store_->Deliver({"alice@example.test"}, Message(i), 1, 0)[0].uid.ok());
  auto db = store_->Get("db01");
  auto m1 = db->SetFlags("alice@example.test", "INBOX", 2, kSeen | kFlagged, {"$Important"});
  ASSERT_TRUE(m1.ok()) << m1.error().Full();
  EXPECT_EQ(*m1, 5u);  // 1 when empty, three deliveries, then this change
  auto before_expunge = *m1;
  auto m2 = db->Expunge("alice@example.test", "INBOX", {1, 3, 99});
  ASSERT_TRUE(m2.ok());
  EXPECT_GT(*m2, before_expunge);
  EXPECT_FALSE(db->SetFlags("alice@example.test", "INBOX", 1, kSeen, {}).ok());  // expunged
  ASSERT_TRUE(store_->Dismount("db01").ok());
  ASSERT_TRUE(store_->Mount("db01").ok());
  db = store_->Get("db01");
  auto msgs = db->ListMessages("alice@example.test", "INBOX");
  ASSERT_EQ(msgs->size(), 1u);
  EXPECT_EQ((*msgs)[0].uid, 2u);
  EXPECT_EQ((*msgs)[0].flags, kSeen | kFlagged);
  EXPECT_EQ((*msgs)[0].keywords, std::vector<std::string>{"$Important"});
  EXPECT_EQ((*msgs)[0].modseq, 5u);
  EXPECT_EQ(*db->ExpungedSince("alice@example.test", "INBOX", 0), (std::vector<uint32_t>{1, 3}));
  EXPECT_TRUE(db->ExpungedSince("alice@example.test", "INBOX", *m2)->empty());
  auto folders = db->ListFolders("alice@example.test");
  ASSERT_TRUE(folders.ok());
  for (const auto& f : *folders)
    if (f.name == "INBOX") {
      EXPECT_EQ(f.highestmodseq, *m2);
      EXPECT_EQ(f.uidnext, 4u);  // expunged UIDs are never reused
    }
  auto next = store_->Deliver({"alice@example.test"}, Message(50), 1, 0);
  EXPECT_EQ(*next[0].uid, 4u);
}

TEST_F(StoreTest, UsersAuthenticateWithScryptHashes) {
  ASSERT_TRUE(store_->AddUser("alice@example.test", "s3cret").ok());
  EXPECT_TRUE(store_->Authenticate("Alice@example.test", "s3cret"));
  EXPECT_FALSE(store_->Authenticate("alice@example.test", "wrong"));
  EXPECT_FALSE(store_->Authenticate("nobody@example.test", "s3cret"));
}

}  // namespace
}  // namespace mx::store
