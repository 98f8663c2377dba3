#include "vault/source/imap/imap_backup.h"

#include <fnmatch.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "common/clock.h"
#include "common/host.h"
#include "imap/datetime.h"
#include "imap/utf7.h"
#include "repo/blob_saver.h"
#include "repo/chunker.h"
#include "vault/source/tree_nodes.h"
#include "vault/mail/layout.h"
#include "vault/mail/snapshot_reader.h"

namespace mx::vault {
using imap::Command;
using imap::Response;
using imap::Value;
using mail::FolderMeta;
using mail::MessageMeta;
using repo::BlobType;
using repo::Id;

namespace {

// Message bodies arrive as IMAP literals and go straight into the chunker;
// each finished chunk is hashed, deduplicated and stored by this thread.
class MessageSink : public imap::LiteralSink {
 public:
  MessageSink(repo::BlobSaver& saver, uint64_t pol, std::atomic<uint64_t>* bytes)
      : saver_(saver), chunker_(pol), bytes_(bytes) {}
  Status Write(const char* data, size_t n) override {
    size_ += n;
    *bytes_ += n;
    size_t pos = 0;
    while (pos < n) {
      size_t split = chunker_.Next(reinterpret_cast<const uint8_t*>(data) + pos, n - pos);
      if (split == 0) {
        cur_.append(data + pos, n - pos);
        break;
      }
      cur_.append(data + pos, split);
      pos += split;
      MX_CHECK(Emit());
    }
    return Ok();
  }
  Status Finish() override { return cur_.empty() ? Ok() : Emit(); }
  std::vector<Id> ids;
  uint64_t size() const { return size_; }

 private:
  Status Emit() {
    const auto* p = reinterpret_cast<const uint8_t*>(cur_.data());
    Id id = Id::Hash(p, cur_.size());
    auto r = saver_.Save(BlobType::kData, id, p, cur_.size());
    if (!r.ok()) return std::move(r).error();
    ids.push_back(id);
    cur_.clear();
    return Ok();
  }
  repo::BlobSaver& saver_;
  repo::Chunker chunker_;
  std::atomic<uint64_t>* bytes_;
  std::string cur_;
  uint64_t size_ = 0;
};

struct ListedFolder {
  FolderMeta meta;  // name, server_name, delimiter, attributes, selectable, path
};

struct Stored {  // one message as the snapshot will hold it
  MessageMeta meta;
  std::vector<Id> content;
};

struct FolderOut {
  FolderMeta meta;
  std::vector<Stored> messages;  // by UID
  bool vanished = false;         // deleted on the server during the backup
  bool unchanged = false;
  // Unchanged since the parent (same UIDVALIDITY, UIDNEXT, count and
  // HIGHESTMODSEQ): the parent's nodes are reused as they are.
  std::optional<std::vector<repo::Node>> reused_nodes;
  uint64_t reused_count = 0, reused_bytes = 0;
  uint64_t fetched = 0, reused = 0, vanished_msgs = 0, flags_changed = 0;
  // Survives reconnects: bodies already stored in this run.
  std::map<uint32_t, Stored> fetched_now;
  uint32_t fetched_uidvalidity = 0;
};

std::vector<std::string> FlagsOf(const Value& list) {
  std::vector<std::string> out;
  for (const auto& v : list.items)
    if (!v.Is("\\RECENT")) out.push_back(v.str());
  return out;
}

// UID, FLAGS and MODSEQ of a FETCH response's item list (uid 0 if absent).
MessageMeta FlagsUpdate(const Value& items) {
  MessageMeta mm;
  const auto& it = items.items;
  for (size_t i = 0; i + 1 < it.size(); i += 2) {
    const Value& v = it[i + 1];
    if (it[i].Is("UID") && v.is_number()) mm.uid = uint32_t(v.number);
    if (it[i].Is("FLAGS") && v.is_list()) mm.flags = FlagsOf(v);
    if (it[i].Is("MODSEQ") && v.is_list() && !v.items.empty()) mm.modseq = v.items[0].number;
  }
  return mm;
}

bool Matches(const std::vector<std::string>& globs, const std::string& name) {
  for (const auto& g : globs)
    if (fnmatch(g.c_str(), name.c_str(), 0) == 0) return true;
  return false;
}

Result<std::vector<Id>> SaveBytes(repo::BlobSaver& saver, uint64_t pol, const std::string& data) {
  std::atomic<uint64_t> ignored{0};
  MessageSink sink(saver, pol, &ignored);
  MX_CHECK(sink.Write(data.data(), data.size()));
  MX_CHECK(sink.Finish());
  return sink.ids;
}

class Backup {
 public:
  Backup(repo::Repository& repo, const ImapBackupOptions& opts, ImapBackupProgress* progress)
      : repo_(repo), opts_(opts), progress_(progress), saver_(repo), pol_(repo.config().chunker_polynomial) {}

  Result<ImapBackupSummary> Run();

 private:
  Result<std::vector<ListedFolder>> List(ImapClient& c);
  Status Folder(ImapClient& c, FolderOut& out);
  Status FetchBodies(ImapClient& c, FolderOut& out, const std::vector<uint32_t>& uids);
  Result<Id> SaveTree(repo::Tree& t) { return vault::SaveTree(saver_, t); }
  void Worker(std::unique_ptr<ImapClient> client);

  repo::Repository& repo_;
  const ImapBackupOptions& opts_;
  ImapBackupProgress* progress_;
  repo::BlobSaver saver_;
  uint64_t pol_;
  std::string caps_;
  Timestamp now_ = Now();

  std::unique_ptr<mail::MailSnapshot> parent_;
  std::map<std::string, mail::FolderRef> parent_folders_;  // by path
  std::map<std::string, nlohmann::json> parent_summary_;   // by path, from the parent's account file
  std::mutex parent_mu_;

  std::vector<FolderOut> outs_;
  std::mutex mu_;
  size_t next_ = 0;                 // GUARDED_BY(mu_)
  std::optional<Error> error_;      // GUARDED_BY(mu_)
};

Result<std::vector<ListedFolder>> Backup::List(ImapClient& c) {
  std::vector<ListedFolder> out;
  std::set<std::string> seen;
  auto on_list = [&](Response& r) -> Status {
    if (r.name != "LIST" || r.args.size() < 3 || !r.args[0].is_list()) return Ok();
    ListedFolder f;
    f.meta.server_name = r.args[2].str();
    if (!seen.insert(f.meta.server_name).second) return Ok();
    f.meta.delimiter = r.args[1].kind == Value::Kind::kNil || r.args[1].str().empty() ? 0 : r.args[1].str()[0];
    for (const auto& a : r.args[0].items) f.meta.attributes.push_back(a.str());
    for (const auto& a : r.args[0].items)
      if (a.Is("\\NOSELECT") || a.Is("\\NONEXISTENT")) f.meta.selectable = false;
    auto decoded = imap::DecodeMailboxName(f.meta.server_name);
    f.meta.name = decoded.ok() ? *decoded : f.meta.server_name;  // keep a name we cannot decode as sent
    if (imap::AsciiUpper(f.meta.name) == "INBOX") f.meta.name = "INBOX";
    f.meta.path = mail::FolderPath(f.meta.name, f.meta.delimiter);
    out.push_back(std::move(f));
    return Ok();
  };
  Command list("LIST");
  list.Raw("\"\"").Raw("*");
  if (c.Has("SPECIAL-USE") && c.Has("LIST-EXTENDED")) list.Raw("RETURN (SPECIAL-USE)");
  MX_CHECK(c.Run(list, on_list));
  // Other users' and shared namespaces are not always under "*".
  if (c.Has("NAMESPACE")) {
    std::vector<std::string> prefixes;
    MX_CHECK(c.Run(Command("NAMESPACE"), [&](Response& r) -> Status {
      if (r.name != "NAMESPACE") return Ok();
      for (size_t i = 1; i < r.args.size() && i < 3; ++i)
        if (r.args[i].is_list())
          for (const auto& ns : r.args[i].items)
            if (ns.is_list() && !ns.items.empty() && !ns.items[0].str().empty()) prefixes.push_back(ns.items[0].str());
      return Ok();
    }));
    for (const auto& p : prefixes) {
      Command l("LIST");
      l.Raw("\"\"").AString(p + "*");
      MX_CHECK(c.Run(l, on_list));
    }
  }
  return out;
}

Status Backup::FetchBodies(ImapClient& c, FolderOut& out, const std::vector<uint32_t>& uids) {
  bool condstore = c.Has("CONDSTORE") || c.Has("QRESYNC");
  auto decide = [&](const Response&, std::string_view key, uint64_t) -> std::unique_ptr<imap::LiteralSink> {
    if (imap::AsciiUpper(key) == "BODY[]") return std::make_unique<MessageSink>(saver_, pol_, &progress_->bytes_fetched);
    return nullptr;
  };
  auto on_fetch = [&](Response& r) -> Status {
    if (r.name != "FETCH" || r.args.empty() || !r.args[0].is_list()) return Ok();
    const auto& it = r.args[0].items;
    Stored s;
    bool have_uid = false, have_body = false;
    for (size_t i = 0; i + 1 < it.size(); i += 2) {
      const Value& k = it[i];
      const Value& v = it[i + 1];
      if (k.Is("UID") && v.is_number()) {
        s.meta.uid = uint32_t(v.number);
        have_uid = true;
      } else if (k.Is("FLAGS") && v.is_list()) {
        s.meta.flags = FlagsOf(v);
      } else if (k.Is("INTERNALDATE")) {
        s.meta.internaldate = v.str();
      } else if (k.Is("MODSEQ") && v.is_list() && !v.items.empty()) {
        s.meta.modseq = v.items[0].number;
      } else if (k.Is("BODY[]")) {
        if (v.kind == Value::Kind::kStreamed) {
          auto* sink = static_cast<MessageSink*>(r.streams[v.stream].get());
          s.content = sink->ids;
          s.meta.size = sink->size();
          have_body = true;
        } else if (v.kind == Value::Kind::kString) {  // a body sent as a quoted string
          s.content = MX_TRY(SaveBytes(saver_, pol_, v.str()));
          s.meta.size = v.str().size();
          have_body = true;
        }
      }
    }
    if (!have_uid || !have_body) return Ok();  // an unsolicited flag update
    progress_->messages_done += 1;
    ++out.fetched;
    out.fetched_now[s.meta.uid] = std::move(s);
    return Ok();
  };
  std::deque<std::string> inflight;
  size_t i = 0;
  std::string items = condstore ? "(UID FLAGS INTERNALDATE MODSEQ BODY.PEEK[])" : "(UID FLAGS INTERNALDATE BODY.PEEK[])";
  while (i < uids.size() || !inflight.empty()) {
    while (i < uids.size() && inflight.size() < std::max(1u, opts_.pipeline)) {
      size_t n = std::min(opts_.batch_messages, uids.size() - i);
      std::vector<uint32_t> batch(uids.begin() + long(i), uids.begin() + long(i + n));
      i += n;
      Command f("UID FETCH");
      f.Raw(imap::SequenceSet(batch)).Raw(items);
      inflight.push_back(MX_TRY(c.Send(f)));
    }
    std::string tag = inflight.front();
    inflight.pop_front();
    MX_CHECK(c.Await(tag, on_fetch, decide));
  }
  return Ok();
}

Status Backup::Folder(ImapClient& c, FolderOut& out) {
  FolderMeta& m = out.meta;
  bool condstore = c.Has("CONDSTORE") || c.Has("QRESYNC");
  bool qresync = c.Has("QRESYNC");
  Command ex("EXAMINE");
  ex.AString(m.server_name);
  if (condstore) ex.Raw("(CONDSTORE)");
  uint64_t exists = 0;
  bool nomodseq = false;
  m.uidvalidity = m.uidnext = 0;
  m.highestmodseq = 0;
  auto on_examine = [&](Response& r) -> Status {
    if (r.name == "EXISTS") exists = r.number;
    if (r.code == "UIDVALIDITY" && !r.code_args.empty()) m.uidvalidity = uint32_t(r.code_args[0].number);
    if (r.code == "UIDNEXT" && !r.code_args.empty()) m.uidnext = uint32_t(r.code_args[0].number);
    if (r.code == "HIGHESTMODSEQ" && !r.code_args.empty()) m.highestmodseq = r.code_args[0].number;
    if (r.code == "NOMODSEQ") nomodseq = true;
    return Ok();
  };
  auto examined = c.Run(ex, on_examine);
  if (!examined.ok()) {
    if (examined.error().code() == Code::kImapRefused &&
        examined.error().cause().find("NONEXISTENT") != std::string::npos) {
      out.vanished = true;
      return Ok();
    }
    return examined.error().Wrap("cannot open folder '" + m.name + "'", c.account().Url());
  }
  if (nomodseq) m.highestmodseq = 0;

  // Unchanged since the parent: one EXAMINE, nothing parsed or rewritten.
  if (parent_ && !opts_.force && m.highestmodseq != 0) {
    std::optional<mail::FolderRef> ref;
    nlohmann::json summary;
    {
      std::lock_guard<std::mutex> l(parent_mu_);
      auto it = parent_folders_.find(m.path);
      auto js = parent_summary_.find(m.path);
      if (it != parent_folders_.end() && js != parent_summary_.end()) {
        ref = it->second;
        summary = js->second;
      }
    }
    auto num = [&](const char* k) { return summary.contains(k) && summary[k].is_number() ? summary[k].get<uint64_t>() : 0; };
    if (ref && summary.contains("bytes") && num("uidvalidity") == m.uidvalidity && num("uidnext") == m.uidnext &&
        num("highestmodseq") == m.highestmodseq && num("messages") == exists) {
      repo::Tree t = MX_TRY(repo_.LoadTree(ref->dir_tree));
      std::vector<repo::Node> keep;
      for (auto& n : t.nodes)
        if (n.type != "dir" || n.name == "cur" || n.name == "new" || n.name == "tmp") keep.push_back(std::move(n));
      out.reused_nodes = std::move(keep);
      out.reused_count = exists;
      out.reused_bytes = num("bytes");
      out.unchanged = true;
      return Ok();
    }
  }

  // The parent's copy of this folder, if it is the same (UIDVALIDITY).
  std::optional<FolderMeta> prev;
  std::map<std::string, repo::Node> prev_nodes;
  if (parent_ && !opts_.force) {
    std::optional<mail::FolderRef> ref;
    {
      std::lock_guard<std::mutex> l(parent_mu_);
      auto it = parent_folders_.find(m.path);
      if (it != parent_folders_.end()) ref = it->second;
    }
    if (ref) {
      FolderMeta pm = MX_TRY(parent_->LoadFolder(*ref));
      if (pm.uidvalidity == m.uidvalidity && m.uidvalidity != 0) {
        prev = std::move(pm);
        prev_nodes = MX_TRY(parent_->Messages(*ref));
      }
    }
  }
  if (out.fetched_uidvalidity != m.uidvalidity) out.fetched_now.clear();  // a reconnect saw a new UIDVALIDITY
  out.fetched_uidvalidity = m.uidvalidity;

  std::map<uint32_t, MessageMeta> current;  // what the server holds now
  std::map<uint32_t, const MessageMeta*> prev_by_uid;
  if (prev)
    for (const auto& pm : prev->messages) prev_by_uid[pm.uid] = &pm;

  bool unchanged = prev && exists == prev->messages.size() && m.uidnext == prev->uidnext && m.highestmodseq != 0 &&
                   m.highestmodseq == prev->highestmodseq;
  if (unchanged) {
    for (const auto& pm : prev->messages) current[pm.uid] = pm;
    out.unchanged = true;
  } else if (prev && qresync && prev->highestmodseq != 0) {
    for (const auto& pm : prev->messages) current[pm.uid] = pm;
    Command f("UID FETCH");
    f.Raw("1:*").Raw("(UID FLAGS)").Raw("(CHANGEDSINCE " + std::to_string(prev->highestmodseq) + " VANISHED)");
    MX_CHECK(c.Run(f, [&](Response& r) -> Status {
      if (r.name == "VANISHED") {
        const Value* set = r.args.empty() ? nullptr : &r.args.back();
        std::vector<uint32_t> gone;
        if (set && !imap::ParseSequenceSet(set->str(), &gone))
          return Error(Code::kProtocol, "the IMAP server sent a malformed VANISHED set", c.account().Url(), r.Summary());
        for (uint32_t u : gone) out.vanished_msgs += current.erase(u);
        return Ok();
      }
      if (r.name != "FETCH" || r.args.empty() || !r.args[0].is_list()) return Ok();
      MessageMeta mm = FlagsUpdate(r.args[0]);
      if (mm.uid == 0) return Ok();
      auto cur = current.find(mm.uid);
      if (cur != current.end()) {
        if (cur->second.flags != mm.flags) ++out.flags_changed;
        cur->second.flags = mm.flags;
        cur->second.modseq = mm.modseq;
      } else {
        current[mm.uid] = mm;
      }
      return Ok();
    }));
  } else if (exists > 0) {
    Command f("UID FETCH");
    f.Raw("1:*").Raw(condstore && m.highestmodseq ? "(UID FLAGS MODSEQ)" : "(UID FLAGS)");
    MX_CHECK(c.Run(f, [&](Response& r) -> Status {
      if (r.name != "FETCH" || r.args.empty() || !r.args[0].is_list()) return Ok();
      MessageMeta mm = FlagsUpdate(r.args[0]);
      if (mm.uid == 0) return Ok();
      auto p = prev_by_uid.find(mm.uid);
      if (p != prev_by_uid.end()) {
        if (p->second->flags != mm.flags) ++out.flags_changed;
        MessageMeta keep = *p->second;
        keep.flags = mm.flags;
        keep.modseq = mm.modseq;
        current[mm.uid] = keep;
      } else {
        current[mm.uid] = mm;
      }
      return Ok();
    }));
    if (prev)
      for (const auto& pm : prev->messages) out.vanished_msgs += current.count(pm.uid) ? 0 : 1;
  }

  // Bodies: only UIDs neither the parent nor an earlier attempt holds.
  std::vector<uint32_t> need;
  for (const auto& [uid, mm] : current)
    if (!prev_by_uid.count(uid) && !out.fetched_now.count(uid)) need.push_back(uid);
  MX_CHECK(FetchBodies(c, out, need));

  out.messages.clear();
  for (auto& [uid, mm] : current) {
    Stored s;
    if (auto f = out.fetched_now.find(uid); f != out.fetched_now.end()) {
      s = f->second;  // the body fetch's flags are the newest
    } else if (auto p = prev_by_uid.find(uid); p != prev_by_uid.end()) {
      auto node = prev_nodes.find(p->second->file);
      if (node == prev_nodes.end())
        return Error(Code::kBadFormat, "the parent snapshot lacks a message its metadata lists",
                     m.path + "/cur/" + p->second->file, "", "run the backup with --force to fetch every message");
      s.meta = mm;
      s.meta.size = p->second->size;
      s.meta.internaldate = p->second->internaldate;
      s.content = node->second.content;
      ++out.reused;
    } else {
      continue;  // expunged before its body was fetched
    }
    out.messages.push_back(std::move(s));
  }
  return Ok();
}

void Backup::Worker(std::unique_ptr<ImapClient> client) {
  while (true) {
    size_t idx;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (error_ || next_ >= outs_.size()) break;
      idx = next_++;
    }
    FolderOut& out = outs_[idx];
    if (!out.meta.selectable) {
      progress_->folders_done += 1;
      continue;
    }
    Status st = Ok();
    for (int attempt = 0; attempt <= opts_.retries; ++attempt) {
      if (!client) {
        auto c = ImapClient::Connect(opts_.account, opts_.login);
        if (!c.ok()) {
          st = c.error();
          if (st.error().code() != Code::kNetwork) break;
          progress_->reconnects += 1;
          std::this_thread::sleep_for(std::chrono::milliseconds(500 * (attempt + 1)));
          continue;
        }
        client = std::move(*c);
      }
      st = Folder(*client, out);
      if (st.ok() || st.error().code() != Code::kNetwork) break;
      client.reset();  // the connection is gone; resume on a new one
      progress_->reconnects += 1;
    }
    if (!st.ok()) {
      std::lock_guard<std::mutex> l(mu_);
      if (!error_) error_ = st.error().Wrap("cannot back up folder '" + out.meta.name + "'", opts_.account.Url());
      break;
    }
    progress_->folders_done += 1;
  }
  if (client) client->Logout();
}

Result<ImapBackupSummary> Backup::Run() {
  auto start = std::chrono::steady_clock::now();
  std::string account_name = opts_.account_name.empty() ? opts_.account.user : opts_.account_name;
  if (!repo::UnsafeNameReason(account_name).empty())
    return Error(Code::kUsage, "the account name cannot be a directory name", account_name,
                 repo::UnsafeNameReason(account_name), "pass --account NAME without '/'");
  ImapBackupSummary sum;

  // The parent: the newest mailbox snapshot of the same account.
  if (!opts_.force) {
    std::optional<std::pair<Id, repo::Snapshot>> parent;
    if (opts_.parent) {
      Bytes raw = MX_TRY(repo_.LoadFile(repo::FileType::kSnapshot, *opts_.parent));
      parent = {*opts_.parent, MX_TRY(repo::ParseSnapshot(raw, opts_.parent->Hex()))};
    } else {
      auto snaps = MX_TRY(repo_.ListSnapshots());
      for (auto it = snaps.rbegin(); it != snaps.rend(); ++it) {
        const auto& s = it->second;
        if (s.paths == std::vector<std::string>{"/" + account_name} &&
            std::find(s.tags.begin(), s.tags.end(), "imap") != s.tags.end()) {
          parent = *it;
          break;
        }
      }
    }
    if (parent) {
      sum.parent = parent->first;
      parent_ = MX_TRY(mail::MailSnapshot::Open(repo_, parent->second, parent->first.Short()));
      for (const auto& f : MX_TRY(parent_->Folders())) parent_folders_[f.path] = f;
      const auto& listed = parent_->account_meta();
      if (listed.contains("folders") && listed["folders"].is_array())
        for (const auto& f : listed["folders"])
          if (f.is_object() && f.contains("path") && f["path"].is_string()) parent_summary_[f["path"]] = f;
    }
  }

  auto first = MX_TRY(ImapClient::Connect(opts_.account, opts_.login));
  sum.server = first->Describe();
  std::vector<ListedFolder> listed = MX_TRY(List(*first));
  for (auto& f : listed) {
    std::string shown = mail::DisplayName(f.meta);
    if (!opts_.include.empty() && !Matches(opts_.include, shown)) continue;
    if (Matches(opts_.exclude, shown)) continue;
    FolderOut o;
    o.meta = f.meta;
    outs_.push_back(std::move(o));
  }
  // Big folders first would balance better; without sizes, the server's order.
  progress_->folders_total = outs_.size();
  unsigned n = std::max(1u, std::min<unsigned>(opts_.connections, unsigned(outs_.size())));
  std::vector<std::thread> threads;
  threads.emplace_back([this, c = std::move(first)]() mutable { Worker(std::move(c)); });
  for (unsigned i = 1; i < n; ++i) threads.emplace_back([this] { Worker(nullptr); });
  for (auto& t : threads) t.join();
  if (error_) {
    // Keep what was uploaded: indexed now, it is not uploaded again.
    (void)saver_.Finish();
    return *error_;
  }

  // The account tree, folder by folder.
  struct Dir {
    std::map<std::string, Dir> children;
    std::vector<repo::Node> files;
  };
  Dir root;
  Id empty = MX_TRY([&]() -> Result<Id> {
    repo::Tree t;
    return SaveTree(t);
  }());
  nlohmann::json folders = nlohmann::json::array();
  for (auto& o : outs_) {
    if (o.vanished) continue;
    Dir* d = &root;
    size_t start = 0;
    const std::string& path = o.meta.path;
    while (true) {
      size_t slash = path.find('/', start);
      d = &d->children[path.substr(start, slash == std::string::npos ? std::string::npos : slash - start)];
      if (slash == std::string::npos) break;
      start = slash + 1;
    }
    nlohmann::json entry = {{"name", o.meta.name}, {"path", o.meta.path}, {"server_name", o.meta.server_name},
                            {"delimiter", o.meta.delimiter ? std::string(1, o.meta.delimiter) : ""},
                            {"attributes", o.meta.attributes}, {"selectable", o.meta.selectable},
                            {"uidvalidity", o.meta.uidvalidity}, {"uidnext", o.meta.uidnext},
                            {"highestmodseq", o.meta.highestmodseq}};
    ++sum.folders;
    if (!o.meta.selectable) {
      folders.push_back(entry);
      continue;
    }
    sum.folders_unchanged += o.unchanged;
    if (o.reused_nodes) {
      d->files = std::move(*o.reused_nodes);
      sum.messages += o.reused_count;
      sum.messages_reused += o.reused_count;
      sum.bytes_total += o.reused_bytes;
      entry["messages"] = o.reused_count;
      entry["bytes"] = o.reused_bytes;
      folders.push_back(entry);
      continue;
    }
    sum.messages_fetched += o.fetched;
    sum.messages_reused += o.reused;
    sum.messages_vanished += o.vanished_msgs;
    sum.flags_changed += o.flags_changed;
    o.meta.messages.clear();
    for (auto& s : o.messages) o.meta.messages.push_back(s.meta);
    auto letters = mail::KeywordLetters(o.meta.messages);
    repo::Tree cur;
    uint64_t bytes = 0;
    // Directory and metadata times are the newest internal date, not the
    // time of the run, so an unchanged folder's trees are the same blobs.
    Timestamp newest{0, 0};
    for (size_t i = 0; i < o.messages.size(); ++i) {
      auto& s = o.messages[i];
      s.meta.file = mail::MessageFileName(o.meta.uidvalidity, s.meta, letters);
      o.meta.messages[i].file = s.meta.file;
      auto date = imap::ParseDateTime(s.meta.internaldate);
      Timestamp t = date ? Timestamp{date->epoch, 0} : Timestamp{0, 0};
      newest = std::max(newest, t);
      cur.nodes.push_back(FileNode(s.meta.file, s.meta.size, s.content, t));
      bytes += s.meta.size;
    }
    sum.bytes_total += bytes;
    sum.messages += o.messages.size();
    entry["messages"] = o.messages.size();
    entry["bytes"] = bytes;
    folders.push_back(entry);
    d->files.push_back(DirNode("cur", MX_TRY(SaveTree(cur)), newest));
    d->files.push_back(DirNode("new", empty, newest));
    d->files.push_back(DirNode("tmp", empty, newest));
    std::string meta = mail::FolderToJson(o.meta).dump(1) + "\n";
    d->files.push_back(FileNode(mail::kFolderFile, meta.size(), MX_TRY(SaveBytes(saver_, pol_, meta)), newest));
    if (!letters.empty()) {
      std::string kw = mail::KeywordsFile(letters);
      d->files.push_back(FileNode(mail::kKeywordsFile, kw.size(), MX_TRY(SaveBytes(saver_, pol_, kw)), newest));
    }
  }
  nlohmann::json acct = {{"format", 1},
                         {"kind", "imap-account"},
                         {"server", opts_.account.Url()},
                         {"user", opts_.account.user},
                         {"account", account_name},
                         {"time", FormatRfc3339(now_)},
                         {"folders", folders}};
  std::string acct_text = acct.dump(1) + "\n";
  root.files.push_back(FileNode(mail::kAccountFile, acct_text.size(), MX_TRY(SaveBytes(saver_, pol_, acct_text)), now_));

  // A directory's time is its newest entry's (stable while nothing changes).
  std::function<Result<std::pair<Id, Timestamp>>(Dir&)> save_dir = [&](Dir& d) -> Result<std::pair<Id, Timestamp>> {
    repo::Tree t;
    t.nodes = std::move(d.files);
    for (auto& [name, child] : d.children) {
      auto [id, when] = MX_TRY(save_dir(child));
      t.nodes.push_back(DirNode(name, id, when));
    }
    Timestamp newest{0, 0};
    for (const auto& n : t.nodes) newest = std::max(newest, n.mtime);
    return std::make_pair(MX_TRY(SaveTree(t)), newest);
  };
  Id account_tree = MX_TRY(save_dir(root)).first;
  repo::Tree top;
  top.nodes.push_back(DirNode(account_name, account_tree, now_));
  Id top_id = MX_TRY(SaveTree(top));
  MX_CHECK(saver_.Finish());

  repo::Snapshot snap;
  snap.time = now_;
  snap.parent = sum.parent;
  snap.tree = top_id;
  snap.paths = {"/" + account_name};
  snap.hostname = opts_.hostname.empty() ? Hostname() : opts_.hostname;
  snap.username = Username();
  snap.uid = getuid();
  snap.gid = getgid();
  snap.tags = {"imap", "server:" + opts_.account.host};
  for (const auto& t : opts_.tags) snap.tags.push_back(t);
  snap.program_version = opts_.program_version;
  sum.snapshot_id = MX_TRY(repo_.SaveFile(repo::FileType::kSnapshot, repo::SerializeSnapshot(snap)));
  sum.bytes_fetched = progress_->bytes_fetched;
  sum.reconnects = progress_->reconnects;
  sum.data_added = saver_.stats().bytes_added;
  sum.data_added_packed = saver_.stats().bytes_added_packed;
  sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return sum;
}

}  // namespace

Result<ImapBackupSummary> BackupImap(repo::Repository& repo, const ImapBackupOptions& opts, ImapBackupProgress* progress) {
  Backup b(repo, opts, progress);
  return b.Run();
}

}  // namespace mx::vault
