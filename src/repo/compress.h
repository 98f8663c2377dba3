// zstd compression for blobs and repository files. Thread-safe (per-thread
// zstd contexts).
#pragma once

#include <string>

#include "common/bytes.h"
#include "common/error.h"

namespace mx::repo {

enum class Compression { kAuto, kOff, kMax };

/// zstd level used for a mode (auto favours speed, max favours size).
int ZstdLevel(Compression mode);
/// Compresses `n` bytes into `out` (replacing its content).
void Compress(const uint8_t* data, size_t n, int level, Bytes* out);
/// Decompresses a zstd frame. `expected_size` (0 = unknown) bounds the output;
/// a mismatch is BAD_FORMAT naming `object`.
Result<Bytes> Decompress(const uint8_t* data, size_t n, size_t expected_size,
                         const std::string& object);

/// Decompress into `out` (resized; capacity reused). Same errors as Decompress.
Status DecompressInto(const uint8_t* data, size_t n, size_t expected_size,
                      const std::string& object, Bytes* out);

}  // namespace mx::repo
