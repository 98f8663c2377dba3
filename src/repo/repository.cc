#include "repo/repository.h"

#include "common/host.h"
#include "repo/pack.h"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

namespace mx::repo {

const char* FileTypeName(FileType t) {
  switch (t) {
    case FileType::kConfig: return "config";
    case FileType::kKey: return "keys";
    case FileType::kLock: return "locks";
    case FileType::kSnapshot: return "snapshots";
    case FileType::kIndex: return "index";
    case FileType::kPack: return "data";
  }
  return "?";
}

std::string ObjectName(FileType type, const Id& id) {
  std::string hex = id.Hex();
  if (type == FileType::kPack) return "data/" + hex.substr(0, 2) + "/" + hex;
  if (type == FileType::kConfig) return "config";
  return std::string(FileTypeName(type)) + "/" + hex;
}

namespace {

std::string MasterKeyJson(const Key& k) {
  nlohmann::json j = {{"mac", {{"k", Base64Encode(k.mac_k, 16)}, {"r", Base64Encode(k.mac_r, 16)}}},
                      {"encrypt", Base64Encode(k.encrypt, 32)}};
  return j.dump();
}

Result<Key> ParseMasterKey(const Bytes& data, const std::string& object) {
  nlohmann::json j = nlohmann::json::parse(data.begin(), data.end(), nullptr, false);
  auto bad = Error(Code::kBadFormat, "invalid master key", object, "not the expected JSON");
  if (j.is_discarded() || !j.is_object() || !j.contains("mac") || !j["mac"].is_object())
    return bad;
  auto field = [&](const nlohmann::json& o, const char* k) -> std::optional<Bytes> {
    if (!o.contains(k) || !o[k].is_string()) return std::nullopt;
    return Base64Decode(o[k].get<std::string>());
  };
  auto mk = field(j["mac"], "k"), mr = field(j["mac"], "r"), enc = field(j, "encrypt");
  if (!mk || !mr || !enc || mk->size() != 16 || mr->size() != 16 || enc->size() != 32) return bad;
  Key key;
  std::copy(mk->begin(), mk->end(), key.mac_k);
  std::copy(mr->begin(), mr->end(), key.mac_r);
  std::copy(enc->begin(), enc->end(), key.encrypt);
  return key;
}

}  // namespace

Result<Id> Repository::WriteKey(const std::string& password, KdfParams kdf) {
  KeyFile kf;
  kf.created = FormatRfc3339(Now());
  kf.username = Username();
  kf.hostname = Hostname();
  kf.n = kdf.n;
  kf.r = kdf.r;
  kf.p = kdf.p;
  kf.salt = RandomBytes(64);
  Key user = MX_TRY(DeriveKey(password, kf.salt, kf.n, kf.r, kf.p));
  std::string mk = MasterKeyJson(key_);
  Seal(user, reinterpret_cast<const uint8_t*>(mk.data()), mk.size(), &kf.data);
  std::string text = SerializeKeyFile(kf);
  Id id = Id::Hash(reinterpret_cast<const uint8_t*>(text.data()), text.size());
  MX_CHECK(backend_->Save(Handle{FileType::kKey, id.Hex()},
                          reinterpret_cast<const uint8_t*>(text.data()), text.size()));
  return id;
}

Result<std::unique_ptr<Repository>> Repository::Init(BackendPtr backend, const std::string& password,
                                                     int version, KdfParams kdf) {
  if (version != 1 && version != 2)
    return Error(Code::kUsage, "cannot create repository", backend->Location(),
                 "repository version " + std::to_string(version) + " is not 1 or 2");
  MX_CHECK(backend->Create());
  std::unique_ptr<Repository> repo(new Repository(backend));
  repo->key_ = Key::Random();
  repo->config_.version = version;
  repo->config_.id = ToHex(RandomBytes(32));
  repo->config_.chunker_polynomial = RandomPolynomial();
  // Key first, then config: a repository without config is not a repository
  // yet, so a crash in between leaves nothing that looks usable.
  repo->key_id_ = MX_TRY(repo->WriteKey(password, kdf));
  std::string cfg = SerializeConfig(repo->config_);
  Bytes sealed;
  Seal(repo->key_, reinterpret_cast<const uint8_t*>(cfg.data()), cfg.size(), &sealed);
  MX_CHECK(backend->Save(Handle{FileType::kConfig, ""}, sealed.data(), sealed.size()));
  return repo;
}

Result<std::unique_ptr<Repository>> Repository::Open(BackendPtr backend, const std::string& password) {
  auto cfg_raw = backend->Load(Handle{FileType::kConfig, ""}, 0, 0);
  if (!cfg_raw.ok()) {
    if (cfg_raw.error().code() == Code::kNotFound)
      return Error(Code::kRepoNotFound, "cannot open repository", backend->Location(),
                   "there is no config file");
    return std::move(cfg_raw).error();
  }
  std::unique_ptr<Repository> repo(new Repository(backend));
  std::vector<FileInfo> keys;
  MX_CHECK(backend->List(FileType::kKey, [&](const FileInfo& fi) {
    keys.push_back(fi);
    return Ok();
  }));
  if (keys.empty())
    return Error(Code::kWrongPassword, "cannot open repository", backend->Location(),
                 "the repository has no key files");
  std::string last_problem;
  for (const FileInfo& fi : keys) {
    Handle h{FileType::kKey, fi.name};
    auto raw = backend->Load(h, 0, 0);
    if (!raw.ok()) { last_problem = raw.error().Message(); continue; }
    if (Id::Hash(raw->data(), raw->size()).Hex() != fi.name) {
      last_problem = "key file keys/" + fi.name + " is damaged (its SHA-256 does not match its name)";
      continue;
    }
    auto kf = ParseKeyFile(*raw, "keys/" + fi.name);
    if (!kf.ok()) { last_problem = kf.error().Message(); continue; }
    auto user = DeriveKey(password, kf->salt, kf->n, kf->r, kf->p);
    if (!user.ok()) { last_problem = user.error().Message(); continue; }
    if (!Verify(*user, kf->data.data(), kf->data.size())) continue;  // another password's key
    auto plain = Unseal(*user, kf->data.data(), kf->data.size(), "keys/" + fi.name);
    if (!plain.ok()) continue;
    auto mk = ParseMasterKey(*plain, "keys/" + fi.name);
    if (!mk.ok()) { last_problem = mk.error().Message(); continue; }
    repo->key_ = *mk;
    repo->key_id_ = *Id::FromHex(fi.name);
    auto cfg_plain = Unseal(repo->key_, cfg_raw->data(), cfg_raw->size(), "config");
    if (!cfg_plain.ok()) return std::move(cfg_plain).error();
    repo->config_ = MX_TRY(ParseConfig(*cfg_plain));
    if (repo->config_.version != 1 && repo->config_.version != 2)
      return Error(Code::kUnsupported, "cannot open repository", backend->Location(),
                   "repository version " + std::to_string(repo->config_.version) +
                       " (this mxvault reads versions 1 and 2)");
    return repo;
  }
  std::string cause = "the password opens none of the " + std::to_string(keys.size()) + " key files";
  if (!last_problem.empty()) cause += " (also: " + last_problem + ")";
  return Error(Code::kWrongPassword, "cannot open repository", backend->Location(), cause);
}

Result<Bytes> Repository::LoadFile(FileType type, const Id& id) {
  std::string object = ObjectName(type, id);
  Bytes raw = MX_TRY(backend_->Load(Handle{type, id.Hex()}, 0, 0));
  if (Id::Hash(raw.data(), raw.size()) != id)
    return Error(Code::kCorrupt, "cannot load", object,
                 "the SHA-256 of its content does not match its name (the file is damaged)");
  Bytes plain = MX_TRY(Unseal(key_, raw.data(), raw.size(), object));
  if (plain.empty()) return Error(Code::kBadFormat, "cannot load", object, "file is empty");
  if (plain[0] == '{' || plain[0] == '[') return plain;
  if (plain[0] == 2 && config_.version >= 2)
    return Decompress(plain.data() + 1, plain.size() - 1, 0, object);
  return Error(Code::kBadFormat, "cannot load", object,
               "unknown encoding byte " + std::to_string(plain[0]));
}

Result<Id> Repository::SaveFile(FileType type, const std::string& plaintext) {
  Bytes sealed;
  const auto* p = reinterpret_cast<const uint8_t*>(plaintext.data());
  if (config_.version >= 2) {
    Bytes buf;
    Compress(p, plaintext.size(), ZstdLevel(Compression::kAuto), &buf);
    buf.insert(buf.begin(), 2);
    Seal(key_, buf.data(), buf.size(), &sealed);
  } else {
    Seal(key_, p, plaintext.size(), &sealed);
  }
  Id id = Id::Hash(sealed.data(), sealed.size());
  MX_CHECK(backend_->Save(Handle{type, id.Hex()}, sealed.data(), sealed.size()));
  return id;
}

Status Repository::LoadIndex() {
  std::vector<Id> ids = MX_TRY(ListIds(FileType::kIndex));
  std::sort(ids.begin(), ids.end());
  index_files_ = ids;
  std::atomic<size_t> next{0};
  std::mutex mu;
  std::optional<Error> first_error;
  auto work = [&] {
    for (;;) {
      size_t i = next++;
      if (i >= ids.size()) return;
      auto raw = LoadFile(FileType::kIndex, ids[i]);
      Result<IndexFile> idx = raw.ok() ? ParseIndex(*raw, ObjectName(FileType::kIndex, ids[i]))
                                       : Result<IndexFile>(std::move(raw).error());
      if (!idx.ok()) {
        std::lock_guard<std::mutex> l(mu);
        if (!first_error) first_error = idx.error();
        continue;
      }
      for (const IndexPack& p : idx->packs) index_.AddPack(p.id, p.blobs);
    }
  };
  unsigned n = std::min<unsigned>(std::max(2u, std::thread::hardware_concurrency()), 8);
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < n; ++t) threads.emplace_back(work);
  for (auto& t : threads) t.join();
  if (first_error) return *first_error;
  return Ok();
}

Result<Bytes> Repository::LoadBlob(BlobType type, const Id& id) {
  Bytes out;
  MX_CHECK(LoadBlobInto(type, id, &out));
  return out;
}

Status Repository::LoadBlobInto(BlobType type, const Id& id, Bytes* out) {
  auto loc = index_.Lookup(type, id);
  std::string object = std::string(BlobTypeName(type)) + " blob " + id.Hex();
  if (!loc)
    return Error(Code::kNotFound, "cannot load", object, "no index lists it");
  thread_local Bytes raw, plain;
  Handle h{FileType::kPack, loc->pack.Hex()};
  MX_CHECK(backend_->LoadInto(h, loc->offset, loc->length, &raw));
  return OpenBlob(key_, raw.data(), raw.size(), loc->uncompressed_length, id,
                  object + " in " + ObjectName(FileType::kPack, loc->pack), &plain, out);
}

Result<Tree> Repository::LoadTree(const Id& id) {
  Bytes data = MX_TRY(LoadBlob(BlobType::kTree, id));
  return ParseTree(data, "tree " + id.Hex());
}

Result<std::vector<Id>> Repository::ListIds(FileType type) {
  std::vector<Id> ids;
  MX_CHECK(backend_->List(type, [&](const FileInfo& fi) {
    ids.push_back(*Id::FromHex(fi.name));  // backends list valid names only
    return Ok();
  }));
  return ids;
}

Result<std::vector<std::pair<Id, Snapshot>>> Repository::ListSnapshots() {
  std::vector<Id> ids = MX_TRY(ListIds(FileType::kSnapshot));
  std::vector<std::pair<Id, Snapshot>> out;
  for (const Id& id : ids) {
    Bytes raw = MX_TRY(LoadFile(FileType::kSnapshot, id));
    Snapshot s = MX_TRY(ParseSnapshot(raw, ObjectName(FileType::kSnapshot, id)));
    out.emplace_back(id, std::move(s));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.second.time != b.second.time ? a.second.time < b.second.time : a.first < b.first;
  });
  return out;
}

Result<Id> Repository::FindFile(FileType type, const std::string& prefix) {
  if (auto full = Id::FromHex(prefix)) return *full;
  std::vector<Id> matches;
  MX_CHECK(backend_->List(type, [&](const FileInfo& fi) {
    if (fi.name.compare(0, prefix.size(), prefix) == 0) matches.push_back(*Id::FromHex(fi.name));
    return Ok();
  }));
  std::string what = std::string("cannot find ") + FileTypeName(type);
  if (prefix.empty() || matches.empty())
    return Error(Code::kNotFound, what, prefix, "no file's id starts with it");
  if (matches.size() > 1)
    return Error(Code::kAmbiguous, what, prefix,
                 std::to_string(matches.size()) + " ids start with it (" + matches[0].Short() +
                     ", " + matches[1].Short() + ", ...)");
  return matches[0];
}

Result<std::pair<Id, Snapshot>> Repository::FindSnapshot(const std::string& name) {
  if (name == "latest") {
    auto all = MX_TRY(ListSnapshots());
    if (all.empty())
      return Error(Code::kNotFound, "cannot find snapshot", "latest", "the repository has no snapshots");
    return all.back();
  }
  Id id = MX_TRY(FindFile(FileType::kSnapshot, name));
  Bytes raw = MX_TRY(LoadFile(FileType::kSnapshot, id));
  Snapshot s = MX_TRY(ParseSnapshot(raw, ObjectName(FileType::kSnapshot, id)));
  return std::make_pair(id, std::move(s));
}

Result<std::vector<KeyListing>> Repository::ListKeys() {
  std::vector<KeyListing> out;
  MX_CHECK(backend_->List(FileType::kKey, [&](const FileInfo& fi) -> Status {
    Bytes raw = MX_TRY(backend_->Load(Handle{FileType::kKey, fi.name}, 0, 0));
    KeyFile kf = MX_TRY(ParseKeyFile(raw, "keys/" + fi.name));
    out.push_back(KeyListing{*Id::FromHex(fi.name), std::move(kf)});
    return Ok();
  }));
  return out;
}

Result<Id> Repository::AddKey(const std::string& password, KdfParams kdf) {
  return WriteKey(password, kdf);
}

Status Repository::RemoveKey(const Id& id) {
  if (id == key_id_)
    return Error(Code::kKeyInUse, "cannot remove key", id.Short(),
                 "this command opened the repository with it");
  return backend_->Remove(Handle{FileType::kKey, id.Hex()});
}

}  // namespace mx::repo
