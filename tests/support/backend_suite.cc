// The cases of the backend conformance suite (backend_suite.h); instantiated
// by each backend's test (local_backend_test.cc, s3_backend_test.cc).
#include "tests/support/backend_suite.h"

namespace mx::test {

using repo::FileType;
using repo::Handle;

TEST_P(BackendSuite, SaveLoadStatRemove) {
  Bytes data = repo::RandomBytes(100000);
  Handle h{FileType::kPack, Name(data)};
  ASSERT_TRUE(be_->Save(h, data.data(), data.size()).ok());
  auto all = be_->Load(h, 0, 0);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(*all, data);
  auto st = be_->Stat(h);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->size, data.size());
  ASSERT_TRUE(be_->Remove(h).ok());
  EXPECT_EQ(be_->Load(h, 0, 0).error().code(), Code::kNotFound);
  EXPECT_EQ(be_->Stat(h).error().code(), Code::kNotFound);
  EXPECT_EQ(be_->Remove(h).error().code(), Code::kNotFound);
}

TEST_P(BackendSuite, LoadsRanges) {
  Bytes data = repo::RandomBytes(5000);
  Handle h{FileType::kIndex, Name(data)};
  ASSERT_TRUE(be_->Save(h, data.data(), data.size()).ok());
  for (auto [off, len] : std::vector<std::pair<uint64_t, uint64_t>>{{0, 1}, {10, 100}, {4999, 1}, {1000, 0}}) {
    auto r = be_->Load(h, off, len);
    ASSERT_TRUE(r.ok());
    uint64_t n = len ? len : data.size() - off;
    EXPECT_EQ(*r, Bytes(data.begin() + long(off), data.begin() + long(off + n)));
  }
  EXPECT_FALSE(be_->Load(h, 4990, 100).ok());  // past the end
}

TEST_P(BackendSuite, ListsEachTypeSeparately) {
  std::set<std::string> packs, snaps;
  for (int i = 0; i < 20; ++i) {
    Bytes d = repo::RandomBytes(10 + i);
    Handle h{i % 2 ? FileType::kPack : FileType::kSnapshot, Name(d)};
    ASSERT_TRUE(be_->Save(h, d.data(), d.size()).ok());
    (i % 2 ? packs : snaps).insert(h.name);
  }
  std::set<std::string> got;
  ASSERT_TRUE(be_->List(FileType::kPack, [&](const repo::FileInfo& fi) {
    got.insert(fi.name);
    return Ok();
  }).ok());
  EXPECT_EQ(got, packs);
  got.clear();
  ASSERT_TRUE(be_->List(FileType::kSnapshot, [&](const repo::FileInfo& fi) {
    got.insert(fi.name);
    return Ok();
  }).ok());
  EXPECT_EQ(got, snaps);
  // List stops at the callback's first error and returns it.
  int calls = 0;
  Status s = be_->List(FileType::kPack, [&](const repo::FileInfo&) -> Status {
    ++calls;
    return Error(Code::kInterrupted, "stop", "", "");
  });
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(s.error().code(), Code::kInterrupted);
}

TEST_P(BackendSuite, ConfigHasNoName) {
  Bytes d = repo::RandomBytes(50);
  ASSERT_TRUE(be_->Save(Handle{FileType::kConfig, ""}, d.data(), d.size()).ok());
  EXPECT_EQ(*be_->Load(Handle{FileType::kConfig, ""}, 0, 0), d);
}

TEST_P(BackendSuite, ConcurrentSavesAllLand) {
  std::vector<std::thread> ts;
  std::vector<std::string> names(32);
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&, t] {
      for (int i = t; i < 32; i += 4) {
        Bytes d = repo::RandomBytes(1000 + i);
        names[i] = Name(d);
        ASSERT_TRUE(be_->Save(Handle{FileType::kPack, names[i]}, d.data(), d.size()).ok());
      }
    });
  for (auto& t : ts) t.join();
  for (auto& n : names) EXPECT_TRUE(be_->Stat(Handle{FileType::kPack, n}).ok());
}

}  // namespace mx::test
