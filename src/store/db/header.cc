#include "store/db/header.h"

#include <unistd.h>

#include "common/fs.h"

namespace mx::store {
namespace {

using nlohmann::json;

json BackupToJson(const std::optional<BackupRecord>& b) {
  if (!b) return nullptr;
  return {{"time", b->time}, {"log_number", b->log_number}, {"sequence", b->sequence},
          {"log_chain", b->log_chain}, {"session", b->session}};
}

std::optional<BackupRecord> BackupFromJson(const json& j) {
  if (j.is_null()) return std::nullopt;
  BackupRecord b;
  b.time = j.value("time", "");
  b.log_number = j.value("log_number", uint64_t{0});
  b.sequence = j.value("sequence", uint64_t{0});
  b.log_chain = j.value("log_chain", "");
  b.session = j.value("session", "");
  return b;
}

}  // namespace

json DatabaseHeader::ToJson() const {
  return {
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
      {"last_differential_backup", BackupToJson(last_differential)},
      {"last_copy_backup", BackupToJson(last_copy)},
      {"checksums", checksums},
  };
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
    h.last_differential = BackupFromJson(j.value("last_differential_backup", json()));
    h.last_copy = BackupFromJson(j.value("last_copy_backup", json()));
    h.checksums = j.value("checksums", h.checksums);
    return h;
  } catch (const std::exception& e) {
    return Error(Code::kStoreCorrupt, "cannot parse the database header", path, e.what(),
                 "the header is damaged; restore the database directory from a backup");
  }
}

Status DatabaseHeader::Save(const std::string& dir) const {
  return WriteFileAtomic(dir + "/header.json", ToJson().dump(2) + "\n");
}

}  // namespace mx::store
