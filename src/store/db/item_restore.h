// Item restore (issue 7): which messages of a recovery database go back
// into which live mailbox, and the report of what went. Store::RestoreItems
// (item_restore.cc) does the copying; the JSON forms here are what the admin
// socket carries and what `mxstore mailbox restore --json` prints.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace mx::store {

/// Which messages `Store::RestoreItems` copies (every condition must hold).
struct ItemFilter {
  std::string folder;              // this folder and its subfolders; "" = all
  std::vector<uint32_t> uids;      // these UIDs (in the source); empty = any
  int64_t since = 0;               // internal date at or after (Unix seconds); 0 = no bound
  int64_t before = 0;              // internal date before; 0 = no bound
  std::string from;                // substring of the From header, any case
  std::string subject;             // substring of the Subject header, any case
};

struct ItemRestoreOptions {
  std::string mailbox;             // in the recovery database
  std::string from_database;       // the recovery database
  std::string to_mailbox;          // live mailbox to copy into; "" = the same mailbox
  std::string into_folder;         // "" = the same folders; else under this folder
  ItemFilter filter;
  bool dry_run = false;
};

struct RestoredItem {
  std::string folder;              // where it went (live)
  std::string source_folder;
  uint32_t source_uid = 0;
  uint32_t uid = 0;                // its UID in the live folder (0 when skipped or a dry run)
  bool already_there = false;      // a message with the same bytes and date was there: not copied
  uint64_t size = 0;
  std::string subject;
};

struct ItemRestoreReport {
  uint64_t restored = 0, skipped = 0, bytes = 0;
  std::vector<std::string> folders_created;
  std::vector<RestoredItem> items;
};

nlohmann::json ToJson(const ItemRestoreOptions& o);
/// USAGE naming the field when a value has the wrong type.
Result<ItemRestoreOptions> ItemRestoreOptionsFromJson(const nlohmann::json& j);
nlohmann::json ToJson(const ItemRestoreReport& r);

}  // namespace mx::store
