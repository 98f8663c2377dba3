// Self-signed TLS certificate for the backup service (mxstore init).
#pragma once

#include <string>
#include <vector>

#include "common/error.h"

namespace mx::storecli {

/// Writes an EC P-256 key (0600) and a self-signed certificate valid for
/// ten years naming `names` (DNS names or IP addresses) as subjectAltName.
Status WriteSelfSignedCert(const std::string& cert_path, const std::string& key_path,
                           const std::vector<std::string>& names);

}  // namespace mx::storecli
