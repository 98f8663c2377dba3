#include <unistd.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "app.h"
#include "common/fs.h"

namespace mx::app {
namespace {
void Out(const Bytes& b) {
  (void)WriteFull(1, b.data(), b.size(), -1, "stdout");
  if (!b.empty() && b.back() != '\n' && IsTerminal(1)) printf("\n");
}
void OutStr(const std::string& s) { Out(Bytes(s.begin(), s.end())); }
}  // namespace

void RegisterCat(CLI::App& app, Globals& g, Command* run) {
  auto* cmd = app.add_subcommand("cat", "print a repository object");
  static std::string type, id;
  cmd->add_option("type", type, "config, masterkey, index, snapshot, key, pack, blob or tree")
      ->required()
      ->check(CLI::IsMember({"config", "masterkey", "index", "snapshot", "key", "pack", "blob", "tree"}));
  cmd->add_option("id", id, "object id (or a unique prefix)");
  cmd->callback([&g, run] {
    *run = [&g]() -> Status {
      bool blobs = type == "blob" || type == "tree";
      auto repo = MX_TRY(OpenRepository(g, blobs));
      if (type == "config") {
        OutStr(repo::SerializeConfig(repo->config()) + "\n");
        return Ok();
      }
      if (type == "masterkey") {
        const repo::Key& k = repo->key();
        nlohmann::json j = {{"mac", {{"k", Base64Encode(k.mac_k, 16)}, {"r", Base64Encode(k.mac_r, 16)}}},
                            {"encrypt", Base64Encode(k.encrypt, 32)}};
        OutStr(j.dump(2) + "\n");
        return Ok();
      }
      if (id.empty()) return Error(Code::kUsage, "missing id", type, "cat " + type + " needs an ID");
      if (type == "index" || type == "snapshot") {
        repo::FileType t = type == "index" ? repo::FileType::kIndex : repo::FileType::kSnapshot;
        repo::Id fid = MX_TRY(repo->FindFile(t, id));
        Out(MX_TRY(repo->LoadFile(t, fid)));
        return Ok();
      }
      if (type == "key") {
        repo::Id fid = MX_TRY(repo->FindFile(repo::FileType::kKey, id));
        Out(MX_TRY(repo->backend().Load(repo::Handle{repo::FileType::kKey, fid.Hex()}, 0, 0)));
        return Ok();
      }
      if (type == "pack") {
        repo::Id fid = MX_TRY(repo->FindFile(repo::FileType::kPack, id));
        Out(MX_TRY(repo->backend().Load(repo::Handle{repo::FileType::kPack, fid.Hex()}, 0, 0)));
        return Ok();
      }
      auto bid = repo::Id::FromHex(id);
      if (!bid) return Error(Code::kUsage, "invalid blob id", id, "give all 64 hex digits");
      if (type == "tree") {
        Out(MX_TRY(repo->LoadBlob(repo::BlobType::kTree, *bid)));
        return Ok();
      }
      auto data = repo->LoadBlob(repo::BlobType::kData, *bid);
      if (!data.ok() && data.error().code() == Code::kNotFound)
        data = repo->LoadBlob(repo::BlobType::kTree, *bid);
      if (!data.ok()) return std::move(data).error();
      Out(*data);
      return Ok();
    };
  });
}

}  // namespace mx::app
