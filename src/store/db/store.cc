#include "store/db/store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utime.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <set>
#include <nlohmann/json.hpp>

#include "common/bytes.h"
#include "common/clock.h"
#include "common/fs.h"
#include "common/secure.h"
#include "common/log.h"
#include "store/db/password.h"

namespace mx::store {
namespace {

using nlohmann::json;

bool ValidDatabaseName(const std::string& n) {
  if (n.empty() || n.size() > 64) return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

std::string MaildirFlags(uint32_t flags) {
  std::string s;  // Maildir flag letters in ASCII order
  if (flags & kDraft) s += 'D';
  if (flags & kFlagged) s += 'F';
  if (flags & kAnswered) s += 'R';
  if (flags & kSeen) s += 'S';
  if (flags & kDeleted) s += 'T';
  return s;
}

/// A folder name as a relative path: '/' is the hierarchy; components that
/// could escape the target ("", ".", "..") or hold NUL are refused.
bool SafeFolderPath(const std::string& folder) {
  if (folder.empty() || folder.find('\0') != std::string::npos) return false;
  size_t start = 0;
  while (true) {
    size_t end = folder.find('/', start);
    std::string part = folder.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (part.empty() || part == "." || part == "..") return false;
    if (end == std::string::npos) return true;
    start = end + 1;
  }
}

}  // namespace

std::string Store::NormalizeAddress(std::string_view address) {
  std::string s(address);
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

Result<std::unique_ptr<Store>> Store::Open(const StoreOptions& options) {
  std::unique_ptr<Store> store(new Store(options));
  MX_CHECK(MakeDirs(options.data_dir + "/databases", 0700));
  {
    // The store's identity: random at first open, never changed.
    std::string id_path = options.data_dir + "/identity";
    if (access(id_path.c_str(), F_OK) != 0) MX_CHECK(WriteFileAtomic(id_path, RandomHex(16) + "\n"));
    Bytes id = MX_TRY(ReadFile(id_path));
    store->identity_.assign(id.begin(), id.end());
    while (!store->identity_.empty() && (store->identity_.back() == '\n' || store->identity_.back() == ' '))
      store->identity_.pop_back();
  }
  std::string path = options.data_dir + "/catalog.json";
  if (access(path.c_str(), F_OK) == 0) {
    Bytes raw = MX_TRY(ReadFile(path));
    try {
      json j = json::parse(raw.begin(), raw.end());
      const json dbs = j.value("databases", json::object());
      const json mbs = j.value("mailboxes", json::object());
      const json users = j.value("users", json::object());
      const json grants = j.value("grants", json::object());
      for (const auto& [folder, who] : grants.items())
        for (const auto& [user, access] : who.items()) store->grants_[folder][user] = access.get<std::string>();
      for (const auto& [k, v] : dbs.items()) store->database_mount_[k] = v.value("mount", true);
      for (const auto& [k, v] : mbs.items()) store->mailboxes_[k] = v.get<std::string>();
      for (const auto& [k, v] : users.items()) store->users_[k] = v.get<std::string>();
    } catch (const std::exception& e) {
      return Error(Code::kConfig, "cannot parse the store catalog", path, e.what(),
                   "the catalog is damaged; restore it from a backup of the store directory");
    }
  }
  for (const auto& [name, mount] : store->database_mount_) {
    if (!mount) continue;
    auto db = Database::Mount(store->DbDir(name), options.database);
    if (!db.ok()) {
      log::Error("database '" + name + "' stays dismounted: " + db.error().Full());
      continue;
    }
    store->open_[name] = std::shared_ptr<Database>(std::move(*db));
    log::Info("database '" + name + "' mounted");
  }
  return store;
}

Store::~Store() { Shutdown(); }

void Store::Shutdown() {
  std::lock_guard<std::mutex> life(lifecycle_mu_);
  std::map<std::string, std::shared_ptr<Database>> open;
  {
    std::unique_lock<std::shared_mutex> l(catalog_mu_);
    open.swap(open_);
  }
  for (auto& [name, db] : open) {
    Status s = db->Dismount(options_.dismount_bound);
    if (!s.ok()) log::Error(s.error().Full());
  }
}

Status Store::SaveCatalog() {
  json j = {{"databases", json::object()}, {"mailboxes", json::object()}, {"users", json::object()}};
  for (const auto& [k, v] : database_mount_) j["databases"][k] = {{"mount", v}};
  for (const auto& [k, v] : mailboxes_) j["mailboxes"][k] = v;
  for (const auto& [k, v] : users_) j["users"][k] = v;
  if (!grants_.empty()) j["grants"] = grants_;
  return WriteFileAtomic(options_.data_dir + "/catalog.json", j.dump(2) + "\n");
}

std::shared_ptr<Database> Store::Get(const std::string& name) {
  std::shared_lock<std::shared_mutex> l(catalog_mu_);
  auto it = open_.find(name);
  return it == open_.end() ? nullptr : it->second;
}

Status Store::MountLocked(const std::string& name) {
  std::shared_ptr<Database> stuck;
  {
    std::shared_lock<std::shared_mutex> l(catalog_mu_);
    auto it = open_.find(name);
    if (it != open_.end()) {
      if (it->second->mounted()) return Ok();
      stuck = it->second;  // a dismount that timed out: finish it first
    }
  }
  if (stuck) MX_CHECK(stuck->Dismount(options_.dismount_bound));
  auto db = MX_TRY(Database::Mount(DbDir(name), options_.database));
  std::unique_lock<std::shared_mutex> l(catalog_mu_);
  open_[name] = std::shared_ptr<Database>(std::move(db));
  database_mount_[name] = true;
  return SaveCatalog();
}

Status Store::DismountLocked(const std::string& name) {
  std::shared_ptr<Database> db = Get(name);
  if (!db) return Ok();
  // The database refuses new work at once; work in flight finishes (bounded).
  MX_CHECK(db->Dismount(options_.dismount_bound));
  std::unique_lock<std::shared_mutex> l(catalog_mu_);
  open_.erase(name);
  database_mount_[name] = false;
  return SaveCatalog();
}

Status Store::CheckKnown(const std::string& name, const std::string& what) {
  std::shared_lock<std::shared_mutex> l(catalog_mu_);
  if (!database_mount_.count(name))
    return Error(Code::kDatabaseNotFound, what, name, "the store has no such database");
  return Ok();
}

Status Store::CreateDatabase(const std::string& name, bool circular) {
  if (!ValidDatabaseName(name))
    return Error(Code::kUsage, "invalid database name", name, "use 1-64 letters, digits, '-' or '_'");
  std::lock_guard<std::mutex> life(lifecycle_mu_);
  if (CheckKnown(name, "").ok())
    return Error(Code::kDatabaseExists, "cannot create database", name, "it exists");
  MX_CHECK(Database::Create(DbDir(name), name, circular));
  return MountLocked(name);
}

Status Store::AttachDatabase(const std::string& dir, const std::string& name) {
  if (!ValidDatabaseName(name))
    return Error(Code::kUsage, "invalid database name", name, "use 1-64 letters, digits, '-' or '_'");
  std::lock_guard<std::mutex> life(lifecycle_mu_);
  if (CheckKnown(name, "").ok())
    return Error(Code::kDatabaseExists, "cannot attach as database '" + name + "'", name, "a database of this name exists",
                 "choose another name with --as");
  auto h = DatabaseHeader::Load(dir);
  if (!h.ok())
    return Error(Code::kDatabaseNotFound, "cannot attach", dir, "it holds no database header",
                 "restore a backup there and run `mxstore db recover " + dir + "` first");
  if (!h->clean_shutdown || h->state != "dismounted")
    return Error(Code::kDatabaseMounted, "cannot attach", dir, "the database was not shut down cleanly",
                 "run `mxstore db recover " + dir + "` first");
  if (rename(dir.c_str(), DbDir(name).c_str()) != 0) {
    int e = errno;
    return ErrnoError("cannot move the database into the store", dir + " -> " + DbDir(name), e)
        .Wrap("cannot attach database '" + name + "'", dir);
  }
  h->name = name;
  MX_CHECK(h->Save(DbDir(name)));
  {
    std::unique_lock<std::shared_mutex> l(catalog_mu_);
    database_mount_[name] = false;
    MX_CHECK(SaveCatalog());
  }
  // Its mailboxes are not routed: a recovery database serves exports and
  // copies back, never deliveries.
  return MountLocked(name);
}

Status Store::Mount(const std::string& name) {
  std::lock_guard<std::mutex> life(lifecycle_mu_);
  MX_CHECK(CheckKnown(name, "cannot mount database"));
  return MountLocked(name);
}

Status Store::Dismount(const std::string& name) {
  std::lock_guard<std::mutex> life(lifecycle_mu_);
  MX_CHECK(CheckKnown(name, "cannot dismount database"));
  return DismountLocked(name);
}

Status Store::SetCircularLogging(const std::string& name, bool on) {
  std::lock_guard<std::mutex> life(lifecycle_mu_);
  MX_CHECK(CheckKnown(name, "cannot change circular logging"));
  bool was_mounted = Get(name) != nullptr;
  MX_CHECK(DismountLocked(name));
  std::string dir = DbDir(name);
  DatabaseHeader h = MX_TRY(DatabaseHeader::Load(dir));
  if (h.circular_logging != on) {
    h.circular_logging = on;
    h.log_chain = RandomHex(8);
    h.chain_first_log = 0;  // the next mount records the log it opens
    if (on) {
      // Archived logs belong to a chain no backup can continue: drop them.
      std::error_code ec;
      for (auto& e : std::filesystem::directory_iterator(dir + "/rocksdb/archive", ec))
        if (e.path().extension() == ".log") std::filesystem::remove(e.path(), ec);
    }
    MX_CHECK(h.Save(dir));
  }
  return was_mounted ? MountLocked(name) : Ok();
}

std::vector<DatabaseStatus> Store::ListDatabases() {
  std::vector<std::string> names;
  std::map<std::string, size_t> counts;
  {
    std::shared_lock<std::shared_mutex> l(catalog_mu_);
    for (const auto& [n, m] : database_mount_) names.push_back(n);
    for (const auto& [mb, db] : mailboxes_) ++counts[db];
  }
  std::vector<DatabaseStatus> out;
  for (const auto& n : names) {
    DatabaseStatus st;
    st.name = n;
    st.mailboxes = counts[n];
    auto db = Get(n);
    if (db && db->mounted()) {
      st.mounted = true;
      st.header = db->Header();
    } else {
      auto h = DatabaseHeader::Load(DbDir(n));
      if (h.ok()) st.header = *h;
    }
    out.push_back(std::move(st));
  }
  return out;
}

Result<DatabaseHeader> Store::Header(const std::string& name) {
  auto db = Get(name);
  if (db && db->mounted()) return db->Header();
  {
    std::shared_lock<std::shared_mutex> l(catalog_mu_);
    if (!database_mount_.count(name))
      return Error(Code::kDatabaseNotFound, "no such database", name, "the store has no such database");
  }
  return DatabaseHeader::Load(DbDir(name));
}

Result<std::string> Store::DatabaseDir(const std::string& name) {
  std::shared_lock<std::shared_mutex> l(catalog_mu_);
  if (!database_mount_.count(name))
    return Error(Code::kDatabaseNotFound, "no such database", name, "the store has no such database");
  return DbDir(name);
}

Result<std::vector<std::string>> Store::Check(const std::string& name) {
  std::string dir = MX_TRY(DatabaseDir(name));
  auto db = Get(name);
  if (db && db->mounted()) return db->Check();
  std::lock_guard<std::mutex> life(lifecycle_mu_);  // no mount while checking offline
  return Database::CheckOffline(dir);
}

Status Store::CreateMailbox(const std::string& mailbox_in, const std::string& database) {
  std::string mailbox = NormalizeAddress(mailbox_in);
  if (mailbox.empty() || mailbox.find_first_of(" \t\r\n<>\"") != std::string::npos)
    return Error(Code::kUsage, "invalid mailbox name", mailbox_in,
                 "use an address such as alice@example.test");
  {
    std::shared_lock<std::shared_mutex> l(catalog_mu_);
    auto it = mailboxes_.find(mailbox);
    if (it != mailboxes_.end())
      return Error(Code::kMailboxExists, "cannot create mailbox", mailbox, "it lives in database '" + it->second + "'");
    if (!database_mount_.count(database))
      return Error(Code::kDatabaseNotFound, "cannot create mailbox", mailbox,
                   "the store has no database '" + database + "'");
  }
  auto db = Get(database);
  if (!db)
    return Error(Code::kDatabaseNotMounted, "cannot create mailbox", mailbox,
                 "database '" + database + "' is dismounted");
  auto created = db->CreateMailbox(mailbox);
  if (!created.ok() && created.error().code() != Code::kMailboxExists) return std::move(created).error();
  std::unique_lock<std::shared_mutex> l(catalog_mu_);
  mailboxes_[mailbox] = database;
  return SaveCatalog();
}

Result<std::pair<std::string, std::shared_ptr<Database>>> Store::MailboxDatabase(const std::string& mailbox,
                                                                               const std::string& what) {
  std::string database;
  {
    std::shared_lock<std::shared_mutex> l(catalog_mu_);
    auto it = mailboxes_.find(mailbox);
    if (it == mailboxes_.end())
      return Error(Code::kMailboxNotFound, what, mailbox, "the store has no such mailbox");
    database = it->second;
  }
  auto db = Get(database);
  if (!db)
    return Error(Code::kDatabaseNotMounted, what, mailbox, "its database '" + database + "' is dismounted");
  return std::make_pair(database, db);
}

Status Store::DeleteMailbox(const std::string& mailbox_in) {
  std::string mailbox = NormalizeAddress(mailbox_in);
  auto [database, db] = MX_TRY(MailboxDatabase(mailbox, "cannot delete mailbox"));
  Status s = db->DeleteMailbox(mailbox);
  if (!s.ok() && s.error().code() != Code::kMailboxNotFound) return s;
  std::unique_lock<std::shared_mutex> l(catalog_mu_);
  mailboxes_.erase(mailbox);
  return SaveCatalog();
}

Result<std::string> Store::Locate(const std::string& mailbox_in) {
  std::string mailbox = NormalizeAddress(mailbox_in);
  std::shared_lock<std::shared_mutex> l(catalog_mu_);
  auto it = mailboxes_.find(mailbox);
  if (it == mailboxes_.end())
    return Error(Code::kMailboxNotFound, "no such mailbox", mailbox, "the store has no mailbox for this address");
  if (!open_.count(it->second))
    return Error(Code::kDatabaseNotMounted, "database is not mounted", it->second, "it is dismounted");
  return it->second;
}

std::vector<std::pair<std::string, std::string>> Store::ListMailboxes() {
  std::shared_lock<std::shared_mutex> l(catalog_mu_);
  return {mailboxes_.begin(), mailboxes_.end()};
}

Status Store::MoveMailbox(const std::string& mailbox_in, const std::string& database) {
  std::string mailbox = NormalizeAddress(mailbox_in);
  std::string from;
  {
    std::shared_lock<std::shared_mutex> l(catalog_mu_);
    auto it = mailboxes_.find(mailbox);
    if (it == mailboxes_.end())
      return Error(Code::kMailboxNotFound, "cannot move mailbox", mailbox, "the store has no such mailbox");
    from = it->second;
  }
  if (from == database) return Ok();
  auto src = Get(from);
  auto dst = Get(database);
  if (!src || !dst)
    return Error(Code::kDatabaseNotMounted, "cannot move mailbox", mailbox,
                 "both '" + from + "' and '" + database + "' must be mounted");
  auto created = dst->CreateMailbox(mailbox);
  if (!created.ok()) return std::move(created).error();
  auto folders = MX_TRY(src->ListFolders(mailbox));
  std::set<std::string> have;  // the new mailbox's folders (the special-use ones)
  auto dst_folders = MX_TRY(dst->ListFolders(mailbox));
  for (const auto& e : dst_folders) have.insert(e.name);
  for (const auto& f : folders) {
    if (!have.count(f.name)) (void)MX_TRY(dst->CreateFolder(mailbox, f.name, f.special_use));
    auto msgs = MX_TRY(src->ListMessages(mailbox, f.name));
    for (const auto& m : msgs) {
      std::string body = MX_TRY(src->ReadBody(m.body));
      auto placed = MX_TRY(dst->Deliver({mailbox}, body, m.internal_date, m.internal_zone, f.name));
      if (m.flags != 0 || !m.keywords.empty())
        (void)MX_TRY(dst->SetFlags(mailbox, f.name, placed[0].uid, m.flags, m.keywords));
    }
  }
  {
    std::unique_lock<std::shared_mutex> l(catalog_mu_);
    mailboxes_[mailbox] = database;
    MX_CHECK(SaveCatalog());
  }
  return src->DeleteMailbox(mailbox);
}

std::vector<RecipientResult> Store::Deliver(const std::vector<std::string>& recipients,
                                            std::string_view message, int64_t internal_date,
                                            int32_t internal_zone) {
  std::vector<RecipientResult> out(recipients.size());
  std::map<std::string, std::vector<size_t>> by_db;  // database → recipient indexes
  {
    std::shared_lock<std::shared_mutex> l(catalog_mu_);
    for (size_t i = 0; i < recipients.size(); ++i) {
      out[i].mailbox = NormalizeAddress(recipients[i]);
      auto it = mailboxes_.find(out[i].mailbox);
      if (it == mailboxes_.end()) {
        out[i].uid = Error(Code::kMailboxNotFound, "no such mailbox", out[i].mailbox,
                           "the store has no mailbox for this address");
        continue;
      }
      by_db[it->second].push_back(i);
    }
  }
  for (const auto& [dbname, idx] : by_db) {
    auto db = Get(dbname);
    if (!db) {
      for (size_t i : idx)
        out[i].uid = Error(Code::kDatabaseNotMounted, "database is not mounted", dbname, "it is dismounted");
      continue;
    }
    // One copy per distinct mailbox, one batch per database.
    std::vector<std::string> mailboxes;
    for (size_t i : idx)
      if (std::find(mailboxes.begin(), mailboxes.end(), out[i].mailbox) == mailboxes.end())
        mailboxes.push_back(out[i].mailbox);
    auto r = db->Deliver(mailboxes, message, internal_date, internal_zone);
    for (size_t i : idx) {
      if (!r.ok()) {
        out[i].uid = r.error();
        continue;
      }
      for (const auto& d : *r)
        if (d.mailbox == out[i].mailbox) out[i].uid = d.uid;
    }
  }
  return out;
}

Result<uint64_t> Store::ExportMailbox(const std::string& mailbox_in, const std::string& target,
                                      const std::string& from_database) {
  std::string mailbox = NormalizeAddress(mailbox_in);
  std::pair<std::string, std::shared_ptr<Database>> where;
  if (from_database.empty()) {
    where = MX_TRY(MailboxDatabase(mailbox, "cannot export mailbox"));
  } else {
    MX_CHECK(CheckKnown(from_database, "cannot export mailbox " + mailbox));
    auto d = Get(from_database);
    if (!d)
      return Error(Code::kDatabaseNotMounted, "cannot export mailbox " + mailbox, from_database, "the database is dismounted",
                   "mount it with `mxstore db mount " + from_database + "`");
    where = {from_database, d};
  }
  auto [database, db] = where;
  {
    std::error_code ec;
    if (std::filesystem::exists(target, ec) && !std::filesystem::is_empty(target, ec))
      return Error(Code::kIo, "cannot export mailbox", target, "the target exists and is not empty",
                   "choose a new or empty directory");
  }
  uint64_t written = 0;
  auto folders = MX_TRY(db->ListFolders(mailbox));
  for (const auto& f : folders) {
    if (!SafeFolderPath(f.name))
      return Error(Code::kUnsafePath, "cannot export folder", mailbox + "/" + f.name,
                   "its name is not a safe relative path");
    std::string dir = target + "/" + f.name;
    for (const char* sub : {"/cur", "/new", "/tmp"}) MX_CHECK(MakeDirs(dir + sub, 0700));
    auto msgs = MX_TRY(db->ListMessages(mailbox, f.name));
    for (const auto& m : msgs) {
      std::string body = MX_TRY(db->ReadBody(m.body));
      std::string path = dir + "/cur/" + std::to_string(m.internal_date) + "." + std::to_string(m.uid) +
                         "." + std::to_string(f.uidvalidity) + ".mxstore:2," + MaildirFlags(m.flags);
      Fd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
      if (!fd.valid()) return ErrnoError("cannot write message", path, errno);
      MX_CHECK(WriteFull(fd.get(), reinterpret_cast<const uint8_t*>(body.data()), body.size(), -1, path));
      fd = Fd();
      struct timeval tv[2] = {{m.internal_date, 0}, {m.internal_date, 0}};
      utimes(path.c_str(), tv);
      ++written;
    }
  }
  return written;
}

Status Store::CreatePublicFolder(const std::string& folder, const std::string& database) {
  if (folder.empty() || folder.front() == '/' || folder.back() == '/' || folder.find("//") != std::string::npos ||
      std::any_of(folder.begin(), folder.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }))
    return Error(Code::kUsage, "invalid public folder name", folder,
                 "it is empty, begins or ends with '/', has '//' or a control character",
                 "use a name such as Announcements or Team/Plans");
  bool exists;
  {
    std::shared_lock<std::shared_mutex> l(catalog_mu_);
    exists = mailboxes_.count(kPublicMailbox) != 0;
  }
  if (!exists) MX_CHECK(CreateMailbox(kPublicMailbox, database));
  auto [name, db] = MX_TRY(MailboxDatabase(kPublicMailbox, ""));
  (void)name;
  // Parents first, as IMAP CREATE makes them.
  for (size_t slash = folder.find('/');; slash = folder.find('/', slash + 1)) {
    std::string part = folder.substr(0, slash);
    auto made = db->CreateFolder(kPublicMailbox, part, "");
    if (!made.ok() && made.error().code() != Code::kMailboxExists) return std::move(made).error();
    if (slash == std::string::npos) break;
  }
  return Ok();
}

Status Store::Grant(const std::string& folder, const std::string& user_in, const std::string& access) {
  std::string user = NormalizeAddress(user_in);
  if (access != "read" && access != "read-write" && access != "none")
    return Error(Code::kUsage, "invalid access", access, "", "give read, read-write or none");
  {
    std::shared_lock<std::shared_mutex> l(catalog_mu_);
    if (!users_.count(user))
      return Error(Code::kNotFound, "cannot grant", user, "no such user",
                   "`mxstore user list` shows the users; add one with `mxstore user add`");
  }
  auto [name, db] = MX_TRY(MailboxDatabase(kPublicMailbox, ""));
  (void)name;
  auto f = db->GetFolder(kPublicMailbox, folder);
  if (!f.ok())
    return Error(Code::kFolderNotFound, "cannot grant", "Public/" + folder, "there is no such public folder",
                 "create it with `mxstore folder create-public`");
  std::unique_lock<std::shared_mutex> l(catalog_mu_);
  if (access == "none") {
    grants_[folder].erase(user);
    if (grants_[folder].empty()) grants_.erase(folder);
  } else {
    grants_[folder][user] = access;
  }
  return SaveCatalog();
}

std::shared_ptr<Database> Store::PublicDatabase() {
  auto where = Locate(kPublicMailbox);
  return where.ok() ? Get(*where) : nullptr;
}

std::map<std::string, std::string> Store::GrantsFor(const std::string& user_in) {
  std::string user = NormalizeAddress(user_in);
  std::map<std::string, std::string> out;
  std::shared_lock<std::shared_mutex> l(catalog_mu_);
  for (const auto& [folder, who] : grants_) {
    auto it = who.find(user);
    if (it != who.end()) out[folder] = it->second;
  }
  return out;
}

std::map<std::string, std::map<std::string, std::string>> Store::ListGrants() {
  std::shared_lock<std::shared_mutex> l(catalog_mu_);
  return grants_;
}

Status Store::AddUser(const std::string& user_in, const std::string& password) {
  std::string user = NormalizeAddress(user_in);
  {
    std::shared_lock<std::shared_mutex> l(catalog_mu_);
    if (users_.count(user))
      return Error(Code::kMailboxExists, "cannot add user", user, "the user exists",
                   "change the password with `mxstore user passwd`");
  }
  std::string hash = MX_TRY(HashPassword(password));
  std::unique_lock<std::shared_mutex> l(catalog_mu_);
  users_[user] = hash;
  return SaveCatalog();
}

Status Store::SetPassword(const std::string& user_in, const std::string& password) {
  std::string user = NormalizeAddress(user_in);
  {
    std::shared_lock<std::shared_mutex> l(catalog_mu_);
    if (!users_.count(user))
      return Error(Code::kNotFound, "cannot change password", user, "no such user",
                   "`mxstore user list` shows the users; add one with `mxstore user add`");
  }
  std::string hash = MX_TRY(HashPassword(password));
  std::unique_lock<std::shared_mutex> l(catalog_mu_);
  users_[user] = hash;
  return SaveCatalog();
}

Status Store::RemoveUser(const std::string& user_in) {
  std::string user = NormalizeAddress(user_in);
  std::unique_lock<std::shared_mutex> l(catalog_mu_);
  if (!users_.erase(user))
    return Error(Code::kNotFound, "cannot remove user", user, "no such user", "`mxstore user list` shows the users");
  return SaveCatalog();
}

std::vector<std::string> Store::ListUsers() {
  std::shared_lock<std::shared_mutex> l(catalog_mu_);
  std::vector<std::string> out;
  for (const auto& [u, h] : users_) out.push_back(u);
  return out;
}

bool Store::Authenticate(const std::string& user_in, const std::string& password) {
  std::string hash;
  {
    std::shared_lock<std::shared_mutex> l(catalog_mu_);
    auto it = users_.find(NormalizeAddress(user_in));
    if (it == users_.end()) return false;
    hash = it->second;
  }
  return VerifyPassword(password, hash);
}

}  // namespace mx::store
