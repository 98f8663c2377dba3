#include "common/secure.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <cstdlib>

namespace mx {

Result<Bytes> Scrypt(const std::string& password, const Bytes& salt, uint64_t n, uint32_t r,
                     uint32_t p, size_t out_len) {
  if (n < 2 || (n & (n - 1)) != 0 || r == 0 || p == 0 || n > (1ull << 24) || r > 64 || p > 64)
    return Error(Code::kBadFormat, "invalid scrypt parameters", "",
                 "N=" + std::to_string(n) + " r=" + std::to_string(r) + " p=" + std::to_string(p));
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "SCRYPT", nullptr);
  if (!kdf) return Error(Code::kInternal, "cannot load scrypt", "OpenSSL", "EVP_KDF_fetch failed");
  EVP_KDF_CTX* ctx = EVP_KDF_CTX_new(kdf);
  EVP_KDF_free(kdf);
  uint64_t maxmem = 128ull * r * n + (64ull << 20);
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD,
                                        const_cast<char*>(password.data()), password.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
                                        const_cast<uint8_t*>(salt.data()), salt.size()),
      OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n),
      OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r),
      OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p),
      OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem),
      OSSL_PARAM_construct_end()};
  Bytes out(out_len);
  int rc = ctx ? EVP_KDF_derive(ctx, out.data(), out.size(), params) : 0;
  EVP_KDF_CTX_free(ctx);
  if (rc != 1) {
    OPENSSL_cleanse(out.data(), out.size());
    return Error(Code::kInternal, "scrypt key derivation failed", "OpenSSL", "EVP_KDF_derive failed");
  }
  return out;
}

void RandomBytes(uint8_t* out, size_t n) {
  if (RAND_bytes(out, static_cast<int>(n)) != 1) std::abort();  // no entropy: nothing is safe
}

}  // namespace mx
