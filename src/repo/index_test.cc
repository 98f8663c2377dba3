#include "repo/index.h"

#include <gtest/gtest.h>

#include <thread>

#include "repo/crypto.h"

namespace mx::repo {
namespace {

Id RandomId() {
  Id id;
  RandomBytes(id.bytes.data(), 32);
  return id;
}

TEST(MasterIndex, FindsEveryBlobAfterGrowing) {
  MasterIndex idx;
  std::vector<Id> ids;
  for (int p = 0; p < 50; ++p) {
    Id pack = RandomId();
    std::vector<IndexBlob> blobs;
    for (int b = 0; b < 1000; ++b) {
      ids.push_back(RandomId());
      blobs.push_back(IndexBlob{ids.back(), BlobType::kData, uint32_t(b * 100), 100, 0});
    }
    idx.AddPack(pack, blobs);
  }
  EXPECT_EQ(idx.BlobCount(), 50000u);
  for (const Id& id : ids) ASSERT_TRUE(idx.Has(BlobType::kData, id));
  EXPECT_FALSE(idx.Has(BlobType::kTree, ids[0]));  // type is part of the key
  EXPECT_FALSE(idx.Has(BlobType::kData, RandomId()));
}

TEST(MasterIndex, ReservationIsExclusiveAcrossThreads) {
  MasterIndex idx;
  std::vector<Id> ids(2000);
  for (auto& id : ids) id = RandomId();
  std::atomic<int> won{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&] {
      for (const Id& id : ids) won += idx.TryReserve(BlobType::kData, id);
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(won, 2000);
  EXPECT_FALSE(idx.Has(BlobType::kData, ids[0]));  // reserved is not stored
  idx.AddPack(RandomId(), {IndexBlob{ids[0], BlobType::kData, 0, 40, 0}});
  EXPECT_TRUE(idx.Has(BlobType::kData, ids[0]));
  for (size_t i = 1; i < ids.size(); ++i) idx.Unreserve(BlobType::kData, ids[i]);
  EXPECT_EQ(idx.BlobCount(), 1u);
  EXPECT_TRUE(idx.Has(BlobType::kData, ids[0]));
  EXPECT_TRUE(idx.TryReserve(BlobType::kData, ids[5]));
}

}  // namespace
}  // namespace mx::repo
