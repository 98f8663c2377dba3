#include "store/writer/writer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <thread>

#include "store/log/wal.h"
#include "tests/support/store_fixture.h"

namespace mx::store {
namespace {

using std::chrono::milliseconds;

class WriterTest : public test::StoreFixture {
 protected:
  SessionHolder Who(const std::string& id) { return {id, "test", "now"}; }
};

// The field's deadlock, repeated: a commit arrives during the freeze, the
// thaw comes, a dismount follows at once. Every wait is bounded.
TEST_F(WriterTest, FreezeCommitThawDismountHundredTimesNeverHangs) {
  WriterRegistry reg(store_.get());
  for (int i = 0; i < 100; ++i) {
    Writer& w = reg.Get("db01");
    std::string id = "s" + std::to_string(i);
    ASSERT_TRUE(w.Begin(Who(id), BackupType::kFull, BackupMethod::kSnapshot, milliseconds(2000), true).ok()) << i;
    ASSERT_TRUE(w.Freeze(id, milliseconds(2000)).ok()) << i;
    auto commit = std::async(std::launch::async, [&, i] { return Deliver(1000 + i); });
    EXPECT_EQ(commit.wait_for(milliseconds(5)), std::future_status::timeout) << "a commit passed a closed gate, round " << i;
    ASSERT_TRUE(w.Thaw(id).ok()) << i;
    auto dismount = std::async(std::launch::async, [&] { return store_->Dismount("db01"); });
    ASSERT_EQ(commit.wait_for(milliseconds(3000)), std::future_status::ready) << "commit hung, round " << i;
    ASSERT_EQ(dismount.wait_for(milliseconds(6000)), std::future_status::ready) << "dismount hung, round " << i;
    EXPECT_TRUE(dismount.get().ok()) << i;
    (void)commit.get();  // committed before the dismount, or refused by it; never stuck
    w.Abort(id);
    ASSERT_TRUE(store_->Mount("db01").ok()) << i;
  }
}

TEST_F(WriterTest, SecondBeginIsRefusedNamingTheHolder) {
  WriterRegistry reg(store_.get());
  auto a = reg.Get("db01").Begin(Who("first"), BackupType::kFull, BackupMethod::kStreaming, milliseconds(1000), false);
  ASSERT_TRUE(a.ok());
  auto b = reg.Get("db01").Begin(Who("second"), BackupType::kFull, BackupMethod::kSnapshot, milliseconds(1000), false);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().code(), Code::kBackupInProgress);
  EXPECT_NE(b.error().cause().find("first"), std::string::npos) << b.error().cause();
  reg.Get("db01").Abort("first");
  EXPECT_TRUE(reg.Get("db01").Begin(Who("third"), BackupType::kFull, BackupMethod::kSnapshot, milliseconds(1000), false).ok());
}

TEST_F(WriterTest, IncrementalNeedsAFullAndCompleteTruncatesCoveredLogs) {
  WriterRegistry reg(store_.get());
  Writer& w = reg.Get("db01");
  auto inc = w.Begin(Who("i0"), BackupType::kIncremental, BackupMethod::kSnapshot, milliseconds(1000), false);
  ASSERT_FALSE(inc.ok());
  EXPECT_EQ(inc.error().code(), Code::kNoBaseBackup);
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(Deliver(i));  // several logs archived (64 KiB memtables)
  auto full = w.Begin(Who("f"), BackupType::kFull, BackupMethod::kSnapshot, milliseconds(1000), false);
  ASSERT_TRUE(full.ok()) << full.error().Full();
  auto done = w.Complete("f");
  ASSERT_TRUE(done.ok()) << done.error().Full();
  auto logs = ListWalPaths(store_->DatabaseDir("db01").value() + "/rocksdb");
  ASSERT_TRUE(logs.ok());
  for (const auto& l : *logs) {
    if (l.archived) {
      EXPECT_GE(l.number, full->newest_log) << "archived log " << l.number << " survived the full";
    }
  }
  for (int i = 200; i < 400; ++i) ASSERT_TRUE(Deliver(i));
  auto i1 = w.Begin(Who("i1"), BackupType::kIncremental, BackupMethod::kStreaming, milliseconds(1000), false);
  ASSERT_TRUE(i1.ok()) << i1.error().Full();
  ASSERT_TRUE(i1->base.has_value());
  EXPECT_EQ(i1->base->session, "f");
  EXPECT_LE(i1->first_seq, full->sequence + 1);  // starts where the full ended
  for (const auto& f : i1->files) EXPECT_EQ(f.kind, "log");
  w.Abort("i1");  // aborted: nothing truncated
  auto after = ListWalPaths(store_->DatabaseDir("db01").value() + "/rocksdb");
  ASSERT_TRUE(after.ok());
  size_t archived = 0;
  for (const auto& l : *after) archived += l.archived;
  EXPECT_GT(archived, 0u);
}

}  // namespace
}  // namespace mx::store
