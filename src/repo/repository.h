// Repository: a restic-format repository (version 1 or 2) opened with a
// password over a Backend. Loads and saves encrypted files, holds the master
// index, loads blobs, trees and snapshots, and manages keys.
//
// Thread-safe after Open/Init: every method may be called from many threads,
// except LoadIndex, which must not run concurrently with blob lookups.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "repo/backend.h"
#include "repo/compress.h"
#include "repo/crypto.h"
#include "repo/format.h"
#include "repo/index.h"

namespace mx::repo {

struct KdfParams {
  uint64_t n = 32768;
  uint32_t r = 8;
  uint32_t p = 1;
};

struct KeyListing {
  Id id;
  KeyFile file;
};

class Repository {
 public:
  /// Creates a new repository of format `version` (1 or 2) with one key.
  static Result<std::unique_ptr<Repository>> Init(BackendPtr backend, const std::string& password,
                                                  int version, KdfParams kdf = {});
  /// Opens with the first key the password unlocks. REPO_NOT_FOUND when there
  /// is no config; WRONG_PASSWORD when no key opens.
  static Result<std::unique_ptr<Repository>> Open(BackendPtr backend, const std::string& password);

  Backend& backend() { return *backend_; }
  const BackendPtr& backend_ptr() { return backend_; }
  const RepoConfig& config() const { return config_; }
  const Key& key() const { return key_; }
  const Id& key_id() const { return key_id_; }
  MasterIndex& index() { return index_; }

  /// Compression for new blobs (v2 only; v1 never compresses).
  void set_compression(Compression c) { compression_ = c; }
  Compression compression() const { return config_.version >= 2 ? compression_ : Compression::kOff; }

  /// Loads a file, checks that its SHA-256 matches its name, decrypts it and
  /// (v2) decompresses it. Errors: NOT_FOUND, CORRUPT_DATA, BAD_FORMAT.
  Result<Bytes> LoadFile(FileType type, const Id& id);
  /// Encrypts (and compresses in v2) `plaintext`, saves it, returns its id.
  Result<Id> SaveFile(FileType type, const std::string& plaintext);

  /// Reads every index file into the master index; packs not in any index
  /// stay unknown. Index files that fail to load are errors.
  Status LoadIndex();
  /// Ids of the index files loaded by LoadIndex.
  const std::vector<Id>& index_files() const { return index_files_; }

  /// Loads and verifies one blob (its SHA-256 must equal `id`).
  Result<Bytes> LoadBlob(BlobType type, const Id& id);
  /// LoadBlob into `out`, reusing its capacity and per-thread scratch buffers
  /// (the restore path: no allocation per blob).
  Status LoadBlobInto(BlobType type, const Id& id, Bytes* out);
  Result<Tree> LoadTree(const Id& id);

  /// The ids of every file of `type` (unsorted).
  Result<std::vector<Id>> ListIds(FileType type);
  /// Every snapshot, sorted by time (oldest first).
  Result<std::vector<std::pair<Id, Snapshot>>> ListSnapshots();
  /// Resolves "latest", a full id or a unique prefix of a file of `type`.
  Result<Id> FindFile(FileType type, const std::string& prefix);
  Result<std::pair<Id, Snapshot>> FindSnapshot(const std::string& name);

  Result<std::vector<KeyListing>> ListKeys();
  /// Adds a key for `password` that unlocks the same master key.
  Result<Id> AddKey(const std::string& password, KdfParams kdf = {});
  Status RemoveKey(const Id& id);

 private:
  Repository(BackendPtr backend) : backend_(std::move(backend)) {}
  Result<Id> WriteKey(const std::string& password, KdfParams kdf);

  BackendPtr backend_;
  RepoConfig config_;
  Key key_;
  Id key_id_;
  Compression compression_ = Compression::kAuto;
  MasterIndex index_;
  std::vector<Id> index_files_;
};

/// The object name restic users recognise: "data/ab/abcd...", "index/...".
std::string ObjectName(FileType type, const Id& id);

}  // namespace mx::repo
