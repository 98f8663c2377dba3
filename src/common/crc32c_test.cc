#include "common/crc32c.h"

#include <gtest/gtest.h>

#include <string>

namespace mx {
namespace {

TEST(Crc32c, MatchesKnownVectors) {
  // RFC 3720 B.4 test vectors.
  std::string zeros(32, '\0');
  EXPECT_EQ(Crc32c(zeros.data(), zeros.size()), 0x8a9136aau);
  std::string ones(32, '\xff');
  EXPECT_EQ(Crc32c(ones.data(), ones.size()), 0x62a8ab43u);
  EXPECT_EQ(Crc32c("123456789", 9), 0xe3069283u);
}

TEST(Crc32c, ExtendEqualsWhole) {
  std::string s = "hello, transaction log record with some length to it";
  uint32_t whole = Crc32c(s.data(), s.size());
  uint32_t part = Crc32cExtend(Crc32c(s.data(), 7), s.data() + 7, s.size() - 7);
  EXPECT_EQ(whole, part);
}

}  // namespace
}  // namespace mx
