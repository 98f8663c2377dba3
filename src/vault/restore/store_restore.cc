#include "vault/restore/store_restore.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "common/crc32c.h"
#include "common/fs.h"
#include "vault/restore/restorer.h"

namespace mx::vault {
using nlohmann::json;
using repo::Id;

namespace {

struct Backup {
  Id id;
  repo::Snapshot snap;
  json m;
  std::string database() const { return m.value("database", ""); }
  std::string type() const { return m.value("type", ""); }
  std::string session() const { return m.value("session", ""); }
  uint64_t sequence() const { return m.value("sequence", uint64_t{0}); }
};

bool HasTag(const repo::Snapshot& s, const std::string& t) {
  return std::find(s.tags.begin(), s.tags.end(), t) != s.tags.end();
}

Result<json> LoadManifest(repo::Repository& repo, const Id& sid, const repo::Snapshot& snap) {
  std::string what = "snapshot " + sid.Short() + " is not a store-level backup";
  repo::Tree root = MX_TRY(repo.LoadTree(snap.tree));
  if (root.nodes.size() != 1 || root.nodes[0].type != "dir" || !root.nodes[0].subtree)
    return Error(Code::kBadFormat, what, sid.Short(), "its root does not hold exactly one database directory", "");
  repo::Tree db = MX_TRY(repo.LoadTree(*root.nodes[0].subtree));
  for (const auto& n : db.nodes) {
    if (n.name != "backup.json") continue;
    std::string text;
    for (const auto& c : n.content) {
      Bytes b = MX_TRY(repo.LoadBlob(repo::BlobType::kData, c));
      text.append(b.begin(), b.end());
    }
    try {
      json m = json::parse(text);
      if (m.value("kind", "") != "mxstore-database")
        return Error(Code::kBadFormat, what, sid.Short(), "backup.json is not a store manifest", "");
      return m;
    } catch (const std::exception& e) {
      return Error(Code::kBadFormat, "cannot parse the manifest of snapshot " + sid.Short(), "backup.json", e.what(), "");
    }
  }
  return Error(Code::kBadFormat, what, sid.Short(), "it has no backup.json", "");
}

}  // namespace

bool IsStoreSnapshot(const repo::Snapshot& snap) { return HasTag(snap, "mxstore"); }

Result<StoreBackupInfo> LoadStoreBackupInfo(repo::Repository& repo, const Id& id, const repo::Snapshot& snap) {
  json m = MX_TRY(LoadManifest(repo, id, snap));
  StoreBackupInfo info;
  info.type = m.value("type", "");
  info.session = m.value("session", "");
  json base = m.value("base", json());
  if (base.is_object()) info.base_session = base.value("session", "");
  info.log_chain = m.value("log_chain", "");
  info.database_identity = m.value("database_identity", "");
  info.database = m.value("database", "");
  return info;
}

Result<StoreRestoreSummary> RestoreStoreChain(repo::Repository& repo, const Id& id, const repo::Snapshot& snap,
                                              const std::string& target) {
  auto t0 = std::chrono::steady_clock::now();
  Backup top{id, snap, MX_TRY(LoadManifest(repo, id, snap))};
  std::string chain_tag = "chain:" + top.m.value("log_chain", "");
  std::string identity = top.m.value("database_identity", "");

  // 1. The chain: follow each backup's base (by session) back to the full.
  std::vector<Backup> chain{top};
  std::vector<Backup> candidates;
  bool loaded = false;
  while (chain.front().type() == "incremental" || chain.front().type() == "differential") {
    const Backup& cur = chain.front();
    json base = cur.m.value("base", json());
    if (base.is_null())
      return Error(Code::kBadFormat, "snapshot " + cur.id.Short() + " names no base backup", cur.type(), "", "");
    if (!loaded) {
      auto all = MX_TRY(repo.ListSnapshots());
      for (auto& [sid, s] : all) {
        if (!IsStoreSnapshot(s) || !HasTag(s, chain_tag)) continue;
        auto m = LoadManifest(repo, sid, s);
        if (m.ok() && m->value("database_identity", "") == identity) candidates.push_back({sid, s, *m});
      }
      loaded = true;
    }
    std::string want = base.value("session", "");
    auto it = std::find_if(candidates.begin(), candidates.end(), [&](const Backup& b) { return b.session() == want; });
    if (it == candidates.end())
      return Error(Code::kMissingLogs, "cannot restore snapshot " + top.id.Short(), cur.id.Short(),
                   "it builds on backup session " + want + " (" + base.value("time", "") + ", up to log " +
                       std::to_string(base.value("log_number", 0ull)) + "), which is not in the repository",
                   "restore an older snapshot whose chain is complete, or a full backup");
    chain.insert(chain.begin(), *it);
  }
  if (chain.size() > 1 && chain.front().type() != "full")
    return Error(Code::kBadFormat, "the chain of snapshot " + top.id.Short() + " does not start with a full backup",
                 chain.front().id.Short(), "it starts with a " + chain.front().type() + " backup", "");

  // 2. One database, and log sequences without a gap.
  uint64_t covered = chain.front().sequence();
  uint64_t prev_log = chain.front().m.value("newest_log", 0ull);
  for (size_t i = 1; i < chain.size(); ++i) {
    const Backup& b = chain[i];
    if (b.m.value("database_identity", "") != identity)
      return Error(Code::kMissingLogs, "the chain mixes two databases", b.id.Short(),
                   "identity " + b.m.value("database_identity", "") + " after " + identity, "");
    std::vector<std::tuple<uint64_t, uint64_t, uint64_t>> logs;  // number, first, last
    for (const auto& f : b.m["files"])
      if (f.value("kind", "") == "log" && f.value("last_seq", 0ull))
        logs.emplace_back(f.value("log_number", 0ull), f.value("first_seq", 0ull), f.value("last_seq", 0ull));
    std::sort(logs.begin(), logs.end());
    for (const auto& [number, first, last] : logs) {
      if (first > covered + 1)
        return Error(Code::kMissingLogs, "cannot restore snapshot " + top.id.Short(), b.id.Short(),
                     "logs after log " + std::to_string(prev_log) + " and before log " + std::to_string(number) +
                         " are missing: sequences " + std::to_string(covered + 1) + ".." + std::to_string(first - 1),
                     "find the snapshot that holds them, or restore from a full backup taken after the gap");
      covered = std::max(covered, last);
      prev_log = number;
    }
    covered = std::max(covered, b.sequence());
  }

  // 3. Write: the full's files, then each later backup's logs over them.
  std::error_code ec;
  if (std::filesystem::exists(target + "/rocksdb", ec) && !std::filesystem::is_empty(target + "/rocksdb", ec))
    return Error(Code::kIo, "cannot restore the database", target + "/rocksdb", "it exists and is not empty",
                 "choose a new or empty target directory");
  MX_CHECK(MakeDirs(target + "/rocksdb", 0700));
  std::map<std::string, std::pair<uint32_t, uint64_t>> expect;  // name → (crc, size) of its newest copy
  StoreRestoreSummary sum;
  for (size_t i = 0; i < chain.size(); ++i) {
    const Backup& b = chain[i];
    std::string dest = i == 0 ? target + "/rocksdb" : target + "/.restore-stage-" + std::to_string(i);
    RestoreOptions ro;
    ro.target = dest;
    ro.subpath = b.database() + "/rocksdb";
    RestoreProgress rp;
    auto r = MX_TRY(Restore(repo, b.snap, ro, &rp));
    if (!r.errors.empty()) return r.errors.front().Wrap("cannot restore snapshot " + b.id.Short(), target);
    if (i > 0) {
      for (const auto& e : std::filesystem::directory_iterator(dest)) {
        std::string name = e.path().filename().string();
        if (rename(e.path().c_str(), (target + "/rocksdb/" + name).c_str()) != 0)
          return ErrnoError("cannot move a restored log into place", target + "/rocksdb/" + name, errno);
      }
      std::filesystem::remove_all(dest, ec);
    }
    for (const auto& f : b.m["files"]) {
      unsigned crc = 0;
      std::sscanf(f.value("crc32c", "0").c_str(), "%x", &crc);
      expect[f.value("name", "")] = {crc, f.value("size", 0ull)};
    }
    sum.chain.push_back(b.id.Short());
  }
  for (const auto& [name, want] : expect) {
    std::string path = target + "/rocksdb/" + name;
    uint64_t size = 0;
    uint32_t crc = MX_TRY(FileCrc32c(path, UINT64_MAX, &size));
    if (crc != want.first || size != want.second) {
      char a[9], b[9];
      std::snprintf(a, sizeof(a), "%08x", crc);
      std::snprintf(b, sizeof(b), "%08x", want.first);
      return Error(Code::kChecksumMismatch, "a restored file does not match its backup", path,
                   "CRC-32C " + std::string(a) + " (" + std::to_string(size) + " bytes), the manifest says " + b + " (" +
                       std::to_string(want.second) + " bytes)",
                   "run `mxvault check --read-data`; the repository may be damaged");
    }
    sum.files += 1;
    sum.bytes += size;
  }
  MX_CHECK(SyncDir(target + "/rocksdb"));

  // 4. The restore manifest for `mxstore db recover`.
  json rm = {{"format", 1},
             {"database", top.database()},
             {"database_identity", identity},
             {"log_chain", top.m.value("log_chain", "")},
             {"store_identity", top.m.value("store_identity", "")},
             {"sequence", covered},
             {"newest_log", top.m.value("newest_log", 0ull)},
             {"restored", FormatRfc3339(Now())}};
  json chain_json = json::array();
  for (const auto& b : chain)
    chain_json.push_back({{"snapshot", b.id.Hex()}, {"type", b.type()}, {"session", b.session()},
                          {"sequence", b.sequence()}, {"first_log", b.m.value("first_log", 0ull)},
                          {"newest_log", b.m.value("newest_log", 0ull)}, {"time", b.m.value("time", "")}});
  rm["chain"] = chain_json;
  MX_CHECK(WriteFileAtomic(target + "/restore-manifest.json", rm.dump(2) + "\n"));
  sum.sequence = covered;
  sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return sum;
}

}  // namespace mx::vault
