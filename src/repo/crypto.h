// The repository's authenticated encryption (restic format):
//   ciphertext = IV (16) || AES-256-CTR(plaintext) || Poly1305-AES MAC (16)
// where the MAC is Poly1305 over the encrypted bytes with the key r || AES_k(IV).
// Keys are derived from passwords with scrypt. All functions are thread-safe
// (OpenSSL contexts are per thread).
#pragma once

#include <cstdint>
#include <string>

#include "common/bytes.h"
#include "common/error.h"
#include "common/secure.h"

namespace mx::repo {

constexpr size_t kIvSize = 16;
constexpr size_t kMacSize = 16;
constexpr size_t kCryptoOverhead = kIvSize + kMacSize;

struct Key {
  uint8_t encrypt[32] = {};
  uint8_t mac_k[16] = {};  // AES key for the Poly1305 nonce encryption
  uint8_t mac_r[16] = {};  // Poly1305 r (clamped by the MAC)

  static Key Random();
  bool Valid() const;
};

/// Appends IV || ciphertext || MAC of `plaintext` to `out`.
void Seal(const Key& key, const uint8_t* plaintext, size_t n, Bytes* out);
inline Bytes Seal(const Key& key, const Bytes& plaintext) {
  Bytes out;
  Seal(key, plaintext.data(), plaintext.size(), &out);
  return out;
}
/// Verifies the MAC and decrypts. Errors: CORRUPT_DATA (MAC mismatch or too
/// short); `object` names the file for the message.
Result<Bytes> Unseal(const Key& key, const uint8_t* data, size_t n, const std::string& object);
/// Unseal into `out` (resized; capacity reused).
Status UnsealInto(const Key& key, const uint8_t* data, size_t n, const std::string& object, Bytes* out);
/// True when the MAC of `data` verifies under `key` (no decryption).
bool Verify(const Key& key, const uint8_t* data, size_t n);

/// scrypt(password, salt, N, r, p) → 64 bytes split into encrypt || mac_k || mac_r.
Result<Key> DeriveKey(const std::string& password, const Bytes& salt, uint64_t n,
                      uint32_t r, uint32_t p);

using mx::RandomBytes;  // common/secure.h

}  // namespace mx::repo
