#include "vault/source/tree_nodes.h"

#include <unistd.h>

#include <algorithm>

namespace mx::vault {

repo::Node FileNode(const std::string& name, uint64_t size, std::vector<repo::Id> content, Timestamp t) {
  repo::Node n;
  n.name = name;
  n.type = "file";
  n.mode = 0600;
  n.mtime = n.atime = n.ctime = t;
  n.uid = getuid();
  n.gid = getgid();
  n.size = size;
  n.links = 1;
  n.content = std::move(content);
  return n;
}

repo::Node DirNode(const std::string& name, const repo::Id& subtree, Timestamp t) {
  repo::Node n;
  n.name = name;
  n.type = "dir";
  n.mode = repo::kGoModeDir | 0700;
  n.mtime = n.atime = n.ctime = t;
  n.uid = getuid();
  n.gid = getgid();
  n.subtree = subtree;
  return n;
}

Result<repo::Id> SaveTree(repo::BlobSaver& saver, repo::Tree& tree) {
  std::sort(tree.nodes.begin(), tree.nodes.end(),
            [](const repo::Node& a, const repo::Node& b) { return a.name < b.name; });
  std::string json = repo::SerializeTree(tree);
  const auto* p = reinterpret_cast<const uint8_t*>(json.data());
  repo::Id id = repo::Id::Hash(p, json.size());
  auto r = saver.Save(repo::BlobType::kTree, id, p, json.size());
  if (!r.ok()) return std::move(r).error();
  return id;
}

}  // namespace mx::vault
