#include "store/db/header.h"

#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "common/fs.h"

namespace mx::store {
namespace {

using nlohmann::json;

json BackupToJson(const std::optional<BackupRecord>& b) {
  if (!b) return nullptr;
  return {{"time", b->time}, {"log_number", b->log_number}, {"sequence", b->sequence}};
}

std::optional<BackupRecord> BackupFromJson(const json& j) {
  if (j.is_null()) return std::nullopt;
  BackupRecord b;
  b.time = j.value("time", "");
  b.log_number = j.value("log_number", uint64_t{0});
  b.sequence = j.value("sequence", uint64_t{0});
  return b;
}

}  // namespace

std::string DatabaseHeader::ToJson(int indent) const {
  json j = {
      {"format", format},
      {"name", name},
      {"identity", identity},
      {"created", created},
      {"state", state},
      {"clean_shutdown", clean_shutdown},
      {"last_mount_recovered", last_mount_recovered},
      {"circular_logging", circular_logging},
      {"log_chain", log_chain},
      {"chain_first_log", chain_first_log},
      {"log_range",
       {{"oldest_log", oldest_log}, {"oldest_seq", oldest_seq},
        {"newest_log", newest_log}, {"newest_seq", newest_seq}}},
      {"last_full_backup", BackupToJson(last_full)},
      {"last_incremental_backup", BackupToJson(last_incremental)},
      {"checksums", checksums},
  };
  return j.dump(indent);
}

Result<DatabaseHeader> DatabaseHeader::Load(const std::string& dir) {
  std::string path = dir + "/header.json";
  if (access(path.c_str(), F_OK) != 0)
    return Error(Code::kDatabaseNotFound, "no database header", path, "the file does not exist");
  Bytes raw = MX_TRY(ReadFile(path));
  try {
    json j = json::parse(raw.begin(), raw.end());
    DatabaseHeader h;
    h.format = j.at("format").get<int>();
    if (h.format != 1)
      return Error(Code::kUnsupported, "unknown database header format", path,
                   "format " + std::to_string(h.format));
    h.name = j.value("name", "");
    h.identity = j.at("identity").get<std::string>();
    h.created = j.value("created", "");
    h.state = j.value("state", "dismounted");
    h.clean_shutdown = j.value("clean_shutdown", true);
    h.last_mount_recovered = j.value("last_mount_recovered", false);
    h.circular_logging = j.value("circular_logging", false);
    h.log_chain = j.value("log_chain", "");
    h.chain_first_log = j.value("chain_first_log", uint64_t{0});
    if (j.contains("log_range")) {
      const auto& r = j["log_range"];
      h.oldest_log = r.value("oldest_log", uint64_t{0});
      h.oldest_seq = r.value("oldest_seq", uint64_t{0});
      h.newest_log = r.value("newest_log", uint64_t{0});
      h.newest_seq = r.value("newest_seq", uint64_t{0});
    }
    h.last_full = BackupFromJson(j.value("last_full_backup", json()));
    h.last_incremental = BackupFromJson(j.value("last_incremental_backup", json()));
    h.checksums = j.value("checksums", h.checksums);
    return h;
  } catch (const std::exception& e) {
    return Error(Code::kStoreCorrupt, "cannot parse the database header", path, e.what(),
                 "the header is damaged; restore the database directory from a backup");
  }
}

Status DatabaseHeader::Save(const std::string& dir) const {
  std::string path = dir + "/header.json";
  std::string tmp = path + ".tmp";
  std::string text = ToJson() + "\n";
  Fd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd.valid()) return ErrnoError("cannot write the database header", tmp, errno);
  MX_CHECK(WriteFull(fd.get(), reinterpret_cast<const uint8_t*>(text.data()), text.size(), -1, tmp));
  if (fsync(fd.get()) != 0) return ErrnoError("cannot sync the database header", tmp, errno);
  fd = Fd();
  if (rename(tmp.c_str(), path.c_str()) != 0)
    return ErrnoError("cannot replace the database header", path, errno);
  return SyncDir(dir);
}

}  // namespace mx::store
