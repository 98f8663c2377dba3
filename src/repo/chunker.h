// Content-defined chunking with Rabin fingerprints, cut-for-cut identical to
// restic's chunker (64-byte window, 512 KiB minimum, 8 MiB maximum, 20-bit
// split mask, the repository's random irreducible polynomial of degree 53),
// so that the same bytes make the same blobs whichever tool wrote them.
//
// A Chunker is a streaming state machine owned by one thread. Tables for a
// polynomial are computed once per process and shared read-only.
#pragma once

#include <cstddef>
#include <cstdint>

namespace mx::repo {

using Pol = uint64_t;

constexpr size_t kChunkMinSize = 512 * 1024;
constexpr size_t kChunkMaxSize = 8 * 1024 * 1024;

/// Degree of the polynomial (index of the highest set bit), -1 for 0.
int PolDeg(Pol p);
/// True when `p` is irreducible over GF(2) (Ben-Or's test).
bool PolIrreducible(Pol p);
/// A random irreducible polynomial of degree 53.
Pol RandomPolynomial();

class Chunker {
 public:
  struct Tables {
    uint64_t out[256];
    uint64_t mod[256];
  };

  /// `pol` must have degree 53 (as every restic repository's has).
  explicit Chunker(Pol pol);

  /// Starts a new stream (a new file).
  void Reset();
  /// Consumes bytes of the current chunk from `buf`. Returns the number of
  /// bytes that end the chunk (a split point, 1..n) or 0 when all `n` bytes
  /// belong to the current chunk and no split was found yet. After a split the
  /// state is reset for the next chunk.
  size_t Next(const uint8_t* buf, size_t n);

 private:
  void ResetChunk();

  const Tables* tables_;
  unsigned pol_shift_;
  uint8_t window_[64];
  size_t wpos_ = 0;
  uint64_t digest_ = 0;
  size_t pre_ = 0;    // bytes to skip before hashing starts
  size_t count_ = 0;  // bytes in the current chunk so far
};

}  // namespace mx::repo
