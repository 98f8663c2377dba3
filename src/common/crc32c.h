// CRC-32C (Castagnoli), the checksum of RocksDB's WAL records and file
// checksums. Written here because no Debian library exports it (RocksDB keeps
// its own private); uses the SSE4.2 instruction when the CPU has it, else a
// table. Stateless, thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

namespace mx {

/// Extends `crc` (0 to start) over `n` bytes at `data`.
uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t n);
inline uint32_t Crc32c(const void* data, size_t n) { return Crc32cExtend(0, data, n); }

}  // namespace mx
