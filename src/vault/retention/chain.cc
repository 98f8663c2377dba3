#include "vault/retention/chain.h"

#include <map>

#include "vault/restore/store_restore.h"

namespace mx::vault {

Result<StoreChains> StoreChains::Load(repo::Repository& repo, const std::vector<SnapshotEntry>& all) {
  StoreChains c;
  c.needs_.resize(all.size());
  c.broken_.resize(all.size());
  c.types_.resize(all.size());
  std::vector<std::optional<StoreBackupInfo>> info(all.size());
  // (log chain, database identity, session) -> entry: the same key restore
  // follows from a backup to its base.
  std::map<std::tuple<std::string, std::string, std::string>, size_t> by_session;
  for (size_t i = 0; i < all.size(); ++i) {
    if (!IsStoreSnapshot(all[i].snap)) continue;
    auto r = LoadStoreBackupInfo(repo, all[i].id, all[i].snap);
    if (!r.ok()) {
      c.broken_[i] = "its manifest cannot be read: " + r.error().Message();
      continue;
    }
    info[i] = std::move(*r);
    c.types_[i] = info[i]->type;
    by_session.emplace(std::make_tuple(info[i]->log_chain, info[i]->database_identity, info[i]->session), i);
  }
  for (size_t i = 0; i < all.size(); ++i) {
    if (!info[i]) continue;
    size_t cur = i;
    std::vector<size_t> chain;
    while (info[cur] && (info[cur]->type == "incremental" || info[cur]->type == "differential")) {
      const auto& b = *info[cur];
      auto it = by_session.find(std::make_tuple(b.log_chain, b.database_identity, b.base_session));
      if (b.base_session.empty() || it == by_session.end()) {
        c.broken_[i] = "the " + b.type + " " + all[cur].id.Short() + " builds on backup session " +
                       (b.base_session.empty() ? "(none)" : b.base_session) + ", which is not in the repository";
        break;
      }
      if (it->second == i || chain.size() > all.size()) {
        c.broken_[i] = "its chain of bases loops";
        break;
      }
      chain.insert(chain.begin(), it->second);
      cur = it->second;
    }
    c.needs_[i] = std::move(chain);
  }
  return c;
}

}  // namespace mx::vault
