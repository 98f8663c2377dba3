#include "vault/restore/mail_restore.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <deque>
#include <set>
#include <tuple>

#include "common/fs.h"
#include "imap/datetime.h"
#include "imap/response.h"
#include "imap/utf7.h"

namespace mx::vault {
using imap::Command;
using imap::Response;
using imap::Value;

namespace {


// What identifies a message on the target without fetching its body.
using Key = std::tuple<uint64_t, int64_t, std::string>;  // size, internal date, Message-ID

Key KeyOf(uint64_t size, const std::string& internaldate, const std::string& message_id) {
  auto d = imap::ParseDateTime(internaldate);
  return {size, d ? d->epoch : 0, message_id};
}

std::vector<mail::MessageMeta> Select(const mail::FolderMeta& f, const std::string& message) {
  if (message.empty()) return f.messages;
  std::vector<mail::MessageMeta> out;
  for (const auto& m : f.messages)
    if (std::to_string(m.uid) == message || m.file == message) out.push_back(m);
  return out;
}

Status MakeDirs(const std::string& path) {
  std::string cur;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    cur = path.substr(0, slash);
    if (!cur.empty() && mkdir(cur.c_str(), 0700) != 0 && errno != EEXIST)
      return ErrnoError("cannot create directory", cur, errno);
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return Ok();
}

Status WriteNew(const std::string& path, std::string_view data, int64_t mtime) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoError("cannot create file", path, errno);
  Status st = WriteFull(fd, reinterpret_cast<const uint8_t*>(data.data()), data.size(), -1, path);
  close(fd);
  MX_CHECK(st);
  if (mtime) {
    timespec ts[2] = {{mtime, 0}, {mtime, 0}};
    utimensat(AT_FDCWD, path.c_str(), ts, 0);
  }
  return Ok();
}

}  // namespace

std::string HeaderValue(std::string_view msg, std::string_view name) {
  size_t pos = 0;
  while (pos < msg.size()) {
    size_t eol = msg.find('\n', pos);
    std::string_view line = msg.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;  // end of the header
    size_t colon = line.find(':');
    if (colon != std::string_view::npos && imap::AsciiIEquals(line.substr(0, colon), name)) {
      std::string v(line.substr(colon + 1));
      size_t next = eol == std::string_view::npos ? msg.size() : eol + 1;
      while (next < msg.size() && (msg[next] == ' ' || msg[next] == '\t')) {  // folded
        size_t e = msg.find('\n', next);
        std::string_view cont = msg.substr(next, e == std::string_view::npos ? std::string_view::npos : e - next);
        if (!cont.empty() && cont.back() == '\r') cont.remove_suffix(1);
        v += " ";
        v += cont;
        next = e == std::string_view::npos ? msg.size() : e + 1;
      }
      size_t a = v.find_first_not_of(" \t"), b = v.find_last_not_of(" \t");
      return a == std::string::npos ? "" : v.substr(a, b - a + 1);
    }
    if (eol == std::string_view::npos) break;
    pos = eol + 1;
  }
  return "";
}

Result<MailSelection> ParseMailSelection(mail::MailSnapshot& snap, const std::string& spec) {
  MailSelection sel;
  if (spec.empty()) return sel;
  auto whole = snap.FindFolder(spec);
  if (whole.ok()) {
    sel.folder = spec;
    return sel;
  }
  size_t slash = spec.rfind('/');
  if (slash == std::string::npos) return whole.error();
  auto folder = snap.FindFolder(spec.substr(0, slash));
  if (!folder.ok()) return whole.error();
  sel.folder = spec.substr(0, slash);
  sel.message = spec.substr(slash + 1);
  mail::FolderMeta m = MX_TRY(snap.LoadFolder(*folder));
  if (Select(m, sel.message).empty())
    return Error(Code::kMailNotFound, "no such message in the snapshot's folder", spec,
                 "give a UID or a file name as `mxvault mail ls SNAPSHOT:" + sel.folder + "` lists them");
  return sel;
}

Result<MailRestoreSummary> RestoreMailToImap(mail::MailSnapshot& snap, const MailSelection& sel,
                                             const MailRestoreOptions& opts, std::atomic<uint64_t>* done) {
  auto start = std::chrono::steady_clock::now();
  MailRestoreSummary sum;
  std::vector<mail::FolderRef> refs;
  if (sel.folder.empty()) refs = MX_TRY(snap.Folders());
  else refs.push_back(MX_TRY(snap.FindFolder(sel.folder)));

  auto client = MX_TRY(ImapClient::Connect(opts.to, opts.login));
  // The target's hierarchy delimiter and existing folders.
  char delim = '/';
  std::set<std::string> existing;  // decoded names
  MX_CHECK(client->Run(Command("LIST").Raw("\"\"").Raw("*"), [&](Response& r) -> Status {
    if (r.name != "LIST" || r.args.size() < 3) return Ok();
    if (r.args[1].kind == Value::Kind::kString && !r.args[1].str().empty()) delim = r.args[1].str()[0];
    auto n = imap::DecodeMailboxName(r.args[2].str());
    existing.insert(n.ok() ? *n : r.args[2].str());
    return Ok();
  }));
  auto to_target = [&](std::string name) {  // '/'-separated display name → the target's delimiter
    for (char& c : name)
      if (c == '/') c = delim;
    return name;
  };

  for (const auto& ref : refs) {
    mail::FolderMeta f = MX_TRY(snap.LoadFolder(ref));
    if (!f.selectable) continue;
    std::string shown = mail::DisplayName(f);
    std::string target;
    if (opts.into.empty()) target = shown;
    else if (!sel.folder.empty()) target = opts.into;  // one folder: its messages go into --into
    else target = opts.into + "/" + shown;
    if (imap::AsciiUpper(target) == "INBOX") target = "INBOX";
    std::string wire = to_target(target);
    ++sum.folders;
    if (!existing.count(wire) && wire != "INBOX") {
      auto r = client->Run(Command("CREATE").Mailbox(wire));
      if (!r.ok() && r.error().code() == Code::kImapRefused &&
          r.error().cause().find("ALREADYEXISTS") == std::string::npos) {
        // RFC 3501 lets a server refuse to create missing parents: create
        // them one by one, then the folder again.
        size_t at = 0;
        while ((at = wire.find(delim, at + 1)) != std::string::npos)
          if (existing.insert(wire.substr(0, at)).second) (void)client->Run(Command("CREATE").Mailbox(wire.substr(0, at)));
        r = client->Run(Command("CREATE").Mailbox(wire));
      }
      if (!r.ok() && r.error().cause().find("ALREADYEXISTS") == std::string::npos)
        return r.error().Wrap("cannot create folder '" + target + "' for the restore", opts.to.Url());
      existing.insert(wire);
      ++sum.folders_created;
    }
    auto wanted = Select(f, sel.message);
    if (wanted.empty()) continue;

    // What the target folder already holds, by size, date and Message-ID.
    std::multiset<Key> present;
    uint64_t exists = 0;
    MX_CHECK(client->Run(Command("EXAMINE").Mailbox(wire), [&](Response& r) -> Status {
      if (r.name == "EXISTS") exists = r.number;
      return Ok();
    }));
    if (exists > 0) {
      MX_CHECK(client->Run(Command("FETCH").Raw("1:*").Raw("(RFC822.SIZE INTERNALDATE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])"),
                           [&](Response& r) -> Status {
                             if (r.name != "FETCH" || r.args.empty() || !r.args[0].is_list()) return Ok();
                             uint64_t size = 0;
                             std::string date, mid;
                             const auto& it = r.args[0].items;
                             for (size_t i = 0; i + 1 < it.size(); i += 2) {
                               if (it[i].Is("RFC822.SIZE")) size = it[i + 1].number;
                               else if (it[i].Is("INTERNALDATE")) date = it[i + 1].str();
                               else if (it[i].kind == Value::Kind::kAtom && it[i].str().rfind("BODY[", 0) == 0)
                                 mid = HeaderValue(it[i + 1].str(), "Message-ID");
                             }
                             present.insert(KeyOf(size, date, mid));
                             return Ok();
                           }));
    }
    MX_CHECK(client->Run(Command("CLOSE")));

    auto nodes = MX_TRY(snap.Messages(ref));
    std::deque<std::string> inflight;
    bool plus = client->Has("LITERAL+");
    for (const auto& m : wanted) {
      auto node = nodes.find(m.file);
      if (node == nodes.end())
        return Error(Code::kBadFormat, "the snapshot lacks a message its metadata lists", ref.path + "/cur/" + m.file, "");
      std::string body = MX_TRY(snap.Read(node->second));
      auto key = KeyOf(body.size(), m.internaldate, HeaderValue(body, "Message-ID"));
      if (auto p = present.find(key); p != present.end()) {
        present.erase(p);
        ++sum.present;
        continue;
      }
      std::string flags;
      for (const auto& fl : m.flags) {
        if (imap::AsciiUpper(fl) == "\\RECENT" || (fl[0] != '\\' && !imap::IsAtom(fl))) continue;
        flags += (flags.empty() ? "" : " ") + fl;
      }
      Command app("APPEND");
      app.Mailbox(wire).Raw("(" + flags + ")");
      if (!m.internaldate.empty()) app.String(m.internaldate);
      app.Literal(body);
      if (plus) {
        inflight.push_back(MX_TRY(client->Send(app)));
        if (inflight.size() >= opts.pipeline) {
          MX_CHECK(client->Await(inflight.front()));
          inflight.pop_front();
        }
      } else {
        MX_CHECK(client->Run(app));
      }
      ++sum.appended;
      sum.bytes += body.size();
      if (done) *done += 1;
    }
    while (!inflight.empty()) {
      MX_CHECK(client->Await(inflight.front()));
      inflight.pop_front();
    }
  }
  client->Logout();
  sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return sum;
}

Result<MailExportSummary> ExportMail(mail::MailSnapshot& snap, const MailSelection& sel, const std::string& format,
                                     const std::string& target) {
  if (format != "maildir" && format != "mbox" && format != "eml")
    return Error(Code::kUsage, "unknown export format", format, "", "use maildir, mbox or eml");
  MailExportSummary sum;
  std::vector<mail::FolderRef> refs;
  if (sel.folder.empty()) refs = MX_TRY(snap.Folders());
  else refs.push_back(MX_TRY(snap.FindFolder(sel.folder)));
  MX_CHECK(MakeDirs(target));
  for (const auto& ref : refs) {
    // Every level of the path is checked: nothing lands outside the target.
    size_t s = 0;
    while (true) {
      size_t slash = ref.path.find('/', s);
      std::string level = ref.path.substr(s, slash == std::string::npos ? std::string::npos : slash - s);
      if (!repo::UnsafeNameReason(level).empty())
        return Error(Code::kUnsafePath, "the snapshot names a folder that would be written outside the target", ref.path,
                     repo::UnsafeNameReason(level));
      if (slash == std::string::npos) break;
      s = slash + 1;
    }
    mail::FolderMeta f = MX_TRY(snap.LoadFolder(ref));
    if (!f.selectable) continue;
    auto nodes = MX_TRY(snap.Messages(ref));
    auto wanted = Select(f, sel.message);
    std::string dir = target + "/" + ref.path;
    ++sum.folders;
    int mbox_fd = -1;
    if (format == "maildir") {
      for (const char* sub : {"cur", "new", "tmp"}) MX_CHECK(MakeDirs(dir + "/" + sub));
    } else if (format == "eml") {
      MX_CHECK(MakeDirs(dir));
    } else {
      size_t slash = dir.rfind('/');
      MX_CHECK(MakeDirs(dir.substr(0, slash)));
      std::string path = dir + ".mbox";
      mbox_fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      if (mbox_fd < 0) return ErrnoError("cannot create mbox file", path, errno);
    }
    for (const auto& m : wanted) {
      auto node = nodes.find(m.file);
      if (node == nodes.end() || !repo::UnsafeNameReason(m.file).empty())
        return Error(Code::kBadFormat, "the snapshot lacks a message its metadata lists", ref.path + "/cur/" + m.file, "");
      std::string body = MX_TRY(snap.Read(node->second));
      auto date = imap::ParseDateTime(m.internaldate);
      int64_t mtime = date ? date->epoch : 0;
      if (format == "maildir") {
        MX_CHECK(WriteNew(dir + "/cur/" + m.file, body, mtime));
      } else if (format == "eml") {
        MX_CHECK(WriteNew(dir + "/" + std::to_string(m.uid) + ".eml", body, mtime));
      } else {
        // mboxrd: "From " separator, ">From " quoting (reversible), LF lines.
        std::string out = "From MAILER-DAEMON " + (date ? imap::FormatDateTime({date->epoch, 0}) : std::string("")) + "\n";
        size_t pos = 0;
        while (pos < body.size()) {
          size_t eol = body.find('\n', pos);
          std::string_view line(body.data() + pos, (eol == std::string::npos ? body.size() : eol) - pos);
          if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
          size_t k = line.find_first_not_of('>');
          if (k != std::string_view::npos && line.substr(k, 5) == "From ") out += '>';
          out.append(line);
          out += '\n';
          if (eol == std::string::npos) break;
          pos = eol + 1;
        }
        out += '\n';
        Status st = WriteFull(mbox_fd, reinterpret_cast<const uint8_t*>(out.data()), out.size(), -1, dir + ".mbox");
        if (!st.ok()) {
          close(mbox_fd);
          return st.error();
        }
      }
      ++sum.messages;
      sum.bytes += body.size();
    }
    if (mbox_fd >= 0) close(mbox_fd);
  }
  return sum;
}

}  // namespace mx::vault
