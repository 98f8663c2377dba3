// Chain-aware retention for store-level backups. An incremental is useless
// without its full and every incremental between them; a differential without
// its full. StoreChains reads each store snapshot's manifest once and answers
// which snapshots a given one needs, so `forget` can keep them and refuse a
// removal that would leave a kept snapshot unrestorable.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "repo/repository.h"
#include "vault/retention/policy.h"

namespace mx::vault {

class StoreChains {
 public:
  /// Reads the manifests of the store snapshots among `all` (others are
  /// ignored). The repository's index must be loaded.
  static Result<StoreChains> Load(repo::Repository& repo, const std::vector<SnapshotEntry>& all);

  /// Indexes into `all` of the snapshots entry `i` needs, the full first.
  /// Empty for a full, a copy or a non-store snapshot.
  const std::vector<size_t>& Needs(size_t i) const { return needs_[i]; }
  /// Why entry `i`'s chain is incomplete ("" when it is complete).
  const std::string& Broken(size_t i) const { return broken_[i]; }
  /// The backup type of entry `i` ("" for a non-store snapshot).
  const std::string& Type(size_t i) const { return types_[i]; }

 private:
  std::vector<std::vector<size_t>> needs_;
  std::vector<std::string> broken_;
  std::vector<std::string> types_;
};

}  // namespace mx::vault
