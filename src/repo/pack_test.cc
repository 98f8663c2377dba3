#include "repo/pack.h"

#include <gtest/gtest.h>

namespace mx::repo {
namespace {

Bytes MakePack(const Key& k, std::vector<IndexBlob>* blobs, int count = 5) {
  PackWriter w;
  for (int i = 0; i < count; ++i) {
    Bytes plain = RandomBytes(100 + i * 37);
    Id id = Id::Hash(plain.data(), plain.size());
    w.AddSealing(k, i % 2 ? BlobType::kTree : BlobType::kData, id, plain.data(), plain.size(),
                 i == 3 ? 999 : 0);
  }
  Bytes pack;
  w.Finish(k, &pack, blobs);
  return pack;
}

TEST(Pack, HeaderRoundTrips) {
  Key k = Key::Random();
  std::vector<IndexBlob> written;
  Bytes pack = MakePack(k, &written);
  size_t need = 0;
  auto parsed = ParsePackHeader(k, pack.data(), pack.size(), pack.size(), "p", &need);
  ASSERT_TRUE(parsed.ok()) << parsed.error().Message();
  ASSERT_EQ(parsed->size(), written.size());
  for (size_t i = 0; i < written.size(); ++i) {
    EXPECT_EQ((*parsed)[i].id, written[i].id);
    EXPECT_EQ((*parsed)[i].type, written[i].type);
    EXPECT_EQ((*parsed)[i].offset, written[i].offset);
    EXPECT_EQ((*parsed)[i].length, written[i].length);
    EXPECT_EQ((*parsed)[i].uncompressed_length, written[i].uncompressed_length);
  }
}

TEST(Pack, ShortTailAsksForMore) {
  Key k = Key::Random();
  std::vector<IndexBlob> written;
  Bytes pack = MakePack(k, &written, 200);
  size_t tail = 64, need = 0;
  auto r = ParsePackHeader(k, pack.data() + pack.size() - tail, tail, pack.size(), "p", &need);
  ASSERT_TRUE(r.ok());
  EXPECT_GT(need, tail);
  r = ParsePackHeader(k, pack.data() + pack.size() - need, need, pack.size(), "p", &need);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->size(), 200u);
}

TEST(Pack, RejectsTruncatedAndFlippedPacks) {
  Key k = Key::Random();
  std::vector<IndexBlob> written;
  Bytes pack = MakePack(k, &written);
  size_t need = 0;
  Bytes half(pack.begin(), pack.begin() + long(pack.size() / 2));
  EXPECT_FALSE(ParsePackHeader(k, half.data(), half.size(), half.size(), "p", &need).ok() && need == 0);
  for (size_t pos : {pack.size() - 1, pack.size() - 5, pack.size() - 40}) {
    Bytes bad = pack;
    bad[pos] ^= 0x40;
    auto r = ParsePackHeader(k, bad.data(), bad.size(), bad.size(), "p", &need);
    EXPECT_TRUE(!r.ok() || need != 0) << "flip at " << pos;
  }
  EXPECT_FALSE(ParsePackHeader(k, pack.data(), 10, 10, "p", &need).ok());
}

}  // namespace
}  // namespace mx::repo
