#include "repo/prune.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "common/log.h"
#include "common/queue.h"
#include "repo/pack.h"

namespace mx::repo {
namespace {

constexpr size_t kIndexBlobsPerFile = 100000;

struct PackStat {
  uint64_t used_bytes = 0, unused_bytes = 0;
  uint32_t used_blobs = 0, unused_blobs = 0;
  uint64_t size = 0;  // file size in data/
  bool present = false;
  enum Action : uint8_t { kKeep, kRepack, kDelete } action = kKeep;
};

void Progress(const PruneOptions& o, const std::string& s) {
  if (o.on_progress) o.on_progress(s);
}

// Marks every blob reachable from a snapshot, one byte per index slot. Trees
// are loaded by one thread per core, level by level.
class Marker {
 public:
  explicit Marker(Repository& repo) : repo_(repo), slots_(repo.index().SlotCount()) {
    marks_.reset(new std::atomic<uint8_t>[slots_]());
  }

  Status Run(const std::vector<Id>& roots, size_t* trees) {
    std::vector<Id> level;
    for (const Id& r : roots) MX_CHECK(MarkTree(r, "the root tree of a snapshot", &level));
    unsigned nthreads = std::max(2u, std::thread::hardware_concurrency());
    while (!level.empty()) {
      *trees += level.size();
      std::atomic<size_t> next{0};
      std::mutex mu;
      std::optional<Error> err;
      std::vector<Id> next_level;
      auto work = [&] {
        std::vector<Id> mine;
        for (;;) {
          size_t i = next++;
          if (i >= level.size()) break;
          Status s = Visit(level[i], &mine);
          if (!s.ok()) {
            std::lock_guard<std::mutex> l(mu);
            if (!err) err = s.error();
            break;
          }
        }
        std::lock_guard<std::mutex> l(mu);
        next_level.insert(next_level.end(), mine.begin(), mine.end());
      };
      std::vector<std::thread> threads;
      for (unsigned t = 0; t < nthreads; ++t) threads.emplace_back(work);
      for (auto& t : threads) t.join();
      if (err) return *err;
      level = std::move(next_level);
    }
    return Ok();
  }

  bool Used(BlobType type, const Id& id) const {
    auto slot = repo_.index().Slot(type, id);
    return slot && marks_[*slot].load(std::memory_order_relaxed);
  }

 private:
  static Error Missing(BlobType type, const Id& id, const std::string& where) {
    return Error(Code::kCheckFailed, "prune refuses to run: a snapshot references a blob that no index lists",
                 std::string(BlobTypeName(type)) + " blob " + id.Hex(), "referenced by " + where,
                 "run `mxvault check` to see what is damaged; prune deletes nothing while data is missing");
  }
  // Marks a tree; appends it to `todo` when this call marked it first.
  Status MarkTree(const Id& id, const std::string& where, std::vector<Id>* todo) {
    auto slot = repo_.index().Slot(BlobType::kTree, id);
    if (!slot) return Missing(BlobType::kTree, id, where);
    if (marks_[*slot].exchange(1) == 0) todo->push_back(id);
    return Ok();
  }
  Status Visit(const Id& tree_id, std::vector<Id>* todo) {
    Tree t = MX_TRY(repo_.LoadTree(tree_id));
    for (const Node& n : t.nodes) {
      if (n.subtree) MX_CHECK(MarkTree(*n.subtree, "tree " + tree_id.Hex(), todo));
      for (const Id& c : n.content) {
        auto slot = repo_.index().Slot(BlobType::kData, c);
        if (!slot) return Missing(BlobType::kData, c, "file \"" + n.name + "\" in tree " + tree_id.Hex());
        marks_[*slot].store(1, std::memory_order_relaxed);
      }
    }
    return Ok();
  }

  Repository& repo_;
  size_t slots_;
  std::unique_ptr<std::atomic<uint8_t>[]> marks_;
};

// Calls `fn` for each pack entry of the loaded index files, the first listing
// of each pack only (a pack listed twice after an interrupted prune or
// adoption counts once).
Status ForEachIndexedPack(Repository& repo, const std::function<Status(const IndexPack&)>& fn,
                          size_t* duplicates = nullptr) {
  std::unordered_set<Id, IdHash> seen;
  for (const Id& f : repo.index_files()) {
    Bytes raw = MX_TRY(repo.LoadFile(FileType::kIndex, f));
    IndexFile idx = MX_TRY(ParseIndex(raw, ObjectName(FileType::kIndex, f)));
    for (const IndexPack& p : idx.packs) {
      if (!seen.insert(p.id).second) {
        if (duplicates) ++*duplicates;
        continue;
      }
      MX_CHECK(fn(p));
    }
  }
  return Ok();
}

// Copies used blobs into new packs, verifying each one (decrypt, decompress,
// SHA-256) so that prune never carries damage into a new pack.
class Repacker {
 public:
  Repacker(Repository& repo, size_t pack_size) : repo_(repo), pack_size_(pack_size) {}

  Status Add(const Id& pack, const Bytes& data, const IndexBlob& b) {
    std::string object = std::string(BlobTypeName(b.type)) + " blob " + b.id.Hex() + " in " +
                         ObjectName(FileType::kPack, pack);
    if (uint64_t(b.offset) + b.length > data.size())
      return Error(Code::kCorrupt, "cannot repack", object, "the index places it past the end of the pack",
                   "run `mxvault check --read-data`");
    const uint8_t* sealed = data.data() + b.offset;
    Status s = OpenBlob(repo_.key(), sealed, b.length, b.uncompressed_length, b.id, object, &plain_, &content_);
    if (!s.ok()) return s.error().Wrap("cannot repack (prune deleted nothing)", object);
    PackWriter& w = b.type == BlobType::kTree ? tree_ : data_;
    w.Add(b.type, b.id, sealed, b.length, b.uncompressed_length);
    if (w.size() >= pack_size_) MX_CHECK(Flush(w));
    return Ok();
  }

  Status Finish() {
    if (!data_.empty()) MX_CHECK(Flush(data_));
    if (!tree_.empty()) MX_CHECK(Flush(tree_));
    return Ok();
  }

  std::vector<IndexPack>& written() { return written_; }
  uint64_t bytes_written() const { return bytes_written_; }

 private:
  Status Flush(PackWriter& w) {
    Bytes pack;
    std::vector<IndexBlob> blobs;
    w.Finish(repo_.key(), &pack, &blobs);
    Id id = Id::Hash(pack.data(), pack.size());
    Status s = repo_.backend().Save(Handle{FileType::kPack, id.Hex()}, pack.data(), pack.size());
    if (!s.ok()) return s.error().Wrap("cannot write a repacked pack", ObjectName(FileType::kPack, id));
    bytes_written_ += pack.size();
    written_.push_back(IndexPack{id, std::move(blobs)});
    return Ok();
  }

  Repository& repo_;
  size_t pack_size_;
  PackWriter data_, tree_;
  Bytes plain_, content_;
  std::vector<IndexPack> written_;
  uint64_t bytes_written_ = 0;
};

}  // namespace

Result<PruneReport> Prune(Repository& repo, const PruneOptions& o) {
  PruneReport rep;
  MasterIndex& index = repo.index();

  // 1. What the snapshots use.
  Progress(o, "loading snapshots");
  auto snaps = MX_TRY(repo.ListSnapshots());
  rep.snapshots = snaps.size();
  std::vector<Id> roots;
  for (auto& [id, s] : snaps) roots.push_back(s.tree);
  Progress(o, "finding the data in use by " + std::to_string(snaps.size()) + " snapshots");
  Marker marker(repo);
  MX_CHECK(marker.Run(roots, &rep.trees));

  // 2. Every pack: its used and unused bytes.
  Progress(o, "counting used and unused data in each pack");
  std::unordered_map<Id, PackStat, IdHash> packs;
  size_t duplicate_listings = 0;
  MX_CHECK(ForEachIndexedPack(repo, [&](const IndexPack& p) -> Status {
    PackStat& st = packs[p.id];
    for (const IndexBlob& b : p.blobs) {
      auto loc = index.Lookup(b.type, b.id);
      // A blob stored twice is used in the copy the index resolves to only.
      bool used = loc && loc->pack == p.id && loc->offset == b.offset && marker.Used(b.type, b.id);
      if (used) {
        st.used_bytes += b.length;
        ++st.used_blobs;
      } else {
        st.unused_bytes += b.length;
        ++st.unused_blobs;
      }
    }
    return Ok();
  }, &duplicate_listings));

  // 3. What data/ holds.
  std::vector<FileInfo> unindexed;
  MX_CHECK(repo.backend().List(FileType::kPack, [&](const FileInfo& fi) {
    Id id = *Id::FromHex(fi.name);
    rep.size_before += fi.size;
    auto it = packs.find(id);
    if (it == packs.end()) {
      unindexed.push_back(fi);
      rep.bytes_unindexed += fi.size;
    } else {
      it->second.present = true;
      it->second.size = fi.size;
    }
    return Ok();
  }));
  rep.packs_unindexed = unindexed.size();
  for (auto& [id, st] : packs) {
    if (st.present) continue;
    if (st.used_blobs > 0)
      return Error(Code::kCheckFailed, "prune refuses to run: a pack the index lists is missing",
                   ObjectName(FileType::kPack, id),
                   std::to_string(st.used_blobs) + " blobs in it are used by snapshots",
                   "run `mxvault check` to see which snapshots are damaged; prune deletes nothing while data is missing");
    ++rep.packs_missing;  // only unused blobs: dropped from the new index
  }

  // 4. Decide: delete wholly unused packs, repack partly used ones while the
  //    unused space left exceeds the limit (most wasteful first).
  std::vector<std::pair<Id, PackStat*>> partial;
  for (auto& [id, st] : packs) {
    if (!st.present) continue;
    ++rep.packs;
    rep.used_blobs += st.used_blobs;
    rep.used_bytes += st.used_bytes;
    rep.unused_blobs += st.unused_blobs;
    rep.unused_bytes += st.unused_bytes;
    if (st.used_blobs == 0) {
      st.action = PackStat::kDelete;
      ++rep.packs_delete;
      rep.bytes_delete += st.size;
    } else if (st.unused_blobs > 0) {
      partial.push_back({id, &st});
      rep.unused_after += st.unused_bytes;
    }
  }
  uint64_t limit;
  if (o.max_unused_bytes) limit = *o.max_unused_bytes;
  else if (o.max_unused_percent >= 100) limit = UINT64_MAX;
  else limit = uint64_t(double(rep.used_bytes) * o.max_unused_percent / (100 - o.max_unused_percent));
  std::sort(partial.begin(), partial.end(), [](const auto& a, const auto& b) {
    double fa = double(a.second->unused_bytes) / double(a.second->size + 1);
    double fb = double(b.second->unused_bytes) / double(b.second->size + 1);
    if (fa != fb) return fa > fb;
    return a.first < b.first;
  });
  for (auto& [id, st] : partial) {
    if (rep.unused_after <= limit) break;
    if (o.max_repack_bytes && rep.bytes_repack + st->size > o.max_repack_bytes) continue;
    st->action = PackStat::kRepack;
    ++rep.packs_repack;
    rep.bytes_repack += st->size;
    rep.bytes_repack_freed += st->unused_bytes;
    rep.unused_after -= st->unused_bytes;
  }
  rep.packs_keep = rep.packs - rep.packs_delete - rep.packs_repack;
  // A pack listed by two index files (left by an interrupted prune) is
  // harmless, but a rewrite makes the index whole again.
  rep.changed = rep.packs_delete || rep.packs_repack || rep.packs_unindexed || rep.packs_missing || duplicate_listings;
  if (!o.dry_run) {
    // Temporary files of saves a crash interrupted: under the exclusive lock
    // nobody is writing, so every one is garbage.
    for (FileType t : {FileType::kPack, FileType::kIndex, FileType::kSnapshot})
      rep.bytes_leftovers += MX_TRY(repo.backend().RemoveLeftovers(t));
  }
  if (o.dry_run || !rep.changed) {
    rep.size_after = rep.size_before - rep.bytes_delete - rep.bytes_unindexed - rep.bytes_repack_freed;
    return rep;
  }

  // 5. One pass over the index files: repack the chosen packs (copy their
  //    used blobs into new packs) and list every kept pack in the new index;
  //    then the new packs. All of it is written before anything is deleted.
  Repacker repacker(repo, o.pack_size);
  IndexFile out;
  size_t out_blobs = 0;
  auto flush = [&]() -> Status {
    if (out.packs.empty()) return Ok();
    auto id = repo.SaveFile(FileType::kIndex, SerializeIndex(out));
    if (!id.ok()) return id.error().Wrap("cannot write the new index", "index/");
    ++rep.index_files_written;
    out.packs.clear();
    out_blobs = 0;
    return Ok();
  };
  auto add = [&](IndexPack p) -> Status {
    out_blobs += p.blobs.size();
    out.packs.push_back(std::move(p));
    if (out_blobs >= kIndexBlobsPerFile) MX_CHECK(flush());
    return Ok();
  };
  size_t done = 0;
  MX_CHECK(ForEachIndexedPack(repo, [&](const IndexPack& p) -> Status {
    auto it = packs.find(p.id);
    if (it == packs.end() || !it->second.present) return Ok();
    if (it->second.action == PackStat::kKeep) return add(p);
    if (it->second.action != PackStat::kRepack) return Ok();
    Progress(o, "repacking " + std::to_string(++done) + "/" + std::to_string(rep.packs_repack) + " packs");
    Bytes data = MX_TRY(repo.backend().Load(Handle{FileType::kPack, p.id.Hex()}, 0, 0));
    for (const IndexBlob& b : p.blobs) {
      auto loc = index.Lookup(b.type, b.id);
      if (!(loc && loc->pack == p.id && loc->offset == b.offset && marker.Used(b.type, b.id))) continue;
      MX_CHECK(repacker.Add(p.id, data, b));
    }
    return Ok();
  }));
  MX_CHECK(repacker.Finish());
  rep.packs_written = repacker.written().size();
  rep.bytes_written = repacker.bytes_written();
  Progress(o, "writing the new index");
  for (IndexPack& p : repacker.written()) MX_CHECK(add(std::move(p)));
  MX_CHECK(flush());

  // 6. Only now: the old index files, then the packs nothing needs. Removals
  //    run as many at once as the backend serves (object storage: one DELETE
  //    per connection; a local disk: one).
  const unsigned removers = repo.backend().Concurrency();
  const std::vector<Id>& old_index = repo.index_files();
  Progress(o, "removing " + std::to_string(old_index.size()) + " old index files");
  MX_CHECK(ParallelFor(old_index.size(), removers, [&](size_t i) -> Status {
    Status s = repo.backend().Remove(Handle{FileType::kIndex, old_index[i].Hex()});
    if (!s.ok() && s.error().code() != Code::kNotFound)
      return s.error().Wrap("cannot remove an old index file (the new index is written; run prune again)",
                            ObjectName(FileType::kIndex, old_index[i]));
    return Ok();
  }));
  rep.index_files_removed += old_index.size();
  std::vector<std::string> doomed;
  for (auto& [id, st] : packs)
    if (st.present && st.action != PackStat::kKeep) doomed.push_back(id.Hex());
  for (const FileInfo& fi : unindexed) doomed.push_back(fi.name);
  std::atomic<size_t> removed{0};
  std::mutex progress_mu;
  MX_CHECK(ParallelFor(doomed.size(), removers, [&](size_t i) -> Status {
    size_t k = ++removed;
    if (k % 100 == 1) {
      std::lock_guard<std::mutex> l(progress_mu);
      Progress(o, "removing packs " + std::to_string(k) + "/" + std::to_string(doomed.size()));
    }
    Status s = repo.backend().Remove(Handle{FileType::kPack, doomed[i]});
    if (!s.ok() && s.error().code() != Code::kNotFound)
      return s.error().Wrap("cannot remove a pack (the new index is written; run prune again)", "data/" + doomed[i]);
    return Ok();
  }));
  rep.size_after = rep.size_before - rep.bytes_delete - rep.bytes_unindexed - rep.bytes_repack + rep.bytes_written;
  return rep;
}

}  // namespace mx::repo
