// Who and where this process is: host and user names as recorded in
// snapshots, keys and locks. Thread-safe.
#pragma once

#include <cstdint>
#include <string>

namespace mx {

/// gethostname(), or "" if it fails.
std::string Hostname();
/// The name of the effective user, or its numeric uid when it has no name.
std::string Username();
/// The start time of `pid` in clock ticks since boot (/proc/PID/stat field
/// 22), 0 when unknown: with the pid, it names a process even after pid reuse.
uint64_t ProcessStartTicks(int64_t pid);
/// Whether process `pid` runs on this host; with `start_ticks` (not 0), only
/// when it is still the process that began then.
bool ProcessAlive(int64_t pid, uint64_t start_ticks = 0);

}  // namespace mx
