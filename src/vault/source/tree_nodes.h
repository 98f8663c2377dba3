// Tree nodes for sources whose files are not on a local disk (store files,
// IMAP messages): owned by this process's user, mode 0600/0700, one time for
// mtime, atime and ctime; and saving a tree as restic stores it.
#pragma once

#include <string>
#include <vector>

#include "repo/blob_saver.h"

namespace mx::vault {

repo::Node FileNode(const std::string& name, uint64_t size, std::vector<repo::Id> content, Timestamp t);
repo::Node DirNode(const std::string& name, const repo::Id& subtree, Timestamp t);
/// Sorts the nodes by name, serializes the tree and saves it (deduplicated).
Result<repo::Id> SaveTree(repo::BlobSaver& saver, repo::Tree& tree);

}  // namespace mx::vault
