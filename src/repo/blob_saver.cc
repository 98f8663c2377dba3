#include "repo/blob_saver.h"

#include <algorithm>
#include <set>
#include <unordered_set>

#include "common/log.h"

namespace mx::repo {

namespace {
constexpr size_t kIndexBlobsPerFile = 100000;
}

BlobSaver::BlobSaver(Repository& repo, size_t pack_size)
    : repo_(repo),
      pack_size_(pack_size),
      uploader_count_(std::clamp(repo.backend().Concurrency(), 1u, 64u)),
      uploads_(std::max(2u, uploader_count_)),
      pack_buffers_(2 * uploader_count_ + 1, 16 << 20) {
  // One uploader suffices for a local disk (writes land in the page cache);
  // object storage keeps a PUT per connection in flight.
  for (unsigned i = 0; i < uploader_count_; ++i) uploaders_.emplace_back([this] { UploadLoop(); });
}

BlobSaver::~BlobSaver() {
  uploads_.Close();
  for (auto& t : uploaders_)
    if (t.joinable()) t.join();
}

void BlobSaver::SetError(Error e) {
  std::lock_guard<std::mutex> l(mu_);
  if (!error_) error_ = std::move(e);
}

Status BlobSaver::FirstError() {
  std::lock_guard<std::mutex> l(mu_);
  if (error_) return *error_;
  return Ok();
}

void BlobSaver::UploadLoop() {
  while (auto up = uploads_.Pop()) {
    if (!FirstError().ok()) continue;  // drain without uploading after a failure
    Id id = Id::Hash(up->data.data(), up->data.size());
    Status s = repo_.backend().Save(Handle{FileType::kPack, id.Hex()}, up->data.data(), up->data.size());
    if (!s.ok()) {
      SetError(s.error().Wrap("cannot upload pack", ObjectName(FileType::kPack, id)));
      continue;
    }
    repo_.index().AddPack(id, up->blobs);
    stats_.packs++;
    pack_buffers_.Put(std::move(up->data));
    std::lock_guard<std::mutex> l(mu_);
    pending_blobs_ += up->blobs.size();
    pending_.push_back(IndexPack{id, std::move(up->blobs)});
  }
}

void BlobSaver::Submit(std::unique_ptr<PackWriter> pw) {
  Upload up;
  pw->Finish(repo_.key(), &up.data, &up.blobs);
  uploads_.Push(std::move(up));
}

Result<bool> BlobSaver::Save(BlobType type, const Id& id, const uint8_t* data, size_t n) {
  MX_CHECK(FirstError());
  if (!repo_.index().TryReserve(type, id)) return false;

  thread_local Bytes compressed;
  const uint8_t* payload = data;
  size_t payload_len = n;
  uint32_t ulen = 0;
  Compression mode = repo_.compression();
  if (mode != Compression::kOff || (type == BlobType::kTree && repo_.config().version >= 2)) {
    int level = ZstdLevel(mode == Compression::kOff ? Compression::kAuto : mode);
    Compress(data, n, level, &compressed);
    if (compressed.size() < n) {
      payload = compressed.data();
      payload_len = compressed.size();
      ulen = uint32_t(n);
    }
  }

  std::unique_ptr<PackWriter> pw;
  {
    std::lock_guard<std::mutex> l(pool_mu_);
    auto& pool = type == BlobType::kTree ? free_tree_ : free_data_;
    if (!pool.empty()) {
      pw = std::move(pool.back());
      pool.pop_back();
    }
  }
  if (!pw) pw = std::make_unique<PackWriter>(pack_buffers_.Get(pack_size_ + (1 << 20)));
  pw->AddSealing(repo_.key(), type, id, payload, payload_len, ulen);
  (type == BlobType::kTree ? stats_.tree_blobs : stats_.data_blobs)++;
  stats_.bytes_added += n;
  stats_.bytes_added_packed += payload_len + kCryptoOverhead;

  if (pw->size() >= pack_size_) {
    Submit(std::move(pw));
  } else {
    std::lock_guard<std::mutex> l(pool_mu_);
    (type == BlobType::kTree ? free_tree_ : free_data_).push_back(std::move(pw));
  }
  return true;
}

Status BlobSaver::WriteIndex(bool final_write) {
  IndexFile idx;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (pending_.empty()) return Ok();
    if (!final_write && pending_blobs_ < kIndexBlobsPerFile) return Ok();
    idx.packs = std::move(pending_);
    pending_.clear();
    pending_blobs_ = 0;
  }
  auto id = repo_.SaveFile(FileType::kIndex, SerializeIndex(idx));
  if (!id.ok()) return id.error().Wrap("cannot write index", "index/");
  return Ok();
}

Status BlobSaver::Finish() {
  std::vector<std::unique_ptr<PackWriter>> rest;
  {
    std::lock_guard<std::mutex> l(pool_mu_);
    for (auto& p : free_data_) rest.push_back(std::move(p));
    for (auto& p : free_tree_) rest.push_back(std::move(p));
    free_data_.clear();
    free_tree_.clear();
  }
  for (auto& p : rest)
    if (!p->empty()) Submit(std::move(p));
  uploads_.Close();
  for (auto& t : uploaders_) t.join();
  uploaders_.clear();
  MX_CHECK(FirstError());
  finished_ = true;
  return WriteIndex(true);
}

Result<OrphanReport> AdoptOrphanPacks(Repository& repo) {
  std::unordered_set<Id, IdHash> indexed;
  repo.index().ForEach([&](const Id&, const BlobLocation& loc) { indexed.insert(loc.pack); });
  std::vector<FileInfo> orphans;
  MX_CHECK(repo.backend().List(FileType::kPack, [&](const FileInfo& fi) {
    if (!indexed.count(*Id::FromHex(fi.name))) orphans.push_back(fi);
    return Ok();
  }));
  OrphanReport report;
  if (orphans.empty()) return report;
  IndexFile idx;
  for (const FileInfo& fi : orphans) {
    Id id = *Id::FromHex(fi.name);
    std::string object = ObjectName(FileType::kPack, id);
    auto data = repo.backend().Load(Handle{FileType::kPack, fi.name}, 0, 0);
    if (!data.ok()) {
      // It may have been removed by a concurrent prune: not ours to judge.
      log::Warn("cannot read unindexed pack " + object + ": " + data.error().Message());
      continue;
    }
    if (Id::Hash(data->data(), data->size()) != id) {
      log::Warn("unindexed pack " + object + " is damaged (hash mismatch); leaving it alone");
      ++report.damaged;
      continue;
    }
    size_t need = 0;
    auto blobs = ParsePackHeader(repo.key(), data->data(), data->size(), data->size(), object, &need);
    if (!blobs.ok()) {
      log::Warn("unindexed pack " + object + " has an invalid header: " + blobs.error().Message());
      ++report.damaged;
      continue;
    }
    repo.index().AddPack(id, *blobs);
    idx.packs.push_back(IndexPack{id, std::move(*blobs)});
    ++report.adopted;
    report.bytes += data->size();
  }
  if (!idx.packs.empty()) {
    auto r = repo.SaveFile(FileType::kIndex, SerializeIndex(idx));
    if (!r.ok()) return r.error().Wrap("cannot write index for recovered packs", "index/");
  }
  return report;
}

}  // namespace mx::repo
