#include "repo/check.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "repo/pack.h"

namespace mx::repo {

namespace {
Error Damaged(const std::string& object, const std::string& cause) {
  return Error(Code::kCorrupt, "damaged", object, cause);
}
Error Missing(const std::string& object, const std::string& cause) {
  return Error(Code::kNotFound, "missing", object, cause);
}

template <class F>
void Parallel(size_t n, F&& f) {
  std::atomic<size_t> next{0};
  unsigned threads = std::max(2u, std::thread::hardware_concurrency());
  std::vector<std::thread> ts;
  for (unsigned t = 0; t < threads; ++t)
    ts.emplace_back([&] {
      for (size_t i; (i = next++) < n;) f(i);
    });
  for (auto& t : ts) t.join();
}
}  // namespace

void VerifyPackData(const Key& key, const Id& pack, const Bytes& data,
                    const std::vector<IndexBlob>* expected, std::vector<Error>* errors) {
  std::string object = ObjectName(FileType::kPack, pack);
  if (Id::Hash(data.data(), data.size()) != pack) {
    errors->push_back(Damaged(object, "the SHA-256 of its content does not match its name"));
    return;
  }
  size_t need = 0;
  auto header = ParsePackHeader(key, data.data(), data.size(), data.size(), object, &need);
  if (!header.ok()) {
    errors->push_back(header.error());
    return;
  }
  if (expected) {
    auto key_of = [](const IndexBlob& b) { return std::tuple(b.offset, b.id, b.type, b.length, b.uncompressed_length); };
    std::vector<IndexBlob> a = *header, b = *expected;
    auto by_offset = [&](const IndexBlob& x, const IndexBlob& y) { return key_of(x) < key_of(y); };
    std::sort(a.begin(), a.end(), by_offset);
    std::sort(b.begin(), b.end(), by_offset);
    bool same = a.size() == b.size();
    for (size_t i = 0; same && i < a.size(); ++i) same = key_of(a[i]) == key_of(b[i]);
    if (!same)
      errors->push_back(Error(Code::kBadFormat, "index does not match", object,
                              "the pack header lists " + std::to_string(a.size()) +
                                  " blobs that differ from the index's " + std::to_string(b.size())));
  }
  Bytes scratch, content;
  for (const IndexBlob& b : *header) {
    std::string where = std::string(BlobTypeName(b.type)) + " blob " + b.id.Hex() + " in " + object;
    Status s = OpenBlob(key, data.data() + b.offset, b.length, b.uncompressed_length, b.id, where, &scratch, &content);
    if (!s.ok()) errors->push_back(s.error());
  }
}

Result<CheckReport> CheckRepository(Repository& repo, const CheckOptions& opts) {
  CheckReport report;
  auto progress = [&](const std::string& s) {
    if (opts.on_progress) opts.on_progress(s);
  };

  // 1. Index files: load each separately so every damaged one is named.
  progress("loading indexes");
  std::vector<Id> index_ids = MX_TRY(repo.ListIds(FileType::kIndex));
  std::map<Id, std::vector<IndexBlob>> packs_in_index;
  std::mutex mu;
  Parallel(index_ids.size(), [&](size_t i) {
    auto raw = repo.LoadFile(FileType::kIndex, index_ids[i]);
    Result<IndexFile> idx = raw.ok() ? ParseIndex(*raw, ObjectName(FileType::kIndex, index_ids[i]))
                                     : Result<IndexFile>(std::move(raw).error());
    std::lock_guard<std::mutex> l(mu);
    if (!idx.ok()) {
      report.errors.push_back(idx.error());
      return;
    }
    for (auto& p : idx->packs) {
      repo.index().AddPack(p.id, p.blobs);
      packs_in_index[p.id] = p.blobs;
    }
  });

  // Key files: each must match its name and parse (the one in use opened).
  MX_CHECK(repo.backend().List(FileType::kKey, [&](const FileInfo& fi) -> Status {
    std::string object = "keys/" + fi.name;
    auto raw = repo.backend().Load(Handle{FileType::kKey, fi.name}, 0, 0);
    if (!raw.ok()) {
      report.errors.push_back(raw.error());
    } else if (Id::Hash(raw->data(), raw->size()).Hex() != fi.name) {
      report.errors.push_back(Damaged(object, "the SHA-256 of its content does not match its name"));
    } else if (auto kf = ParseKeyFile(*raw, object); !kf.ok()) {
      report.errors.push_back(kf.error());
    }
    return Ok();
  }));

  // 2. Packs: every indexed pack must exist with the size its index implies.
  progress("checking packs");
  std::map<Id, uint64_t> packs_present;
  MX_CHECK(repo.backend().List(FileType::kPack, [&](const FileInfo& fi) {
    packs_present[*Id::FromHex(fi.name)] = fi.size;
    return Ok();
  }));
  report.packs = packs_present.size();
  for (const auto& [id, blobs] : packs_in_index) {
    auto it = packs_present.find(id);
    if (it == packs_present.end()) {
      report.errors.push_back(Missing(ObjectName(FileType::kPack, id), "an index lists it but it does not exist"));
      continue;
    }
    uint64_t expect = 4 + kCryptoOverhead;
    for (const IndexBlob& b : blobs)
      expect += b.length + (b.uncompressed_length ? kCompressedEntrySize : kPlainEntrySize);
    if (expect != it->second)
      report.errors.push_back(Damaged(ObjectName(FileType::kPack, id),
                                      "size " + std::to_string(it->second) + " bytes, the index implies " +
                                          std::to_string(expect)));
  }
  size_t orphans = 0;
  for (const auto& [id, size] : packs_present)
    if (!packs_in_index.count(id)) ++orphans;
  if (orphans)
    report.notes.push_back(std::to_string(orphans) +
                           " pack(s) are not listed in any index (left by an interrupted backup); "
                           "the next backup reuses them");

  // 3. Snapshots and the trees they reach.
  progress("checking snapshots and trees");
  std::vector<Id> snap_ids = MX_TRY(repo.ListIds(FileType::kSnapshot));
  std::vector<Id> roots;
  for (const Id& sid : snap_ids) {
    auto raw = repo.LoadFile(FileType::kSnapshot, sid);
    if (!raw.ok()) { report.errors.push_back(raw.error()); continue; }
    auto snap = ParseSnapshot(*raw, ObjectName(FileType::kSnapshot, sid));
    if (!snap.ok()) { report.errors.push_back(snap.error()); continue; }
    ++report.snapshots;
    roots.push_back(snap->tree);
  }
  std::unordered_set<Id, IdHash> seen_trees;
  std::vector<Id> frontier;
  for (const Id& r : roots)
    if (seen_trees.insert(r).second) frontier.push_back(r);
  while (!frontier.empty()) {
    std::vector<Id> next;
    std::vector<std::vector<Id>> found(frontier.size());
    std::vector<std::vector<Error>> errs(frontier.size());
    Parallel(frontier.size(), [&](size_t i) {
      const Id& tid = frontier[i];
      auto tree = repo.LoadTree(tid);
      if (!tree.ok()) { errs[i].push_back(tree.error()); return; }
      std::string tobj = "tree " + tid.Short();
      std::string prev;
      for (size_t k = 0; k < tree->nodes.size(); ++k) {
        const Node& n = tree->nodes[k];
        std::string why = UnsafeNameReason(n.name);
        if (!why.empty()) errs[i].push_back(Error(Code::kUnsafePath, "unsafe node", tobj, why));
        if (k && n.name <= prev)
          errs[i].push_back(Error(Code::kBadFormat, "invalid tree", tobj, "nodes are not sorted or not unique at '" + n.name + "'"));
        prev = n.name;
        static const char* kTypes[] = {"file", "dir", "symlink", "dev", "chardev", "fifo", "socket"};
        if (std::find(std::begin(kTypes), std::end(kTypes), n.type) == std::end(kTypes))
          errs[i].push_back(Error(Code::kBadFormat, "invalid tree", tobj, "node '" + n.name + "' has unknown type '" + n.type + "'"));
        if (n.type == "dir") {
          if (!n.subtree) errs[i].push_back(Error(Code::kBadFormat, "invalid tree", tobj, "directory '" + n.name + "' has no subtree"));
          else found[i].push_back(*n.subtree);
        } else if (n.type == "file") {
          uint64_t sum = 0;
          for (const Id& c : n.content) {
            auto loc = repo.index().Lookup(BlobType::kData, c);
            if (!loc) {
              errs[i].push_back(Missing("data blob " + c.Hex(), "file '" + n.name + "' in " + tobj + " needs it and no index lists it"));
              continue;
            }
            sum += loc->PlainSize();
          }
          if (sum != n.size && errs[i].empty())
            errs[i].push_back(Error(Code::kBadFormat, "invalid file", "'" + n.name + "' in " + tobj,
                                    "size " + std::to_string(n.size) + " but its blobs hold " + std::to_string(sum)));
        }
      }
    });
    for (size_t i = 0; i < frontier.size(); ++i) {
      for (auto& e : errs[i]) report.errors.push_back(std::move(e));
      for (const Id& s : found[i])
        if (seen_trees.insert(s).second) next.push_back(s);
    }
    report.trees += frontier.size();
    frontier.swap(next);
  }
  report.blobs = repo.index().BlobCount();

  // 4. Every byte, when asked.
  if (opts.read_data) {
    std::vector<Id> ids;
    for (const auto& [id, size] : packs_present) ids.push_back(id);
    std::atomic<size_t> done{0};
    std::atomic<uint64_t> bytes{0};
    Parallel(ids.size(), [&](size_t i) {
      std::vector<Error> errs;
      auto data = repo.backend().Load(Handle{FileType::kPack, ids[i].Hex()}, 0, 0);
      if (!data.ok()) {
        errs.push_back(data.error());
      } else {
        bytes += data->size();
        auto it = packs_in_index.find(ids[i]);
        VerifyPackData(repo.key(), ids[i], *data, it == packs_in_index.end() ? nullptr : &it->second, &errs);
      }
      size_t d = ++done;
      std::lock_guard<std::mutex> l(mu);
      for (auto& e : errs) report.errors.push_back(std::move(e));
      if (d % 16 == 0 || d == ids.size())
        progress("read " + std::to_string(d) + "/" + std::to_string(ids.size()) + " packs");
    });
    report.bytes_read = bytes;
  }
  return report;
}

}  // namespace mx::repo
