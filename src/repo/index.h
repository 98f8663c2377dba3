// MasterIndex: where every blob of the repository is (pack, offset, length).
//
// Memory: one open-addressing table of 48-byte entries (id, pack number,
// offset, lengths) plus one 32-byte id per pack, about 64 bytes per blob in
// all, with no per-entry allocation. Keys are (blob type, id); a blob stored
// in several packs is listed once.
//
// Thread-safe: lookups take a shared lock, changes an exclusive one.
#pragma once

#include <functional>
#include <optional>
#include <shared_mutex>
#include <vector>

#include "repo/format.h"
#include "repo/id.h"

namespace mx::repo {

struct BlobLocation {
  Id pack;
  BlobType type;
  uint32_t offset;
  uint32_t length;               // sealed length in the pack
  uint32_t uncompressed_length;  // 0: not compressed
  /// Plaintext size of the blob.
  uint32_t PlainSize() const {
    return uncompressed_length ? uncompressed_length : length - 32;
  }
};

class MasterIndex {
 public:
  MasterIndex();

  /// Adds every blob of `pack`. Entries reserved by TryReserve are filled in.
  void AddPack(const Id& pack, const std::vector<IndexBlob>& blobs);
  std::optional<BlobLocation> Lookup(BlobType type, const Id& id) const;
  bool Has(BlobType type, const Id& id) const { return Lookup(type, id).has_value(); }
  /// Atomically: false if the blob is stored or reserved already; otherwise
  /// reserves it (so no other thread saves it too) and returns true.
  bool TryReserve(BlobType type, const Id& id);
  /// Drops a reservation whose save failed.
  void Unreserve(BlobType type, const Id& id);
  /// Whether `pack` is referenced by any entry.
  bool HasPack(const Id& pack) const;

  /// A dense number for a stored blob, below SlotCount(), stable until the
  /// next change to the index: lets callers keep one bit per blob (prune's
  /// "used" marks) instead of a set of ids.
  std::optional<size_t> Slot(BlobType type, const Id& id) const;
  size_t SlotCount() const;

  size_t BlobCount() const;
  size_t PackCount() const;
  /// Calls `fn` for every stored (not merely reserved) blob.
  void ForEach(const std::function<void(const Id& id, const BlobLocation&)>& fn) const;

 private:
  struct Entry {
    Id id;
    uint32_t pack;  // kEmpty, kReserved, or index into packs_; top bit = tree
    uint32_t offset;
    uint32_t length;
    uint32_t ulen;
  };
  static constexpr uint32_t kEmpty = 0xFFFFFFFFu;
  static constexpr uint32_t kReserved = 0x7FFFFFFEu;
  static constexpr uint32_t kTreeBit = 0x80000000u;

  size_t FindSlot(BlobType type, const Id& id) const;  // REQUIRES(mu_)
  void GrowIfNeeded();                                  // REQUIRES(mu_ exclusive)
  uint32_t PackNumber(const Id& pack);                  // REQUIRES(mu_ exclusive)

  mutable std::shared_mutex mu_;
  std::vector<Entry> table_;  // GUARDED_BY(mu_), size a power of two
  size_t used_ = 0;           // GUARDED_BY(mu_)
  std::vector<Id> packs_;     // GUARDED_BY(mu_)
};

}  // namespace mx::repo
