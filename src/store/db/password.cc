#include "store/db/password.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <cstdio>

#include "common/bytes.h"

namespace mx::store {
namespace {

bool Scrypt(const std::string& password, const Bytes& salt, uint64_t n, uint32_t r, uint32_t p,
            Bytes* out) {
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "SCRYPT", nullptr);
  if (kdf == nullptr) return false;
  EVP_KDF_CTX* ctx = EVP_KDF_CTX_new(kdf);
  EVP_KDF_free(kdf);
  if (ctx == nullptr) return false;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, const_cast<char*>(password.data()),
                                        password.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<uint8_t*>(salt.data()),
                                        salt.size()),
      OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n),
      OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r),
      OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p),
      OSSL_PARAM_construct_end()};
  out->assign(32, 0);
  bool ok = EVP_KDF_derive(ctx, out->data(), out->size(), params) == 1;
  EVP_KDF_CTX_free(ctx);
  return ok;
}

}  // namespace

Result<std::string> HashPassword(const std::string& password) {
  Bytes salt(16);
  RAND_bytes(salt.data(), static_cast<int>(salt.size()));
  Bytes hash;
  if (!Scrypt(password, salt, uint64_t{1} << 15, 8, 1, &hash))
    return Error(Code::kInternal, "cannot hash the password", "scrypt", "OpenSSL's SCRYPT KDF failed");
  return "$scrypt$ln=15,r=8,p=1$" + Base64Encode(salt.data(), salt.size()) + "$" +
         Base64Encode(hash.data(), hash.size());
}

bool VerifyPassword(const std::string& password, const std::string& stored) {
  unsigned ln = 0, r = 0, p = 0;
  char salt_b64[128] = {0}, hash_b64[128] = {0};
  if (std::sscanf(stored.c_str(), "$scrypt$ln=%u,r=%u,p=%u$%127[^$]$%127s", &ln, &r, &p, salt_b64,
                  hash_b64) != 5)
    return false;
  if (ln < 10 || ln > 22 || r == 0 || r > 32 || p == 0 || p > 16) return false;
  auto salt = Base64Decode(salt_b64);
  auto expect = Base64Decode(hash_b64);
  if (!salt || !expect || expect->size() != 32) return false;
  Bytes got;
  if (!Scrypt(password, *salt, uint64_t{1} << ln, r, p, &got)) return false;
  return CRYPTO_memcmp(got.data(), expect->data(), 32) == 0;
}

}  // namespace mx::store
