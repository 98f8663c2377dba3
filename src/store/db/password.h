// Password hashes for store users: scrypt from OpenSSL 3 (EVP_KDF "SCRYPT"),
// stored as "$scrypt$ln=15,r=8,p=1$SALT$HASH" (base64). Stateless, thread-safe.
#pragma once

#include <string>

#include "common/error.h"

namespace mx::store {

/// A new hash of `password` with a random salt.
Result<std::string> HashPassword(const std::string& password);
/// Whether `password` matches `hash` (constant-time compare). False for a
/// malformed hash.
bool VerifyPassword(const std::string& password, const std::string& hash);

}  // namespace mx::store
