// Pack files: encrypted blobs followed by an encrypted header and its length
//   Blob_1 || ... || Blob_n || Seal(header) || uint32le(len(Seal(header)))
// Header entries: type (0 data, 1 tree, 2 compressed data, 3 compressed tree),
// uint32le encrypted length, [uint32le uncompressed length], 32-byte id.
// A PackWriter is owned by one thread; parsing is stateless.
#pragma once

#include <vector>

#include "common/bytes.h"
#include "common/error.h"
#include "repo/crypto.h"
#include "repo/format.h"
#include "repo/id.h"

namespace mx::repo {

constexpr size_t kPlainEntrySize = 1 + 4 + 32;
constexpr size_t kCompressedEntrySize = 1 + 4 + 4 + 32;
constexpr size_t kMaxPackHeaderSize = 16 * 1024 * 1024 + 4;

/// Accumulates encrypted blobs into one pack in memory.
class PackWriter {
 public:
  PackWriter() = default;
  /// Starts with `buffer` (cleared; its capacity is reused).
  explicit PackWriter(Bytes buffer) : data_(std::move(buffer)) { data_.clear(); }
  /// Appends an already sealed blob. `uncompressed_length` 0 = not compressed.
  void Add(BlobType type, const Id& id, const uint8_t* sealed, size_t n,
           uint32_t uncompressed_length);
  /// Appends plaintext, sealing it into the pack buffer directly.
  void AddSealing(const Key& key, BlobType type, const Id& id, const uint8_t* plain,
                  size_t n, uint32_t uncompressed_length);
  size_t size() const { return data_.size(); }
  size_t count() const { return blobs_.size(); }
  bool empty() const { return blobs_.empty(); }
  /// Appends the header, returns the finished pack bytes and its blobs, and
  /// leaves the writer empty for the next pack.
  void Finish(const Key& key, Bytes* pack, std::vector<IndexBlob>* blobs);

 private:
  Bytes data_;
  std::vector<IndexBlob> blobs_;
};

/// Opens one sealed blob of a pack: decrypts it, decompresses it when
/// `uncompressed_length` is not 0, and checks that its SHA-256 is `id`.
/// `scratch` holds the decrypted bytes of a compressed blob (its capacity is
/// reused). CORRUPT_DATA (or BAD_FORMAT) naming `object` otherwise.
Status OpenBlob(const Key& key, const uint8_t* sealed, size_t n, uint32_t uncompressed_length, const Id& id,
                const std::string& object, Bytes* scratch, Bytes* out);

/// How many bytes from the end of a pack to read so that most headers are
/// parsed with one read.
constexpr size_t kPackTailGuess = 4 + kCryptoOverhead + 64 * kCompressedEntrySize;

/// Parses the header of a pack of `file_size` bytes from `tail`, the last
/// `tail_len` bytes of the file. If the header is larger than `tail_len`,
/// returns ok with *need set to the number of tail bytes required.
/// Errors: BAD_FORMAT / CORRUPT_DATA naming `object`.
Result<std::vector<IndexBlob>> ParsePackHeader(const Key& key, const uint8_t* tail,
                                               size_t tail_len, uint64_t file_size,
                                               const std::string& object, size_t* need);

/// Parses decrypted header entries; `data_end` is where the header starts
/// (blobs must end before it). Exposed for the fuzzer.
Result<std::vector<IndexBlob>> ParseHeaderEntries(const Bytes& plain, uint64_t data_end,
                                                  const std::string& object);

}  // namespace mx::repo
