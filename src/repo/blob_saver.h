// BlobSaver: the write half of the backup pipeline. Any number of threads call
// Save(); each new blob is compressed (v2), sealed into a pack, and full packs
// are uploaded by background threads. Finish() uploads the partial packs and
// then writes the index file for everything saved — restic's write order:
// packs, then index, then (by the caller) the snapshot.
//
// Thread-safe. Memory: at most (savers + 2 * uploaders) packs of about
// pack_size each (4 MiB by default, as restic's packs before 0.14); there are
// as many uploaders as the backend's Concurrency() (1 for a local disk,
// s3.connections for object storage, where each PUT waits on a round trip).
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "common/queue.h"
#include "repo/pack.h"
#include "repo/repository.h"

namespace mx::repo {

struct SaverStats {
  std::atomic<uint64_t> data_blobs{0};
  std::atomic<uint64_t> tree_blobs{0};
  std::atomic<uint64_t> bytes_added{0};        // plaintext of new blobs
  std::atomic<uint64_t> bytes_added_packed{0};  // as stored (compressed, sealed)
  std::atomic<uint64_t> packs{0};
};

class BlobSaver {
 public:
  explicit BlobSaver(Repository& repo, size_t pack_size = 4 << 20);
  ~BlobSaver();  // abandons unfinished work (nothing is indexed)

  /// Stores the blob unless the repository has it already (or another thread
  /// is storing it). `id` must be the SHA-256 of the data. Returns true when
  /// this call stored it. An upload failure is returned by a later Save or by
  /// Finish.
  Result<bool> Save(BlobType type, const Id& id, const uint8_t* data, size_t n);
  /// Uploads every partial pack, waits for all uploads and writes the index.
  Status Finish();

  const SaverStats& stats() const { return stats_; }

 private:
  struct Upload {
    Bytes data;
    std::vector<IndexBlob> blobs;
  };
  void UploadLoop();
  Status FirstError();
  void SetError(Error e);
  void Submit(std::unique_ptr<PackWriter> pw);
  Status WriteIndex(bool final_write);

  Repository& repo_;
  size_t pack_size_;
  SaverStats stats_;

  std::mutex pool_mu_;
  std::vector<std::unique_ptr<PackWriter>> free_data_;  // GUARDED_BY(pool_mu_)
  std::vector<std::unique_ptr<PackWriter>> free_tree_;  // GUARDED_BY(pool_mu_)
  std::vector<PackWriter*> all_;                        // GUARDED_BY(pool_mu_)

  unsigned uploader_count_;
  BoundedQueue<Upload> uploads_;
  BufferPool<Bytes> pack_buffers_;
  std::vector<std::thread> uploaders_;

  std::mutex mu_;
  std::optional<Error> error_;     // GUARDED_BY(mu_)
  std::vector<IndexPack> pending_;  // GUARDED_BY(mu_) packs uploaded, not yet in an index file
  size_t pending_blobs_ = 0;        // GUARDED_BY(mu_)
  bool finished_ = false;
};

/// Crash recovery: finds packs that no index lists (left by an interrupted
/// backup), verifies each one whole (SHA-256 against its name, authenticated
/// header) and writes an index file for the good ones, so their blobs are
/// reused instead of uploaded again. Damaged packs are left alone and counted.
struct OrphanReport {
  size_t adopted = 0;
  size_t damaged = 0;
  uint64_t bytes = 0;
};
Result<OrphanReport> AdoptOrphanPacks(Repository& repo);

}  // namespace mx::repo
