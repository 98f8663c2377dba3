#include "vault/mail/snapshot_reader.h"

#include <algorithm>

namespace mx::vault::mail {
namespace {

const repo::Node* FindNode(const repo::Tree& t, const std::string& name) {
  for (const auto& n : t.nodes)
    if (n.name == name) return &n;
  return nullptr;
}

}  // namespace

std::string DisplayName(const FolderMeta& f) {
  if (!f.delimiter || f.delimiter == '/') return f.name;
  std::string out = f.name;
  std::replace(out.begin(), out.end(), f.delimiter, '/');
  return out;
}

Result<std::unique_ptr<MailSnapshot>> MailSnapshot::Open(repo::Repository& repo, const repo::Snapshot& snap,
                                                         const std::string& snapshot_name) {
  std::unique_ptr<MailSnapshot> m(new MailSnapshot(repo));
  m->snapshot_name_ = snapshot_name;
  repo::Tree root = MX_TRY(repo.LoadTree(snap.tree));
  for (const auto& n : root.nodes) {
    if (n.type != "dir" || !n.subtree) continue;
    repo::Tree acct = MX_TRY(repo.LoadTree(*n.subtree));
    const repo::Node* meta = FindNode(acct, kAccountFile);
    if (!meta) continue;
    m->account_ = n.name;
    m->account_tree_ = *n.subtree;
    std::string text = MX_TRY(m->Read(*meta));
    try {
      m->meta_ = nlohmann::json::parse(text);
    } catch (const std::exception& e) {
      return Error(Code::kBadFormat, "the mailbox snapshot's account metadata is not valid", snapshot_name, e.what());
    }
    return m;
  }
  return Error(Code::kMailNotFound, "not a mailbox snapshot", snapshot_name,
               "its tree has no /<account>/" + std::string(kAccountFile),
               "list mailbox snapshots with `mxvault snapshots --tag imap`");
}

Status MailSnapshot::Walk(const repo::Id& tree_id, const std::string& path, std::vector<FolderRef>* out, int depth) {
  if (depth > 64) return Ok();
  repo::Tree t = MX_TRY(repo_.LoadTree(tree_id));
  if (!path.empty() && FindNode(t, kFolderFile)) out->push_back(FolderRef{path, tree_id});
  for (const auto& n : t.nodes) {
    if (n.type != "dir" || !n.subtree || n.name == "cur" || n.name == "new" || n.name == "tmp") continue;
    MX_CHECK(Walk(*n.subtree, path.empty() ? n.name : path + "/" + n.name, out, depth + 1));
  }
  return Ok();
}

Result<std::vector<FolderRef>> MailSnapshot::Folders() {
  std::vector<FolderRef> out;
  MX_CHECK(Walk(account_tree_, "", &out, 0));
  std::sort(out.begin(), out.end(), [](const FolderRef& a, const FolderRef& b) { return a.path < b.path; });
  return out;
}

Result<FolderRef> MailSnapshot::FindFolder(const std::string& name) {
  auto folders = MX_TRY(Folders());
  std::string names;
  for (const auto& f : folders) {
    if (f.path == name) return f;
    FolderMeta m = MX_TRY(LoadFolder(f));
    if (DisplayName(m) == name || m.name == name) return f;
    if (names.size() < 400) names += (names.empty() ? "" : ", ") + DisplayName(m);
  }
  return Error(Code::kMailNotFound, "no such folder in the snapshot", snapshot_name_ + ":" + name,
               "its folders: " + names, "");
}

Result<FolderMeta> MailSnapshot::LoadFolder(const FolderRef& f) {
  repo::Tree t = MX_TRY(repo_.LoadTree(f.dir_tree));
  const repo::Node* meta = FindNode(t, kFolderFile);
  if (!meta) return Error(Code::kBadFormat, "a mailbox folder without metadata", f.path, "");
  std::string text = MX_TRY(Read(*meta));
  FolderMeta m = MX_TRY(FolderFromJson(text, snapshot_name_ + ":" + f.path + "/" + kFolderFile));
  m.path = f.path;
  return m;
}

Result<std::map<std::string, repo::Node>> MailSnapshot::Messages(const FolderRef& f) {
  repo::Tree t = MX_TRY(repo_.LoadTree(f.dir_tree));
  std::map<std::string, repo::Node> out;
  const repo::Node* cur = FindNode(t, "cur");
  if (!cur || !cur->subtree) return out;
  repo::Tree c = MX_TRY(repo_.LoadTree(*cur->subtree));
  for (auto& n : c.nodes) out.emplace(n.name, std::move(n));
  return out;
}

Status MailSnapshot::Stream(const repo::Node& file, const std::function<Status(const uint8_t*, size_t)>& sink) {
  Bytes buf;
  for (const auto& id : file.content) {
    MX_CHECK(repo_.LoadBlobInto(repo::BlobType::kData, id, &buf));
    MX_CHECK(sink(buf.data(), buf.size()));
  }
  return Ok();
}

Result<std::string> MailSnapshot::Read(const repo::Node& file) {
  std::string out;
  out.reserve(file.size);
  MX_CHECK(Stream(file, [&](const uint8_t* d, size_t n) {
    out.append(reinterpret_cast<const char*>(d), n);
    return Ok();
  }));
  return out;
}

}  // namespace mx::vault::mail
