#include "repo/chunker.h"

#include <gtest/gtest.h>

#include <vector>

#include "repo/crypto.h"

namespace mx::repo {
namespace {

constexpr Pol kResticTestPol = 0x3DA3358B4DC173ull;  // restic's chunker tests use it

std::vector<size_t> Cuts(const Bytes& data, size_t block) {
  Chunker c(kResticTestPol);
  std::vector<size_t> cuts;
  size_t start = 0, pos = 0;
  while (pos < data.size()) {
    size_t n = std::min(block, data.size() - pos);
    size_t done = 0;
    while (done < n) {
      size_t split = c.Next(data.data() + pos + done, n - done);
      if (!split) break;
      done += split;
      cuts.push_back(pos + done - start);
      start = pos + done;
    }
    pos += n;
  }
  if (start < data.size()) cuts.push_back(data.size() - start);
  return cuts;
}

TEST(Chunker, PolynomialIrreducibility) {
  EXPECT_TRUE(PolIrreducible(kResticTestPol));
  EXPECT_EQ(PolDeg(kResticTestPol), 53);
  EXPECT_FALSE(PolIrreducible((1ull << 53) | 1));  // x^53 + 1 has the root 1
  Pol p = RandomPolynomial();
  EXPECT_EQ(PolDeg(p), 53);
  EXPECT_TRUE(PolIrreducible(p));
}

TEST(Chunker, ChunksRespectMinAndMaxSize) {
  Bytes data = RandomBytes(24 << 20);
  auto cuts = Cuts(data, 1 << 20);
  ASSERT_GT(cuts.size(), 3u);
  size_t total = 0;
  for (size_t i = 0; i < cuts.size(); ++i) {
    if (i + 1 < cuts.size()) {
      EXPECT_GE(cuts[i], kChunkMinSize);
      EXPECT_LE(cuts[i], kChunkMaxSize);
    }
    total += cuts[i];
  }
  EXPECT_EQ(total, data.size());
}

TEST(Chunker, CutsDoNotDependOnReadBlockSize) {
  Bytes data = RandomBytes(12 << 20);
  auto a = Cuts(data, 1 << 20);
  EXPECT_EQ(a, Cuts(data, 4096));
  EXPECT_EQ(a, Cuts(data, 777777));
  EXPECT_EQ(a, Cuts(data, data.size()));
}

TEST(Chunker, ZerosAreCutAtTheMinimum) {
  // An all-zero window fingerprints to 0, which always matches the split mask.
  Bytes zeros(4 << 20, 0);
  auto cuts = Cuts(zeros, 1 << 20);
  ASSERT_EQ(cuts.size(), 8u);
  for (size_t c : cuts) EXPECT_EQ(c, kChunkMinSize);
}

TEST(Chunker, InsertionOnlyChangesNearbyChunks) {
  Bytes data = RandomBytes(16 << 20);
  auto before = Cuts(data, 1 << 20);
  data.insert(data.begin() + 100, 7, 'x');
  auto after = Cuts(data, 1 << 20);
  // Content-defined: all but the first chunk boundary realign.
  ASSERT_EQ(before.size(), after.size());
  for (size_t i = 1; i < before.size(); ++i) EXPECT_EQ(before[i], after[i]);
  EXPECT_EQ(after[0], before[0] + 7);
}

}  // namespace
}  // namespace mx::repo
