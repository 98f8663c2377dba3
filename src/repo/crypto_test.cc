#include "repo/crypto.h"

#include <gtest/gtest.h>

namespace mx::repo {
namespace {

TEST(Crypto, SealThenUnsealRoundTrips) {
  Key k = Key::Random();
  for (size_t n : {0u, 1u, 15u, 16u, 17u, 1000u, 1u << 20}) {
    Bytes plain = RandomBytes(n);
    Bytes sealed = Seal(k, plain);
    ASSERT_EQ(sealed.size(), n + kCryptoOverhead);
    auto back = Unseal(k, sealed.data(), sealed.size(), "test");
    ASSERT_TRUE(back.ok()) << back.error().Message();
    EXPECT_EQ(*back, plain);
  }
}

TEST(Crypto, EveryFlippedByteIsDetected) {
  Key k = Key::Random();
  Bytes sealed = Seal(k, RandomBytes(64));
  for (size_t i = 0; i < sealed.size(); ++i) {
    Bytes bad = sealed;
    bad[i] ^= 0x01;
    auto r = Unseal(k, bad.data(), bad.size(), "obj");
    ASSERT_FALSE(r.ok()) << "flip at " << i << " undetected";
    EXPECT_EQ(r.error().code(), Code::kCorrupt);
    EXPECT_NE(r.error().Message().find("obj"), std::string::npos);
  }
}

TEST(Crypto, WrongKeyFailsAndTruncatedInputFails) {
  Bytes sealed = Seal(Key::Random(), RandomBytes(100));
  EXPECT_FALSE(Unseal(Key::Random(), sealed.data(), sealed.size(), "x").ok());
  EXPECT_FALSE(Unseal(Key::Random(), sealed.data(), 31, "x").ok());
}

// RFC 7914, section 12, second test vector.
TEST(Crypto, ScryptMatchesRfc7914) {
  std::string salt = "NaCl";
  auto k = DeriveKey("password", Bytes(salt.begin(), salt.end()), 1024, 8, 16);
  ASSERT_TRUE(k.ok());
  Bytes out(k->encrypt, k->encrypt + 32);
  out.insert(out.end(), k->mac_k, k->mac_k + 16);
  out.insert(out.end(), k->mac_r, k->mac_r + 16);
  EXPECT_EQ(ToHex(out),
            "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162"
            "2eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640");
}

TEST(Crypto, ScryptRejectsBadParameters) {
  Bytes salt(64, 1);
  EXPECT_FALSE(DeriveKey("pw", salt, 1000, 8, 1).ok());  // N not a power of two
  EXPECT_FALSE(DeriveKey("pw", salt, 1u << 30, 8, 1).ok());
}

}  // namespace
}  // namespace mx::repo
