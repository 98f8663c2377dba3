#include "repo/crypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/sha.h>

#include <cstdlib>
#include <cstring>

#include "repo/id.h"

namespace mx::repo {
namespace {

// Per-thread OpenSSL contexts: creating them per call costs more than
// encrypting a small blob.
struct ThreadCtx {
  EVP_CIPHER_CTX* ctr = EVP_CIPHER_CTX_new();
  EVP_CIPHER_CTX* ecb = EVP_CIPHER_CTX_new();
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "POLY1305", nullptr);
  EVP_MAC_CTX* mac_ctx = mac ? EVP_MAC_CTX_new(mac) : nullptr;
  ~ThreadCtx() {
    EVP_CIPHER_CTX_free(ctr);
    EVP_CIPHER_CTX_free(ecb);
    EVP_MAC_CTX_free(mac_ctx);
    EVP_MAC_free(mac);
  }
};

ThreadCtx& Ctx() {
  thread_local ThreadCtx ctx;
  if (!ctx.ctr || !ctx.ecb || !ctx.mac_ctx) std::abort();  // OpenSSL unusable
  return ctx;
}

void Poly1305Aes(const Key& key, const uint8_t* iv, const uint8_t* msg, size_t n,
                 uint8_t out[16]) {
  ThreadCtx& c = Ctx();
  uint8_t mkey[32];
  std::memcpy(mkey, key.mac_r, 16);
  int len = 0;
  if (EVP_EncryptInit_ex(c.ecb, EVP_aes_128_ecb(), nullptr, key.mac_k, nullptr) != 1)
    std::abort();
  EVP_CIPHER_CTX_set_padding(c.ecb, 0);
  if (EVP_EncryptUpdate(c.ecb, mkey + 16, &len, iv, 16) != 1 || len != 16) std::abort();
  if (EVP_MAC_init(c.mac_ctx, mkey, sizeof(mkey), nullptr) != 1) std::abort();
  if (n && EVP_MAC_update(c.mac_ctx, msg, n) != 1) std::abort();
  size_t outl = 0;
  if (EVP_MAC_final(c.mac_ctx, out, &outl, 16) != 1 || outl != 16) std::abort();
  OPENSSL_cleanse(mkey, sizeof(mkey));
}

void Ctr(const Key& key, const uint8_t* iv, const uint8_t* in, size_t n, uint8_t* out) {
  ThreadCtx& c = Ctx();
  if (EVP_EncryptInit_ex(c.ctr, EVP_aes_256_ctr(), nullptr, key.encrypt, iv) != 1)
    std::abort();
  size_t done = 0;
  while (done < n) {
    int chunk = int(std::min<size_t>(n - done, 1 << 30));
    int len = 0;
    if (EVP_EncryptUpdate(c.ctr, out + done, &len, in + done, chunk) != 1) std::abort();
    done += size_t(len);
  }
}

}  // namespace

Key Key::Random() {
  Key k;
  RandomBytes(k.encrypt, 32);
  RandomBytes(k.mac_k, 16);
  RandomBytes(k.mac_r, 16);
  // Clamp r as Poly1305 requires (restic stores it clamped).
  k.mac_r[3] &= 15; k.mac_r[7] &= 15; k.mac_r[11] &= 15; k.mac_r[15] &= 15;
  k.mac_r[4] &= 252; k.mac_r[8] &= 252; k.mac_r[12] &= 252;
  return k;
}

bool Key::Valid() const {
  for (uint8_t b : encrypt)
    if (b) return true;
  return false;
}

void Seal(const Key& key, const uint8_t* plaintext, size_t n, Bytes* out) {
  size_t base = out->size();
  out->resize(base + n + kCryptoOverhead);
  uint8_t* iv = out->data() + base;
  RandomBytes(iv, kIvSize);
  uint8_t* ct = iv + kIvSize;
  Ctr(key, iv, plaintext, n, ct);
  Poly1305Aes(key, iv, ct, n, ct + n);
}

bool Verify(const Key& key, const uint8_t* data, size_t n) {
  if (n < kCryptoOverhead) return false;
  uint8_t mac[16];
  size_t ctlen = n - kCryptoOverhead;
  Poly1305Aes(key, data, data + kIvSize, ctlen, mac);
  return CRYPTO_memcmp(mac, data + kIvSize + ctlen, 16) == 0;
}

Result<Bytes> Unseal(const Key& key, const uint8_t* data, size_t n, const std::string& object) {
  Bytes out;
  MX_CHECK(UnsealInto(key, data, n, object, &out));
  return out;
}

Status UnsealInto(const Key& key, const uint8_t* data, size_t n, const std::string& object, Bytes* out) {
  if (n < kCryptoOverhead)
    return Error(Code::kCorrupt, "cannot decrypt", object,
                 "ciphertext of " + std::to_string(n) + " bytes is shorter than the " +
                     std::to_string(kCryptoOverhead) + "-byte IV and MAC");
  if (!Verify(key, data, n))
    return Error(Code::kCorrupt, "cannot decrypt", object,
                 "ciphertext verification failed (MAC mismatch)");
  size_t ctlen = n - kCryptoOverhead;
  out->resize(ctlen);
  Ctr(key, data, data + kIvSize, ctlen, out->data());
  return Ok();
}

Result<Key> DeriveKey(const std::string& password, const Bytes& salt, uint64_t n,
                      uint32_t r, uint32_t p) {
  Bytes out = MX_TRY(Scrypt(password, salt, n, r, p, 64));
  Key k;
  std::memcpy(k.encrypt, out.data(), 32);
  std::memcpy(k.mac_k, out.data() + 32, 16);
  std::memcpy(k.mac_r, out.data() + 48, 16);
  OPENSSL_cleanse(out.data(), out.size());
  return k;
}

// Id lives here so that the repository's only SHA-256 is OpenSSL's.
Id Id::Hash(const uint8_t* data, size_t n) {
  Id id;
  SHA256(data, n, id.bytes.data());
  return id;
}

std::optional<Id> Id::FromHex(std::string_view hex) {
  if (hex.size() != 64) return std::nullopt;
  auto b = mx::FromHex(hex);
  if (!b) return std::nullopt;
  Id id;
  std::memcpy(id.bytes.data(), b->data(), 32);
  return id;
}

std::string Id::Hex() const { return mx::ToHex(bytes.data(), bytes.size()); }

bool Id::IsZero() const {
  for (uint8_t b : bytes)
    if (b) return false;
  return true;
}

}  // namespace mx::repo
