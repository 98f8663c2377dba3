// Store::RestoreItems: single messages, folders or mailboxes copied from a
// recovery database back into live mailboxes (the Exchange administrator's
// recovery-database restore). Reads the source with the Database API and
// writes each message with Database::Append, so every copy is one durable
// batch and live IMAP sessions see it on their next refresh.
#include "store/db/item_restore.h"

#include <algorithm>
#include <map>
#include <set>

#include "store/db/store.h"
#include "store/mime/mime_tree.h"

namespace mx::store {
namespace {

std::string Lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  return s;
}

// The unfolded value of the first header field `name` (raw, not decoded).
std::string HeaderValue(std::string_view msg, std::string_view name) {
  std::string lname = Lower(std::string(name));
  for (const auto& [n, v] : ParseHeaderFields(msg.substr(0, HeaderBlockEnd(msg))))
    if (Lower(n) == lname) return v;
  return "";
}

bool UnderFolder(const std::string& name, const std::string& folder) {
  return folder.empty() || name == folder || name.rfind(folder + "/", 0) == 0;
}

}  // namespace

Result<ItemRestoreReport> Store::RestoreItems(const ItemRestoreOptions& o) {
  std::string mailbox = NormalizeAddress(o.mailbox);
  std::string target = o.to_mailbox.empty() ? mailbox : NormalizeAddress(o.to_mailbox);
  const std::string what = "cannot restore items of " + mailbox;
  MX_CHECK(CheckKnown(o.from_database, what));
  auto src = Get(o.from_database);
  if (!src)
    return Error(Code::kDatabaseNotMounted, what, o.from_database, "the recovery database is dismounted",
                 "mount it with `mxstore db mount " + o.from_database + "`");
  auto [live_name, live] = MX_TRY(MailboxDatabase(target, what));
  if (live_name == o.from_database)
    return Error(Code::kUsage, what, o.from_database, "the source is the target mailbox's own database",
                 "restore from a recovery database (`mxstore db attach DIR --as NAME --recovery`)");

  auto folders = MX_TRY(src->ListFolders(mailbox));
  if (!o.filter.folder.empty() &&
      std::none_of(folders.begin(), folders.end(), [&](const FolderInfo& f) { return f.name == o.filter.folder; }))
    return Error(Code::kFolderNotFound, what, mailbox + "/" + o.filter.folder,
                 "the recovery database's copy of the mailbox has no such folder",
                 "list its folders with `mxstore mailbox export --database " + o.from_database + "` or drop --folder");
  std::set<uint32_t> uids(o.filter.uids.begin(), o.filter.uids.end());
  std::string from = Lower(o.filter.from), subject = Lower(o.filter.subject);

  ItemRestoreReport rep;
  auto live_folders = MX_TRY(live->ListFolders(target));
  std::set<std::string> have;
  for (const auto& f : live_folders) have.insert(f.name);
  // (body, date) of what each live folder holds, loaded once per folder.
  std::map<std::string, std::set<std::pair<BodyId, int64_t>>> present;

  for (const auto& f : folders) {
    if (!UnderFolder(f.name, o.filter.folder)) continue;
    std::string dest = o.into_folder.empty() ? f.name : o.into_folder + "/" + f.name;
    auto msgs = MX_TRY(src->ListMessages(mailbox, f.name));
    for (const auto& m : msgs) {
      if (!uids.empty() && !uids.count(m.uid)) continue;
      if (o.filter.since && m.internal_date < o.filter.since) continue;
      if (o.filter.before && m.internal_date >= o.filter.before) continue;
      std::string body = MX_TRY(src->ReadBody(m.body));
      std::string subj = HeaderValue(body, "Subject");
      if (!from.empty() && Lower(HeaderValue(body, "From")).find(from) == std::string::npos) continue;
      if (!subject.empty() && Lower(subj).find(subject) == std::string::npos) continue;
      RestoredItem item{dest, f.name, m.uid, 0, false, m.size, subj.substr(0, 200)};
      if (!have.count(dest)) {
        // The folder and every missing parent (no special use: the live
        // mailbox keeps its own special-use folders).
        for (size_t slash = 0;; slash = dest.find('/', slash + 1)) {
          std::string part = slash == std::string::npos ? dest : dest.substr(0, slash);
          if (!part.empty() && !have.count(part)) {
            if (!o.dry_run) (void)MX_TRY(live->CreateFolder(target, part, ""));
            have.insert(part);
            rep.folders_created.push_back(part);
          }
          if (slash == std::string::npos) break;
        }
      }
      auto it = present.find(dest);
      if (it == present.end()) {
        std::set<std::pair<BodyId, int64_t>> s;
        auto existing = live->ListMessages(target, dest);
        if (existing.ok())
          for (const auto& e : *existing) s.insert({e.body, e.internal_date});
        else if (existing.error().code() != Code::kFolderNotFound || !o.dry_run)
          return std::move(existing).error();
        it = present.emplace(dest, std::move(s)).first;
      }
      if (it->second.count({m.body, m.internal_date})) {
        item.already_there = true;
        ++rep.skipped;
      } else {
        if (!o.dry_run)
          item.uid = MX_TRY(live->Append(target, dest, body, m.flags, m.keywords, m.internal_date, m.internal_zone));
        it->second.insert({m.body, m.internal_date});
        ++rep.restored;
        rep.bytes += m.size;
      }
      rep.items.push_back(std::move(item));
    }
  }
  return rep;
}

nlohmann::json ToJson(const ItemRestoreOptions& o) {
  return {{"mailbox", o.mailbox},
          {"from_database", o.from_database},
          {"to_mailbox", o.to_mailbox},
          {"into_folder", o.into_folder},
          {"folder", o.filter.folder},
          {"uids", o.filter.uids},
          {"since", o.filter.since},
          {"before", o.filter.before},
          {"from", o.filter.from},
          {"subject", o.filter.subject},
          {"dry_run", o.dry_run}};
}

Result<ItemRestoreOptions> ItemRestoreOptionsFromJson(const nlohmann::json& j) {
  try {
    ItemRestoreOptions o;
    o.mailbox = j.at("mailbox").get<std::string>();
    o.from_database = j.at("from_database").get<std::string>();
    o.to_mailbox = j.value("to_mailbox", "");
    o.into_folder = j.value("into_folder", "");
    o.filter.folder = j.value("folder", "");
    o.filter.uids = j.value("uids", std::vector<uint32_t>{});
    o.filter.since = j.value("since", int64_t{0});
    o.filter.before = j.value("before", int64_t{0});
    o.filter.from = j.value("from", "");
    o.filter.subject = j.value("subject", "");
    o.dry_run = j.value("dry_run", false);
    return o;
  } catch (const std::exception& e) {
    return Error(Code::kUsage, "malformed item restore request", "admin command mailbox.restore", e.what(),
                 "use an mxstore CLI of the same version as the daemon");
  }
}

nlohmann::json ToJson(const ItemRestoreReport& r) {
  nlohmann::json items = nlohmann::json::array();
  for (const auto& i : r.items)
    items.push_back({{"folder", i.folder},
                     {"source_folder", i.source_folder},
                     {"source_uid", i.source_uid},
                     {"uid", i.uid},
                     {"already_there", i.already_there},
                     {"size", i.size},
                     {"subject", i.subject}});
  return {{"restored", r.restored}, {"skipped", r.skipped}, {"bytes", r.bytes},
          {"folders_created", r.folders_created}, {"items", items}};
}

}  // namespace mx::store
