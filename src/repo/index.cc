#include "repo/index.h"

#include <algorithm>
#include <mutex>

namespace mx::repo {

MasterIndex::MasterIndex() { table_.assign(1024, Entry{Id{}, kEmpty, 0, 0, 0}); }

size_t MasterIndex::FindSlot(BlobType type, const Id& id) const {
  size_t mask = table_.size() - 1;
  size_t i = IdHash()(id) & mask;
  uint32_t tree = type == BlobType::kTree ? kTreeBit : 0;
  for (;;) {
    const Entry& e = table_[i];
    if (e.pack == kEmpty) return i;
    if ((e.pack & kTreeBit) == tree && e.id == id) return i;
    i = (i + 1) & mask;
  }
}

void MasterIndex::GrowIfNeeded() {
  if ((used_ + 1) * 4 < table_.size() * 3) return;
  std::vector<Entry> old;
  old.swap(table_);
  table_.assign(old.size() * 2, Entry{Id{}, kEmpty, 0, 0, 0});
  size_t mask = table_.size() - 1;
  for (const Entry& e : old) {
    if (e.pack == kEmpty) continue;
    size_t i = IdHash()(e.id) & mask;
    while (table_[i].pack != kEmpty) i = (i + 1) & mask;
    table_[i] = e;
  }
}

uint32_t MasterIndex::PackNumber(const Id& pack) {
  // Packs are added in batches; a linear search over the last few suffices
  // for the common case (blobs of one pack arrive together).
  for (size_t k = packs_.size(); k > 0 && k + 8 > packs_.size(); --k)
    if (packs_[k - 1] == pack) return uint32_t(k - 1);
  packs_.push_back(pack);
  return uint32_t(packs_.size() - 1);
}

void MasterIndex::AddPack(const Id& pack, const std::vector<IndexBlob>& blobs) {
  std::unique_lock<std::shared_mutex> l(mu_);
  uint32_t pn = PackNumber(pack);
  for (const IndexBlob& b : blobs) {
    GrowIfNeeded();
    size_t i = FindSlot(b.type, b.id);
    Entry& e = table_[i];
    uint32_t tree = b.type == BlobType::kTree ? kTreeBit : 0;
    if (e.pack == kEmpty) {
      ++used_;
    } else if ((e.pack & ~kTreeBit) != kReserved) {
      continue;  // already stored elsewhere: keep the first location
    }
    e = Entry{b.id, pn | tree, b.offset, b.length, b.uncompressed_length};
  }
}

std::optional<BlobLocation> MasterIndex::Lookup(BlobType type, const Id& id) const {
  std::shared_lock<std::shared_mutex> l(mu_);
  const Entry& e = table_[FindSlot(type, id)];
  if (e.pack == kEmpty || (e.pack & ~kTreeBit) == kReserved) return std::nullopt;
  return BlobLocation{packs_[e.pack & ~kTreeBit], type, e.offset, e.length, e.ulen};
}

bool MasterIndex::TryReserve(BlobType type, const Id& id) {
  std::unique_lock<std::shared_mutex> l(mu_);
  GrowIfNeeded();
  Entry& e = table_[FindSlot(type, id)];
  if (e.pack != kEmpty) return false;
  e = Entry{id, kReserved | (type == BlobType::kTree ? kTreeBit : 0), 0, 0, 0};
  ++used_;
  return true;
}

void MasterIndex::Unreserve(BlobType type, const Id& id) {
  std::unique_lock<std::shared_mutex> l(mu_);
  size_t i = FindSlot(type, id);
  if (table_[i].pack == kEmpty || (table_[i].pack & ~kTreeBit) != kReserved) return;
  // Backward-shift deletion keeps linear probing correct.
  size_t mask = table_.size() - 1;
  size_t j = i;
  for (;;) {
    j = (j + 1) & mask;
    if (table_[j].pack == kEmpty) break;
    size_t home = IdHash()(table_[j].id) & mask;
    bool between = i <= j ? (i < home && home <= j) : (i < home || home <= j);
    if (between) continue;
    table_[i] = table_[j];
    i = j;
  }
  table_[i].pack = kEmpty;
  --used_;
}

bool MasterIndex::HasPack(const Id& pack) const {
  std::shared_lock<std::shared_mutex> l(mu_);
  return std::find(packs_.begin(), packs_.end(), pack) != packs_.end();
}

std::optional<size_t> MasterIndex::Slot(BlobType type, const Id& id) const {
  std::shared_lock<std::shared_mutex> l(mu_);
  size_t i = FindSlot(type, id);
  if (table_[i].pack == kEmpty || (table_[i].pack & ~kTreeBit) == kReserved) return std::nullopt;
  return i;
}

size_t MasterIndex::SlotCount() const {
  std::shared_lock<std::shared_mutex> l(mu_);
  return table_.size();
}

size_t MasterIndex::BlobCount() const {
  std::shared_lock<std::shared_mutex> l(mu_);
  return used_;
}

size_t MasterIndex::PackCount() const {
  std::shared_lock<std::shared_mutex> l(mu_);
  return packs_.size();
}

void MasterIndex::ForEach(const std::function<void(const Id&, const BlobLocation&)>& fn) const {
  std::shared_lock<std::shared_mutex> l(mu_);
  for (const Entry& e : table_) {
    if (e.pack == kEmpty || (e.pack & ~kTreeBit) == kReserved) continue;
    BlobType t = (e.pack & kTreeBit) ? BlobType::kTree : BlobType::kData;
    fn(e.id, BlobLocation{packs_[e.pack & ~kTreeBit], t, e.offset, e.length, e.ulen});
  }
}

}  // namespace mx::repo
