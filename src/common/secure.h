// Key derivation and randomness from OpenSSL, shared by the repository (key
// files) and the store (password hashes, identities, tokens). Stateless,
// thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/bytes.h"
#include "common/error.h"

namespace mx {

/// scrypt(password, salt, N, r, p) → `out_len` bytes. BAD_FORMAT for
/// parameters outside N = 2^1..2^24 (a power of two), r and p 1..64;
/// INTERNAL when OpenSSL's KDF fails.
Result<Bytes> Scrypt(const std::string& password, const Bytes& salt, uint64_t n, uint32_t r,
                     uint32_t p, size_t out_len);

/// Cryptographically random bytes; aborts when the system has no entropy
/// (nothing would be safe).
void RandomBytes(uint8_t* out, size_t n);
inline Bytes RandomBytes(size_t n) {
  Bytes b(n);
  RandomBytes(b.data(), n);
  return b;
}
/// `n` random bytes as hex.
inline std::string RandomHex(size_t n) { return ToHex(RandomBytes(n)); }

}  // namespace mx
