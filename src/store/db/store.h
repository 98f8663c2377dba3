// A store: the named mailbox databases under one data directory, the catalog
// of which mailbox lives in which database, and the users. No network code:
// the daemon's front ends (LMTP, IMAP, admin, backup service) call into it.
//
// Layout: DATA/catalog.json (databases, mailbox placement, users; replaced by
// rename), DATA/databases/NAME/ (header.json + rocksdb/).
// Thread-safe: every method may be called from any thread. Lifecycle calls
// (mount, dismount, create, circular logging) are serialised per store.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "store/db/database.h"
#include "store/db/item_restore.h"

namespace mx::store {

struct StoreOptions {
  std::string data_dir;
  DatabaseOptions database;
  std::chrono::milliseconds dismount_bound{10000};
};

struct DatabaseStatus {
  std::string name;
  bool mounted = false;
  DatabaseHeader header;
  size_t mailboxes = 0;
};

/// Per-recipient outcome of a delivery.
struct RecipientResult {
  std::string mailbox;
  Result<uint32_t> uid = Error(Code::kInternal, "not delivered", "", "");
};

class Store {
 public:
  /// Opens the store in `options.data_dir` (creating an empty catalog if none)
  /// and mounts every database the catalog marks to be mounted. A database
  /// that fails to mount is logged and left dismounted; the store still opens.
  static Result<std::unique_ptr<Store>> Open(const StoreOptions& options);
  ~Store();
  /// Dismounts every database (each within the bound).
  void Shutdown();
  /// Random id of this store (DATA/identity), fixed at its first open.
  const std::string& identity() const { return identity_; }

  Status CreateDatabase(const std::string& name, bool circular_logging);
  /// Moves the recovered database in `dir` (same file system) into the store
  /// as `name` and mounts it. Its mailboxes get no catalog entries: a
  /// recovery database is read and exported from, never delivered to.
  Status AttachDatabase(const std::string& dir, const std::string& name);
  Status Mount(const std::string& name);
  Status Dismount(const std::string& name);
  /// Turns circular logging on or off: dismounts, records the setting and a
  /// new log chain in the header (turning it on empties the archive), and
  /// mounts again if it was mounted.
  Status SetCircularLogging(const std::string& name, bool on);
  std::vector<DatabaseStatus> ListDatabases();
  Result<DatabaseHeader> Header(const std::string& name);
  /// Damaged files of `name` (empty when sound); works mounted or not.
  Result<std::vector<std::string>> Check(const std::string& name);
  Result<std::string> DatabaseDir(const std::string& name);
  /// The mounted database `name`, or nullptr.
  std::shared_ptr<Database> Get(const std::string& name);

  Status CreateMailbox(const std::string& mailbox, const std::string& database);
  Status DeleteMailbox(const std::string& mailbox);
  /// Where `mailbox` lives: MAILBOX_NOT_FOUND, or DATABASE_NOT_MOUNTED
  /// naming its database when that is dismounted; else the database name.
  Result<std::string> Locate(const std::string& mailbox);
  /// mailbox → database, sorted by mailbox.
  std::vector<std::pair<std::string, std::string>> ListMailboxes();
  /// Copies every folder and message of `mailbox` to `database`, switches
  /// the catalog, then deletes the old copy. Both databases must be mounted.
  Status MoveMailbox(const std::string& mailbox, const std::string& database);

  /// Delivers `message` to each recipient mailbox (addresses, any case) with
  /// one durable batch per database. Unknown mailboxes get MAILBOX_NOT_FOUND;
  /// dismounted databases DATABASE_NOT_MOUNTED; the others are unaffected.
  std::vector<RecipientResult> Deliver(const std::vector<std::string>& recipients,
                                       std::string_view message, int64_t internal_date,
                                       int32_t internal_zone);

  /// Writes `mailbox` as a Maildir under `target` (which must not exist or be
  /// empty): DIR/FOLDER/cur/<date>.<uid>.<uidvalidity>.mxstore:2,<flags>,
  /// bytes as delivered, internal date as mtime. Returns messages written.
  /// `from_database` (e.g. a recovery database) overrides the catalog.
  Result<uint64_t> ExportMailbox(const std::string& mailbox, const std::string& target,
                                 const std::string& from_database = "");

  /// Copies the messages of `options.mailbox` in the recovery database
  /// `options.from_database` that pass the filter into a live mailbox: bytes,
  /// flags, keywords and internal date (with its zone) kept, folders created
  /// as needed, each message one durable APPEND. A message whose bytes and
  /// internal date are already in the target folder is skipped, so running
  /// it again copies nothing twice. DATABASE_NOT_FOUND / _NOT_MOUNTED,
  /// MAILBOX_NOT_FOUND, FOLDER_NOT_FOUND (a --folder the source lacks).
  Result<ItemRestoreReport> RestoreItems(const ItemRestoreOptions& options);

  /// Public folders (IMAP's "Public/" namespace) are folders of the mailbox
  /// kPublicMailbox, seen by users only through grants.
  static constexpr const char* kPublicMailbox = "#public";
  /// Creates public folder `folder` (and its parents), and the public
  /// mailbox in `database` when it does not exist yet. USAGE for a bad name.
  Status CreatePublicFolder(const std::string& folder, const std::string& database);
  /// Gives `user` "read" or "read-write" access to public folder `folder`,
  /// or takes it away ("none"). NOT_FOUND for an unknown user,
  /// FOLDER_NOT_FOUND for an unknown folder.
  Status Grant(const std::string& folder, const std::string& user, const std::string& access);
  /// The mounted database of the public folders; null when there are none
  /// (or it is dismounted).
  std::shared_ptr<Database> PublicDatabase();
  /// Public folder → "read" or "read-write", for one user.
  std::map<std::string, std::string> GrantsFor(const std::string& user);
  /// Public folder → user → access.
  std::map<std::string, std::map<std::string, std::string>> ListGrants();

  Status AddUser(const std::string& user, const std::string& password);
  Status SetPassword(const std::string& user, const std::string& password);
  Status RemoveUser(const std::string& user);
  std::vector<std::string> ListUsers();
  bool Authenticate(const std::string& user, const std::string& password);

  static std::string NormalizeAddress(std::string_view address);
  /// The directory of database `name` in a store whose data directory is
  /// `data_dir` (for tools that read a dismounted database without a Store).
  static std::string DatabaseDirIn(const std::string& data_dir, const std::string& name) {
    return data_dir + "/databases/" + name;
  }

 private:
  explicit Store(StoreOptions options) : options_(std::move(options)) {}
  Status SaveCatalog();  // requires catalog_mu_ held
  // Mount / dismount with lifecycle_mu_ held by the caller.
  Status MountLocked(const std::string& name);
  Status DismountLocked(const std::string& name);
  /// DATABASE_NOT_FOUND (with `what`) unless the catalog has `name`.
  Status CheckKnown(const std::string& name, const std::string& what);
  std::string DbDir(const std::string& name) const { return DatabaseDirIn(options_.data_dir, name); }
  /// The mounted database holding `mailbox` (normalised); errors name `what`.
  Result<std::pair<std::string, std::shared_ptr<Database>>> MailboxDatabase(const std::string& mailbox,
                                                                            const std::string& what);

  const StoreOptions options_;
  std::string identity_;
  std::mutex lifecycle_mu_;   // serialises mount/dismount/create
  std::shared_mutex catalog_mu_;
  std::map<std::string, bool> database_mount_;          // name → mount at start; guarded by catalog_mu_
  std::map<std::string, std::string> mailboxes_;        // guarded by catalog_mu_
  std::map<std::string, std::string> users_;            // guarded by catalog_mu_
  std::map<std::string, std::map<std::string, std::string>> grants_;  // public folder → user → access; catalog_mu_
  std::map<std::string, std::shared_ptr<Database>> open_;  // mounted ones; guarded by catalog_mu_
};

}  // namespace mx::store
