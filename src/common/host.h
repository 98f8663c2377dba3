// Who and where this process is: host and user names as recorded in
// snapshots, keys and locks. Thread-safe.
#pragma once

#include <string>

namespace mx {

/// gethostname(), or "" if it fails.
std::string Hostname();
/// The name of the effective user, or its numeric uid when it has no name.
std::string Username();

}  // namespace mx
