#include "store/writer/freeze_provider.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <random>
#include <thread>

#include "store/db/store.h"
#include "tests/support/store_fixture.h"

namespace mx::store {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

using FreezeTest = test::StoreFixture;

TEST_F(FreezeTest, CommitDuringFreezeWaitsAndCompletesAfterThaw) {
  ASSERT_TRUE(db_->Freeze(milliseconds(5000)).ok());
  std::atomic<bool> done{false};
  std::thread t([&] { done = Deliver(1); });
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_FALSE(done.load());  // blocked by the freeze
  ASSERT_TRUE(db_->Thaw().ok());
  t.join();
  EXPECT_TRUE(done.load());
  EXPECT_EQ(db_->ListMessages("a@example.test", "INBOX")->size(), 1u);
}

TEST_F(FreezeTest, FreezePastItsDeadlineThawsByItselfAndReportsTimeout) {
  ASSERT_TRUE(db_->Freeze(milliseconds(200)).ok());
  auto start = std::chrono::steady_clock::now();
  std::atomic<bool> done{false};
  std::thread t([&] { done = Deliver(1); });
  t.join();  // completes without any thaw: the deadline opened the gate
  auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(done.load());
  EXPECT_GE(waited, milliseconds(150));
  EXPECT_LT(waited, milliseconds(3000));
  Status thaw = db_->Thaw();
  ASSERT_FALSE(thaw.ok());
  EXPECT_EQ(thaw.error().code(), Code::kFreezeTimeout);
  // The database goes on normally, and a new freeze works.
  EXPECT_TRUE(Deliver(2));
  ASSERT_TRUE(db_->Freeze(milliseconds(1000)).ok());
  EXPECT_TRUE(db_->Thaw().ok());
}

TEST_F(FreezeTest, DismountDuringAFreezeDoesNotHang) {
  ASSERT_TRUE(db_->Freeze(milliseconds(300)).ok());
  std::thread t([&] { Deliver(1); });
  std::this_thread::sleep_for(milliseconds(50));
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(store_->Dismount("db01").ok());  // the waiting commit finishes at the deadline
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(5000));
  t.join();
  (void)db_->Thaw();
}

TEST_F(FreezeTest, CheckpointIsAConsistentCutUnderLoad) {
  std::atomic<bool> stop{false};
  std::atomic<int> acked{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w)
    writers.emplace_back([&, w] {
      for (int i = 0; !stop && i < 100000; ++i)
        if (Deliver(w * 100000 + i)) ++acked;
    });
  std::this_thread::sleep_for(milliseconds(400));
  int before = acked.load();
  CheckpointFreezeProvider provider(dir_.path() + "/checkpoint");
  auto set = provider.Prepare(*db_, milliseconds(10000));
  int after = acked.load();
  std::this_thread::sleep_for(milliseconds(100));
  stop = true;
  for (auto& w : writers) w.join();
  ASSERT_TRUE(set.ok()) << set.error().Full();
  EXPECT_LT(set->commits_blocked, milliseconds(1000));
  bool have_table = false, have_manifest = false, have_log = false;
  for (const auto& f : set->files.files) {
    have_table |= f.kind == "table";
    have_manifest |= f.kind == "manifest";
    have_log |= f.kind == "log";
    EXPECT_TRUE(fs::exists(f.directory + "/" + f.name)) << f.name;
  }
  EXPECT_TRUE(have_table && have_manifest && have_log);

  // The checkpoint opens as a database holding a cut between the two counts.
  std::string restored = dir_.path() + "/restored";
  fs::create_directories(restored);
  fs::copy(dir_.path() + "/checkpoint", restored + "/rocksdb", fs::copy_options::recursive);
  auto header = DatabaseHeader::Load(db_->dir());
  ASSERT_TRUE(header.ok());
  header->state = "dismounted";
  header->clean_shutdown = true;
  ASSERT_TRUE(header->Save(restored).ok());
  ASSERT_TRUE(provider.Release(*db_).ok());
  EXPECT_FALSE(fs::exists(dir_.path() + "/checkpoint"));
  auto copy = Database::Mount(restored, DatabaseOptions{});
  ASSERT_TRUE(copy.ok()) << copy.error().Full();
  auto msgs = (*copy)->ListMessages("a@example.test", "INBOX");
  ASSERT_TRUE(msgs.ok());
  EXPECT_GE(static_cast<int>(msgs->size()), before);
  EXPECT_LE(static_cast<int>(msgs->size()), after);
  auto damage = (*copy)->Check();
  ASSERT_TRUE(damage.ok());
  EXPECT_TRUE(damage->empty());
  std::printf("# checkpoint: %zu messages (acknowledged %d before, %d after), commits blocked %lld us\n",
              msgs->size(), before, after, static_cast<long long>(set->commits_blocked.count()));
}

TEST_F(FreezeTest, PinnedFilesSurviveFlushesUntilReleased) {
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(Deliver(i));
  PinnedFreezeProvider provider;
  auto set = provider.Prepare(*db_, milliseconds(1000));
  ASSERT_TRUE(set.ok());
  for (int i = 100; i < 400; ++i) ASSERT_TRUE(Deliver(i));
  ASSERT_TRUE(db_->Flush().ok());
  for (const auto& f : set->files.files) {
    if (!f.replacement_contents.empty()) continue;
    std::string path = f.directory + "/" + f.name;
    ASSERT_TRUE(fs::exists(path)) << path << " was deleted while pinned";
    EXPECT_GE(fs::file_size(path), f.size);
  }
  EXPECT_TRUE(provider.Release(*db_).ok());
}

}  // namespace
}  // namespace mx::store
