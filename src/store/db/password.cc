#include "store/db/password.h"

#include <openssl/crypto.h>

#include <cstdio>

#include "common/bytes.h"
#include "common/secure.h"

namespace mx::store {

Result<std::string> HashPassword(const std::string& password) {
  Bytes salt = RandomBytes(16);
  Bytes hash = MX_TRY(Scrypt(password, salt, uint64_t{1} << 15, 8, 1, 32));
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
  auto got = Scrypt(password, *salt, uint64_t{1} << ln, r, p, 32);
  return got.ok() && CRYPTO_memcmp(got->data(), expect->data(), 32) == 0;
}

}  // namespace mx::store
