// Reading a mailbox snapshot back (docs/formats/mailbox.md): its account, its
// folders with their metadata, and message files, without a server. Used by
// the incremental backup (the parent), `mail ls/find/show/export/restore`.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "repo/repository.h"
#include "vault/mail/layout.h"

namespace mx::vault::mail {

struct FolderRef {
  std::string path;    // directory path under the account ("INBOX", "A/B")
  repo::Id dir_tree;   // the folder directory's tree
};

class MailSnapshot {
 public:
  /// MAIL_NOT_FOUND when the snapshot is not a mailbox snapshot.
  static Result<std::unique_ptr<MailSnapshot>> Open(repo::Repository& repo, const repo::Snapshot& snap,
                                                    const std::string& snapshot_name);
  const std::string& account() const { return account_; }
  const nlohmann::json& account_meta() const { return meta_; }

  /// Every folder (with metadata), in path order.
  Result<std::vector<FolderRef>> Folders();
  /// The folder whose UTF-8 name (with '/' as the separator, or its path) is
  /// `name`; MAIL_NOT_FOUND naming the folders that exist otherwise.
  Result<FolderRef> FindFolder(const std::string& name);
  Result<FolderMeta> LoadFolder(const FolderRef& f);
  /// cur/'s nodes by file name.
  Result<std::map<std::string, repo::Node>> Messages(const FolderRef& f);
  /// A file's bytes, blob by blob, to `sink`.
  Status Stream(const repo::Node& file, const std::function<Status(const uint8_t*, size_t)>& sink);
  Result<std::string> Read(const repo::Node& file);

 private:
  MailSnapshot(repo::Repository& repo) : repo_(repo) {}
  Status Walk(const repo::Id& tree, const std::string& path, std::vector<FolderRef>* out, int depth);

  repo::Repository& repo_;
  std::string snapshot_name_;
  std::string account_;
  repo::Id account_tree_;
  nlohmann::json meta_;
};

/// The folder's name as users write it: levels joined with '/'.
std::string DisplayName(const FolderMeta& f);

}  // namespace mx::vault::mail
