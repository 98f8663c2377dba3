#include "store_server/imapd/imap_service.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <thread>

#include "common/bytes.h"
#include "common/log.h"
#include "imap/command.h"
#include "imap/command_parser.h"
#include "imap/datetime.h"
#include "imap/utf7.h"
#include "store/mime/mime_tree.h"
#include "store_server/imapd/fetch_format.h"
#include "store_server/imapd/search_program.h"

namespace mx::imapd {
namespace {

using imap::ParsedCommand;
using imap::Value;
using store::MessageRecord;

// The parser reads from the connection, through TLS once it is on; a read
// that times out is the autologout timer (RFC 3501 §5.4).
class ConnInput : public imap::Input {
 public:
  ConnInput(net::Conn& c, std::unique_ptr<net::TlsSession>& tls) : c_(c), tls_(tls) {}
  Result<size_t> Read(char* buf, size_t n) override {
    size_t k = tls_ ? tls_->Read(buf, n) : c_.Read(buf, n);
    if (k == 0 && c_.timed_out())
      return Error(Code::kNetwork, "autologout", c_.peer(), "the client was idle past the autologout timer");
    return k;
  }

 private:
  net::Conn& c_;
  std::unique_ptr<net::TlsSession>& tls_;
};

struct SystemFlag {
  const char* name;
  uint32_t bit;
};
constexpr SystemFlag kSystemFlags[] = {{"\\Seen", store::kSeen},       {"\\Answered", store::kAnswered},
                                       {"\\Flagged", store::kFlagged}, {"\\Deleted", store::kDeleted},
                                       {"\\Draft", store::kDraft}};

std::string FlagList(const MessageRecord& m) {
  std::string out = "(";
  for (const auto& f : kSystemFlags)
    if (m.flags & f.bit) out += (out.size() > 1 ? " " : "") + std::string(f.name);
  for (const auto& k : m.keywords) out += (out.size() > 1 ? " " : "") + k;
  return out + ")";
}

// LIST wildcards: '*' matches anything, '%' anything but the separator.
bool Wildcard(std::string_view pat, std::string_view name) {
  if (pat.empty()) return name.empty();
  if (pat[0] == '*') {
    for (size_t i = 0; i <= name.size(); ++i)
      if (Wildcard(pat.substr(1), name.substr(i))) return true;
    return false;
  }
  if (pat[0] == '%') {
    for (size_t i = 0; i <= name.size(); ++i) {
      if (Wildcard(pat.substr(1), name.substr(i))) return true;
      if (i < name.size() && name[i] == '/') return false;
    }
    return false;
  }
  return !name.empty() && pat[0] == name[0] && Wildcard(pat.substr(1), name.substr(1));
}

// The header fields named in `names` (or all others, with `negate`), each
// with its continuation lines, then the blank line (RFC 3501 §6.4.5).
std::string HeaderFields(std::string_view header, const std::vector<std::string>& names, bool negate) {
  std::string out;
  bool keep = false;
  size_t pos = 0;
  while (pos < header.size()) {
    size_t eol = header.find('\n', pos);
    size_t end = eol == std::string_view::npos ? header.size() : eol + 1;
    std::string_view line = header.substr(pos, end - pos);
    pos = end;
    if (line == "\r\n" || line == "\n") break;
    if (line[0] != ' ' && line[0] != '\t') {
      size_t colon = line.find(':');
      std::string_view field = line.substr(0, colon == std::string_view::npos ? 0 : colon);
      while (!field.empty() && (field.back() == ' ' || field.back() == '\t')) field.remove_suffix(1);
      bool named = std::any_of(names.begin(), names.end(), [&](const std::string& n) { return imap::AsciiIEquals(n, field); });
      keep = colon != std::string_view::npos && named != negate;
    }
    if (keep) out += line;
  }
  return out + "\r\n";
}

class Session {
 public:
  Session(store::Store* store, const Options& o, net::Conn& conn, const net::TlsServerContext* tls_ctx,
          UserSessions* sessions)
      : store_(store), o_(o), conn_(conn), tls_ctx_(tls_ctx), sessions_(sessions), input_(conn, tls_),
        parser_(input_, Limits(o)) {}
  ~Session() {
    if (!mailbox_.empty()) sessions_->Release(mailbox_);
  }
  void Run(bool implicit_tls);

 private:
  /// Where a folder lives: the user's own mailbox, or a public folder the
  /// user was granted (under "Public/").
  struct Place {
    std::shared_ptr<store::Database> db;
    std::string mailbox, folder;
    bool writable = true;
  };
  static imap::CommandLimits Limits(const Options& o) {
    imap::CommandLimits l;
    l.max_line = o.max_line;
    l.max_literal = o.append_limit;
    l.max_literal_total = o.append_limit * 4;
    l.max_discard = o.append_limit;
    return l;
  }
  std::string Capabilities() const;
  bool Send(std::string_view s) { return tls_ ? tls_->Write(s) : conn_.Write(s); }
  /// STARTTLS: OK, then the handshake; false when the session must end.
  bool StartTls(const std::string& tag);
  bool PlaintextAuthAllowed() const { return tls_ || conn_.loopback() || o_.allow_plaintext_auth; }
  // Each handler writes its untagged data and returns the tagged reply's
  // status and text ("OK FETCH done").
  std::string Dispatch(const ParsedCommand& c);
  std::string Login(const std::string& user, const std::string& password);
  std::string Authenticate(const ParsedCommand& c);
  std::string List(const ParsedCommand& c, bool lsub);
  std::string Select(const ParsedCommand& c, bool read_only);
  std::string FolderStatus(const ParsedCommand& c);
  /// "MESSAGES 3 UIDNEXT 9" for STATUS and LIST-STATUS; "" or the error reply.
  std::string StatusItems(const Place& place, const store::FolderInfo& folder, const std::vector<Value>& want,
                          std::string* items);
  std::string Create(const ParsedCommand& c);
  std::string Delete(const ParsedCommand& c);
  std::string Rename(const ParsedCommand& c);
  std::string Append(const ParsedCommand& c);
  std::string Fetch(const ParsedCommand& c, size_t first, bool uid);
  std::string StoreFlags(const ParsedCommand& c, size_t first, bool uid);
  std::string Expunge(const std::vector<std::pair<uint32_t, uint32_t>>* uids);
  std::string Search(const ParsedCommand& c, size_t first, bool uid);
  std::string CopyMove(const ParsedCommand& c, size_t first, bool uid, bool move);
  std::string Idle();
  std::string Enable(const ParsedCommand& c);
  /// "UID 7 FLAGS (\\Seen) MODSEQ (12)" as this session's extensions want it.
  std::string FlagsItems(const MessageRecord& m, bool with_uid) const;
  /// "* FLAGS (...)" and "* OK [PERMANENTFLAGS (...)]" with the folder's keywords.
  std::string FolderFlags() const;
  /// Sends FolderFlags() again when the folder's keyword list grew (as
  /// Dovecot does: a client learns keywords from FLAGS).
  void TellKeywords();
  /// Tells the client what changed in the selected folder since it last
  /// looked (RFC 3501 §7.4: EXPUNGE only when `expunges` is allowed).
  void Refresh(bool expunges);
  /// The same by reading the whole folder (when the journal cannot say).
  void FullRefresh(bool expunges);
  /// The folder `name` of the user's mailbox; false with the tagged reply
  /// (NO [`code`] naming the folder as the client wrote it) when it is not there.
  static bool IsPublic(const std::string& name) { return name == "Public" || name.rfind("Public/", 0) == 0; }
  bool Same(const Place& p) const { return state_ == State::kSelected && p.db == sdb_ && p.mailbox == smailbox_ && p.folder == folder_; }
  bool LookupFolder(const std::string& name, const std::string& as_sent, const char* code, store::FolderInfo* out,
                    std::string* reply, Place* place = nullptr);
  /// A folder name from the wire (modified UTF-7) in UTF-8; "" and a reason when invalid.
  bool FolderName(const Value& v, std::string* out, std::string* why);
  /// Messages of the selected folder matching a sequence set (by UID or number), as indexes.
  bool Resolve(const std::string& set, bool uid, std::vector<size_t>* out);

  store::Store* store_;
  const Options& o_;
  net::Conn& conn_;
  const net::TlsServerContext* tls_ctx_;
  UserSessions* sessions_;
  std::unique_ptr<net::TlsSession> tls_;  // before input_: it reads through it
  ConnInput input_;
  imap::CommandParser parser_;
  enum class State { kNotAuthenticated, kAuthenticated, kSelected, kLogout } state_ = State::kNotAuthenticated;
  std::string mailbox_;  // the logged-in user's mailbox
  std::shared_ptr<store::Database> db_;
  int failed_logins_ = 0;
  // The selected folder, as this session sees it: its database and mailbox
  // (the user's own, or the public one) and its name there.
  std::shared_ptr<store::Database> sdb_;
  std::string smailbox_;
  std::string folder_;
  bool read_only_ = false;
  std::vector<MessageRecord> view_;  // message sequence number = index + 1
  uint64_t synced_ = 0;              // the database's commit generation view_ was last read at
  std::vector<uint32_t> gone_;       // expunged UIDs view_ keeps until they may be told, ascending
  std::vector<std::string> keywords_;  // the folder's keywords as last told in FLAGS
  // RFC 7162: CONDSTORE is on after ENABLE or the first command that uses
  // it (MODSEQ then goes with every FLAGS this session is sent); QRESYNC
  // only after ENABLE (expunges are then told as VANISHED).
  bool condstore_ = false, qresync_ = false;
};

std::string Session::Capabilities() const {
  std::string caps = "IMAP4rev1 LITERAL+ UIDPLUS MOVE IDLE UNSELECT ID NAMESPACE CHILDREN SPECIAL-USE SASL-IR MULTIAPPEND "
                     "LIST-EXTENDED LIST-STATUS STATUS=SIZE "
                     "CONDSTORE QRESYNC ENABLE APPENDLIMIT=" +
                     std::to_string(o_.append_limit);
  if (state_ == State::kNotAuthenticated) {
    if (tls_ctx_ && !tls_) caps += " STARTTLS";
    caps += PlaintextAuthAllowed() ? " AUTH=PLAIN" : " LOGINDISABLED";
  }
  return caps;
}

bool Session::StartTls(const std::string& tag) {
  if (parser_.buffered() > 0) {
    // RFC 3207-style injection: bytes sent before the handshake must not be
    // read as if they came over TLS.
    Send("* BYE data was sent after STARTTLS before the TLS handshake\r\n");
    return false;
  }
  if (!Send(tag + " OK Begin TLS negotiation now\r\n")) return false;
  auto s = net::TlsSession::Accept(*tls_ctx_, conn_);
  if (!s.ok()) {
    log::Warn("imap: " + s.error().Message());
    return false;
  }
  tls_ = std::move(*s);
  return true;
}

void Session::Run(bool implicit_tls) {
  conn_.SetReadTimeout(o_.autologout_seconds);
  if (implicit_tls) {
    conn_.SetReadTimeout(30);  // the handshake has its own, shorter bound
    auto s = net::TlsSession::Accept(*tls_ctx_, conn_);
    if (!s.ok()) {
      log::Warn("imap: " + s.error().Message());
      return;
    }
    tls_ = std::move(*s);
    conn_.SetReadTimeout(o_.autologout_seconds);
  }
  if (!Send("* OK [CAPABILITY " + Capabilities() + "] " + o_.hostname + " mxstore IMAP ready\r\n")) return;
  while (state_ != State::kLogout) {
    auto c = parser_.Next([&]() -> Status {
      if (!Send("+ Ready for literal data\r\n"))
        return Error(Code::kNetwork, "cannot write", conn_.peer(), "the client is gone");
      return Ok();
    });
    if (!c.ok()) {
      if (conn_.timed_out()) Send("* BYE Autologout; idle for too long\r\n");
      return;
    }
    if (c->fatal) {
      Send("* BYE " + c->bad + "\r\n");
      return;
    }
    if (!c->bad.empty()) {
      std::string code = c->bad_code.empty() ? "" : "[" + c->bad_code + "] ";
      Send(c->tag + (c->bad_code.empty() ? " BAD " : " NO ") + code + c->bad + "\r\n");
      continue;
    }
    if (c->name == "STARTTLS" && state_ == State::kNotAuthenticated && tls_ctx_ && !tls_ && c->args.empty()) {
      if (!StartTls(c->tag)) return;
      continue;
    }
    std::string reply = Dispatch(*c);
    if (!Send(c->tag + " " + reply + "\r\n")) return;
  }
}

std::string Session::Dispatch(const ParsedCommand& c) {
  const auto& a = c.args;
  auto argc = [&](size_t n) { return a.size() == n; };
  const std::string& n = c.name;
  // Any state.
  if (n == "CAPABILITY") {
    if (!argc(0)) return "BAD CAPABILITY takes no arguments";
    Send("* CAPABILITY " + Capabilities() + "\r\n");
    return "OK CAPABILITY completed";
  }
  if (n == "NOOP" || n == "CHECK") {
    if (n == "CHECK" && state_ != State::kSelected) return "BAD CHECK needs a selected folder";
    if (state_ == State::kSelected) Refresh(true);
    return "OK " + n + " completed";
  }
  if (n == "LOGOUT") {
    Send("* BYE " + o_.hostname + " logging out\r\n");
    state_ = State::kLogout;
    return "OK LOGOUT completed";
  }
  if (n == "ID") {
    Send("* ID (\"name\" \"mxstore\")\r\n");
    return "OK ID completed";
  }
  if (state_ == State::kNotAuthenticated) {
    if (n == "LOGIN") {
      if (!argc(2) || a[0].is_list() || a[1].is_list()) return "BAD LOGIN takes a user name and a password";
      return Login(a[0].str(), a[1].str());
    }
    if (n == "AUTHENTICATE") return Authenticate(c);
    if (n == "STARTTLS") return tls_ ? "BAD TLS is already active" : c.args.empty() ? "BAD STARTTLS is not offered: the server has no certificate" : "BAD STARTTLS takes no arguments";
    return "BAD " + n + " needs a login first (or is not a command)";
  }
  if (n == "LOGIN" || n == "AUTHENTICATE") return "BAD already logged in";
  if (n == "ENABLE") return Enable(c);
  // Authenticated or selected.
  if (n == "NAMESPACE") {
    // RFC 2342: personal "", no other users', shared "Public/".
    Send("* NAMESPACE ((\"\" \"/\")) NIL ((\"Public/\" \"/\"))\r\n");
    return "OK NAMESPACE completed";
  }
  if (n == "LIST" || n == "LSUB") return List(c, n == "LSUB");
  if (n == "SELECT" || n == "EXAMINE") return Select(c, n == "EXAMINE");
  if (n == "STATUS") return FolderStatus(c);
  if (n == "CREATE") return Create(c);
  if (n == "DELETE") return Delete(c);
  if (n == "RENAME") return Rename(c);
  if (n == "SUBSCRIBE" || n == "UNSUBSCRIBE") return "OK " + n + " completed (every folder is subscribed)";
  if (n == "APPEND") return Append(c);
  if (n == "IDLE") return c.args.empty() ? Idle() : "BAD IDLE takes no arguments";
  if (state_ != State::kSelected) return "BAD " + n + " needs a selected folder (or is not a command)";
  // Selected.
  if (n == "CLOSE" || n == "UNSELECT") {
    if (n == "CLOSE" && !read_only_) {
      std::vector<uint32_t> gone;
      for (const auto& m : view_)
        if (m.flags & store::kDeleted) gone.push_back(m.uid);
      if (!gone.empty()) {
        auto r = sdb_->Expunge(smailbox_, folder_, gone);
        if (!r.ok()) return "NO [SERVERBUG] " + r.error().Message();
      }
    }
    state_ = State::kAuthenticated;
    view_.clear();
    folder_.clear();
    return "OK " + n + " completed";
  }
  if (n == "EXPUNGE") {
    if (read_only_) return "NO [READ-ONLY] the folder was opened with EXAMINE";
    return Expunge(nullptr);
  }
  bool uid = n == "UID";
  std::string sub = n;
  size_t first = 0;
  if (uid) {
    if (a.empty()) return "BAD UID needs a command";
    sub = imap::AsciiUpper(a[0].str());
    first = 1;
  }
  if (sub == "FETCH") return Fetch(c, first, uid);
  if (sub == "STORE") return StoreFlags(c, first, uid);
  if (sub == "SEARCH") return Search(c, first, uid);
  if (sub == "COPY" || sub == "MOVE") return CopyMove(c, first, uid, sub == "MOVE");
  if (uid && sub == "EXPUNGE") {
    if (read_only_) return "NO [READ-ONLY] the folder was opened with EXAMINE";
    std::vector<std::pair<uint32_t, uint32_t>> set;
    uint32_t star = view_.empty() ? 1 : view_.back().uid;
    if (a.size() != 2 || !imap::ParseSequenceRanges(a[1].str(), star, &set)) return "BAD UID EXPUNGE takes a UID set";
    return Expunge(&set);
  }
  return "BAD " + (uid ? "UID " + sub : sub) + " is not a command this server knows";
}

std::string Session::Login(const std::string& user, const std::string& password) {
  if (!PlaintextAuthAllowed())
    return "NO [PRIVACYREQUIRED] a password is not accepted without TLS from " + conn_.peer() +
           "; use STARTTLS or the implicit-TLS port (imap.listen_tls)";
  std::string mailbox = store::Store::NormalizeAddress(user);
  if (!store_->Authenticate(mailbox, password)) {
    ++failed_logins_;
    log::Warn("imap: failed login for '" + user.substr(0, 100) + "' from " + conn_.peer());
    std::this_thread::sleep_for(std::chrono::milliseconds(o_.failed_login_delay_ms * std::min(failed_logins_, 5)));
    return "NO [AUTHENTICATIONFAILED] wrong user name or password";
  }
  auto where = store_->Locate(mailbox);
  if (!where.ok()) return "NO [UNAVAILABLE] " + where.error().Message();
  db_ = store_->Get(*where);
  if (!db_) return "NO [UNAVAILABLE] the database of this mailbox is not mounted";
  if (!sessions_->Acquire(mailbox, o_.max_connections_per_user)) {
    log::Warn("imap: " + mailbox + " refused from " + conn_.peer() + ": " + std::to_string(o_.max_connections_per_user) +
              " sessions already");
    return "NO [LIMIT] this mailbox has " + std::to_string(o_.max_connections_per_user) +
           " sessions open already (imap.max_connections_per_user); log out of one first";
  }
  mailbox_ = mailbox;
  state_ = State::kAuthenticated;
  log::Info("imap: " + mailbox + " logged in from " + conn_.peer());
  return "OK [CAPABILITY " + Capabilities() + "] logged in";
}

std::string Session::Authenticate(const ParsedCommand& c) {
  if (c.args.empty() || !c.args[0].Is("PLAIN")) return "NO [CANNOT] only AUTHENTICATE PLAIN is offered";
  if (c.args.size() > 2) return "BAD AUTHENTICATE PLAIN takes at most an initial response";
  std::string response;
  if (c.args.size() == 2) {
    response = c.args[1].str();
  } else {
    if (!Send("+ \r\n")) return "NO the client is gone";
    auto line = parser_.ReadLine();
    if (!line.ok()) return "BAD " + line.error().Message();
    response = *line;
  }
  if (response == "*") return "BAD AUTHENTICATE cancelled";
  auto raw = Base64Decode(response == "=" ? "" : response);
  if (!raw) return "BAD the response is not base64";
  std::string text(raw->begin(), raw->end());
  size_t a = text.find('\0');
  size_t b = a == std::string::npos ? std::string::npos : text.find('\0', a + 1);
  if (b == std::string::npos) return "BAD a PLAIN response is authzid NUL authcid NUL password";
  std::string authz = text.substr(0, a), user = text.substr(a + 1, b - a - 1), pw = text.substr(b + 1);
  if (!authz.empty() && store::Store::NormalizeAddress(authz) != store::Store::NormalizeAddress(user))
    return "NO [AUTHORIZATIONFAILED] acting as another user is not allowed";
  return Login(user, pw);
}

bool Session::FolderName(const Value& v, std::string* out, std::string* why) {
  if (v.is_list() || v.kind == Value::Kind::kNil) {
    *why = "a folder name must be a string";
    return false;
  }
  auto d = imap::DecodeMailboxName(v.str());
  if (!d.ok()) {
    *why = "the folder name is not valid modified UTF-7 (RFC 3501 §5.1.3)";
    return false;
  }
  std::string name = *d;
  while (!name.empty() && name.back() == '/') name.pop_back();
  if (imap::AsciiIEquals(name, "INBOX")) name = "INBOX";
  if (name.empty() || name.find("//") != std::string::npos || name[0] == '/' ||
      std::any_of(name.begin(), name.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
    *why = "'" + v.str() + "' is not a usable folder name";
    return false;
  }
  *out = name;
  return true;
}

bool Session::LookupFolder(const std::string& name, const std::string& as_sent, const char* code,
                           store::FolderInfo* out, std::string* reply, Place* place) {
  Place here{db_, mailbox_, name, true};
  if (IsPublic(name)) {
    // A public folder exists for this user only when granted: one not
    // granted answers exactly as one that does not exist.
    std::string sub = name == "Public" ? "" : name.substr(7);
    auto grants = store_->GrantsFor(mailbox_);
    auto g = grants.find(sub);
    here.db = store_->PublicDatabase();
    if (g == grants.end() || !here.db) {
      *reply = std::string("NO [") + code + "] no folder named " + ImapString(as_sent);
      return false;
    }
    here.mailbox = store::Store::kPublicMailbox;
    here.folder = sub;
    here.writable = g->second == "read-write";
  }
  auto folder = here.db->GetFolder(here.mailbox, here.folder);
  if (place) *place = here;
  if (folder.ok()) {
    *out = std::move(*folder);
    return true;
  }
  if (folder.error().code() != Code::kFolderNotFound) *reply = "NO [SERVERBUG] " + folder.error().Message();
  else *reply = std::string("NO [") + code + "] no folder named " + ImapString(as_sent);
  return false;
}

std::string Session::List(const ParsedCommand& c, bool lsub) {
  const char* verb = lsub ? "LSUB" : "LIST";
  const auto& a = c.args;
  // RFC 5258 LIST-EXTENDED: LIST [(selection)] reference (pattern | (patterns))
  // [RETURN (options)], and RFC 5819's RETURN (STATUS (items)). Every folder
  // of this store is subscribed, so SUBSCRIBED selects them all.
  size_t i = 0;
  bool special_only = false, extended = false, subscribed = false;
  if (!lsub && i < a.size() && a[i].is_list()) {
    extended = true;
    for (const auto& o : a[i].items) {
      std::string opt = imap::AsciiUpper(o.str());
      if (opt == "SPECIAL-USE") special_only = true;
      else if (opt == "SUBSCRIBED") subscribed = true;
      else if (opt != "REMOTE" && opt != "RECURSIVEMATCH")
        return "BAD LIST selection option '" + o.str() + "' is not one this server knows";
    }
    ++i;
  }
  if (a.size() < i + 2) return std::string("BAD ") + verb + " takes a reference and a pattern";
  std::string ref = a[i].str();
  std::vector<std::string> patterns;
  if (a[i + 1].is_list() && !lsub) {
    extended = true;
    for (const auto& p : a[i + 1].items) patterns.push_back(p.str());
  } else {
    patterns.push_back(a[i + 1].str());
  }
  i += 2;
  bool ret_subscribed = false;
  const Value* status_items = nullptr;
  if (!lsub && i < a.size()) {
    if (!(a[i].Is("RETURN") && i + 1 < a.size() && a[i + 1].is_list() && i + 2 == a.size()))
      return "BAD LIST takes [(selection)] reference pattern [RETURN (options)]";
    const auto& opts = a[i + 1].items;
    for (size_t k = 0; k < opts.size(); ++k) {
      std::string opt = imap::AsciiUpper(opts[k].str());
      if (opt == "SUBSCRIBED") ret_subscribed = true;
      else if (opt == "STATUS" && k + 1 < opts.size() && opts[k + 1].is_list()) status_items = &opts[++k];
      else if (opt != "CHILDREN" && opt != "SPECIAL-USE")
        return "BAD LIST return option '" + opts[k].str() + "' is not one this server knows";
    }
    extended = true;
  } else if (i != a.size()) {
    return std::string("BAD ") + verb + " takes a reference and a pattern";
  }
  if (patterns.size() == 1 && patterns[0].empty() && !extended) {
    Send(std::string("* ") + verb + " (\\Noselect) \"/\" \"\"\r\n");
    return std::string("OK ") + verb + " completed";
  }
  auto own = db_->ListFolders(mailbox_);
  if (!own.ok()) return "NO [SERVERBUG] " + own.error().Message();
  // The user's folders, then "Public" and the public folders granted to
  // the user (a name under Public/ in the user's own mailbox is never made:
  // CREATE refuses it).
  struct Listed {
    store::FolderInfo info;
    Place place;
    bool noselect = false;
  };
  std::vector<Listed> folders;
  for (auto& f : *own) folders.push_back({f, Place{db_, mailbox_, f.name, true}});
  auto grants = store_->GrantsFor(mailbox_);
  auto pdb = store_->PublicDatabase();
  if (!grants.empty() && pdb) {
    store::FolderInfo root;
    root.name = "Public";
    folders.push_back({root, Place{}, true});
    for (const auto& [sub, access] : grants) {
      auto f = pdb->GetFolder(store::Store::kPublicMailbox, sub);
      if (!f.ok()) continue;
      f->name = "Public/" + sub;
      f->special_use.clear();
      folders.push_back({*f, Place{pdb, store::Store::kPublicMailbox, sub, access == "read-write"}});
    }
  }
  for (const auto& entry : folders) {
    const store::FolderInfo& f = entry.info;
    std::string wire = imap::EncodeMailboxName(f.name);
    bool match = false;
    for (const auto& pat : patterns) {
      if (pat.empty()) continue;
      std::string full = ref + pat;
      match = match || (f.name == "INBOX"
                            ? Wildcard(imap::AsciiUpper(full.substr(0, 5)) + full.substr(std::min<size_t>(5, full.size())), wire)
                            : Wildcard(full, wire));
    }
    if (!match || (special_only && f.special_use.empty())) continue;
    bool children = std::any_of(folders.begin(), folders.end(),
                                [&](const Listed& g) { return g.info.name.rfind(f.name + "/", 0) == 0; });
    std::string attrs = std::string(entry.noselect ? "\\Noselect " : "") + (children ? "\\HasChildren" : "\\HasNoChildren");
    if (ret_subscribed || subscribed) attrs += " \\Subscribed";
    if (!f.special_use.empty()) attrs += " " + f.special_use;
    Send(std::string("* ") + verb + " (" + attrs + ") \"/\" " + ImapString(wire) + "\r\n");
    if (status_items && !entry.noselect) {
      std::string items, why = StatusItems(entry.place, f, status_items->items, &items);
      if (!why.empty()) return why;
      Send("* STATUS " + ImapString(wire) + " (" + items + ")\r\n");
    }
  }
  return std::string("OK ") + verb + " completed";
}

std::string Session::Enable(const ParsedCommand& c) {
  if (c.args.empty()) return "BAD ENABLE takes one or more extension names";
  std::string enabled;
  for (const auto& v : c.args) {
    if (v.is_list()) return "BAD ENABLE takes extension names";
    std::string x = imap::AsciiUpper(v.str());
    // RFC 5161: extensions the server does not know are ignored.
    if (x == "CONDSTORE" && !condstore_) {
      condstore_ = true;
      enabled += " CONDSTORE";
    } else if (x == "QRESYNC" && !qresync_) {
      qresync_ = true;
      if (!condstore_) enabled += " CONDSTORE";  // RFC 7162 §3.2.3: QRESYNC implies CONDSTORE
      condstore_ = true;
      enabled += " QRESYNC";
    }
  }
  Send("* ENABLED" + enabled + "\r\n");
  return "OK ENABLE completed";
}

std::string Session::FlagsItems(const MessageRecord& m, bool with_uid) const {
  // RFC 7162 §3.1: once CONDSTORE is enabled every untagged FETCH carries
  // the UID and the MODSEQ.
  std::string out = with_uid || condstore_ ? "UID " + std::to_string(m.uid) + " " : "";
  out += "FLAGS " + FlagList(m);
  if (condstore_) out += " MODSEQ (" + std::to_string(m.modseq) + ")";
  return out;
}

std::string Session::FolderFlags() const {
  std::string kw;
  for (const auto& k : keywords_) kw += " " + k;
  std::string out = "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft" + kw + ")\r\n";
  out += std::string("* OK [PERMANENTFLAGS (") + (read_only_ ? "" : "\\Answered \\Flagged \\Deleted \\Seen \\Draft" + kw + " \\*") +
         ")] flags\r\n";
  return out;
}

void Session::TellKeywords() {
  auto folder = sdb_->GetFolder(smailbox_, folder_);
  if (!folder.ok() || folder->keywords == keywords_) return;
  keywords_ = folder->keywords;
  Send(FolderFlags());
}

std::string Session::Select(const ParsedCommand& c, bool read_only) {
  if (state_ == State::kSelected) {
    state_ = State::kAuthenticated;  // RFC 3501: a failed SELECT leaves none selected
    view_.clear();
    Send("* OK [CLOSED] previous folder closed\r\n");
  }
  const char* verb = read_only ? "EXAMINE" : "SELECT";
  if (c.args.empty() || c.args.size() > 2 || (c.args.size() == 2 && !c.args[1].is_list()))
    return std::string("BAD ") + verb + " takes one folder name and optional parameters";
  // RFC 7162 parameters: (CONDSTORE) or (QRESYNC (uidvalidity modseq [known-uids [(seqs uids)]])).
  bool resync = false;
  uint32_t known_validity = 0;
  uint64_t known_modseq = 0;
  std::vector<std::pair<uint32_t, uint32_t>> known_uids;
  bool have_known_uids = false;
  if (c.args.size() == 2) {
    const auto& params = c.args[1].items;
    for (size_t i = 0; i < params.size(); ++i) {
      std::string p = imap::AsciiUpper(params[i].str());
      if (p == "CONDSTORE" && !params[i].is_list()) {
        condstore_ = true;
      } else if (p == "QRESYNC" && i + 1 < params.size() && params[i + 1].is_list()) {
        if (!qresync_) return "BAD QRESYNC must be ENABLEd before SELECT uses it (RFC 7162)";
        const auto& q = params[++i].items;
        if (q.size() < 2 || q.size() > 4 || !q[0].is_number() || !q[1].is_number() || q[0].number == 0 ||
            q[0].number > 0xffffffffu)
          return "BAD QRESYNC takes (uidvalidity modseq [known-uids [(sequences uids)]])";
        resync = true;
        known_validity = uint32_t(q[0].number);
        known_modseq = q[1].number;
        if (q.size() >= 3 && !q[2].is_list()) {
          if (!imap::ParseSequenceRanges(q[2].str(), 0xffffffffu, &known_uids))
            return "BAD QRESYNC's known UIDs are not a UID set";
          have_known_uids = true;
        }
        // The (sequences uids) match data only narrows what must be told;
        // telling every expunge since the MODSEQ is always correct.
      } else {
        return "BAD " + params[i].str() + " is not a " + verb + " parameter this server knows";
      }
    }
  }
  std::string name, why;
  if (!FolderName(c.args[0], &name, &why)) return "BAD " + why;
  store::FolderInfo folder;
  std::string missing;
  Place place;
  if (!LookupFolder(name, c.args[0].str(), "NONEXISTENT", &folder, &missing, &place)) return missing;
  uint64_t generation = place.db->generation();
  auto msgs = place.db->ListMessages(place.mailbox, place.folder);
  if (!msgs.ok()) return "NO [SERVERBUG] " + msgs.error().Message();
  view_ = std::move(*msgs);
  synced_ = generation;
  gone_.clear();
  sdb_ = place.db;
  smailbox_ = place.mailbox;
  folder_ = place.folder;
  read_only_ = read_only || !place.writable;  // a read grant selects read-only
  state_ = State::kSelected;
  uint32_t unseen = 0;
  for (size_t i = 0; i < view_.size(); ++i)
    if (!(view_[i].flags & store::kSeen)) {
      unseen = uint32_t(i + 1);
      break;
    }
  std::string out = "* " + std::to_string(view_.size()) + " EXISTS\r\n* 0 RECENT\r\n";
  keywords_ = folder.keywords;
  out += FolderFlags();
  if (unseen) out += "* OK [UNSEEN " + std::to_string(unseen) + "] first unseen\r\n";
  out += "* OK [UIDVALIDITY " + std::to_string(folder.uidvalidity) + "] UIDs valid\r\n";
  out += "* OK [UIDNEXT " + std::to_string(folder.uidnext) + "] predicted next UID\r\n";
  if (condstore_) out += "* OK [HIGHESTMODSEQ " + std::to_string(folder.highestmodseq) + "] modification sequence\r\n";
  if (resync && known_validity == folder.uidvalidity) {
    // What changed since the client's MODSEQ: expunged UIDs first, as
    // VANISHED (EARLIER), then the flags of messages changed or added.
    auto gone = sdb_->ExpungedSince(smailbox_, folder_, known_modseq);
    if (!gone.ok()) return "NO [SERVERBUG] " + gone.error().Message();
    std::vector<uint32_t> told;
    for (uint32_t u : *gone)
      if (!have_known_uids || imap::InRanges(known_uids, u)) told.push_back(u);
    if (!told.empty()) out += "* VANISHED (EARLIER) " + imap::SequenceSet(told) + "\r\n";
    for (size_t i = 0; i < view_.size(); ++i)
      if (view_[i].modseq > known_modseq)
        out += "* " + std::to_string(i + 1) + " FETCH (" + FlagsItems(view_[i], true) + ")\r\n";
  }
  Send(out);
  return std::string("OK [") + (read_only_ ? "READ-ONLY" : "READ-WRITE") + "] " + verb + " completed";
}

std::string Session::StatusItems(const Place& place, const store::FolderInfo& folder, const std::vector<Value>& want,
                                 std::string* items) {
  auto msgs = place.db->ListMessages(place.mailbox, place.folder);
  if (!msgs.ok()) return "NO [SERVERBUG] " + msgs.error().Message();
  for (const auto& v : want) {
    std::string k = imap::AsciiUpper(v.str());
    uint64_t val = 0;
    if (k == "MESSAGES") val = msgs->size();
    else if (k == "RECENT") val = 0;
    else if (k == "UIDNEXT") val = folder.uidnext;
    else if (k == "UIDVALIDITY") val = folder.uidvalidity;
    else if (k == "UNSEEN") val = std::count_if(msgs->begin(), msgs->end(), [](const MessageRecord& m) { return !(m.flags & store::kSeen); });
    else if (k == "SIZE") for (const auto& m : *msgs) val += m.size;
    else if (k == "HIGHESTMODSEQ") {
      condstore_ = true;
      val = folder.highestmodseq;  // every change takes a MODSEQ from the folder's counter
    } else return "BAD STATUS item " + v.str() + " is not one this server knows";
    *items += (items->empty() ? "" : " ") + k + " " + std::to_string(val);
  }
  return "";
}

std::string Session::FolderStatus(const ParsedCommand& c) {
  if (c.args.size() != 2 || !c.args[1].is_list()) return "BAD STATUS takes a folder name and a list of items";
  std::string name, why;
  if (!FolderName(c.args[0], &name, &why)) return "BAD " + why;
  store::FolderInfo folder;
  std::string missing;
  Place place;
  if (!LookupFolder(name, c.args[0].str(), "NONEXISTENT", &folder, &missing, &place)) return missing;
  std::string items;
  std::string err = StatusItems(place, folder, c.args[1].items, &items);
  if (!err.empty()) return err;
  Send("* STATUS " + ImapString(imap::EncodeMailboxName(name)) + " (" + items + ")\r\n");
  return "OK STATUS completed";
}

std::string Session::Create(const ParsedCommand& c) {
  if (c.args.size() != 1) return "BAD CREATE takes one folder name";
  std::string name, why;
  if (!FolderName(c.args[0], &name, &why)) return "BAD " + why;
  if (name == "INBOX") return "NO [ALREADYEXISTS] INBOX always exists";
  if (IsPublic(name)) return "NO [NOPERM] Public/ holds the public folders; an administrator manages them (mxstore folder)";
  auto folders = db_->ListFolders(mailbox_);
  if (!folders.ok()) return "NO [SERVERBUG] " + folders.error().Message();
  auto exists = [&](const std::string& n) {
    return std::any_of(folders->begin(), folders->end(), [&](const store::FolderInfo& f) { return f.name == n; });
  };
  if (exists(name)) return "NO [ALREADYEXISTS] the folder exists";
  // Superior folders first (RFC 3501 §6.3.3).
  for (size_t slash = name.find('/'); slash != std::string::npos; slash = name.find('/', slash + 1)) {
    std::string parent = name.substr(0, slash);
    if (exists(parent)) continue;
    auto r = db_->CreateFolder(mailbox_, parent, "");
    if (!r.ok()) return "NO [SERVERBUG] " + r.error().Message();
  }
  auto r = db_->CreateFolder(mailbox_, name, "");
  if (!r.ok()) return "NO " + r.error().Message();
  return "OK CREATE completed";
}

std::string Session::Delete(const ParsedCommand& c) {
  if (c.args.size() != 1) return "BAD DELETE takes one folder name";
  std::string name, why;
  if (!FolderName(c.args[0], &name, &why)) return "BAD " + why;
  if (name == "INBOX") return "NO [CANNOT] INBOX cannot be deleted";
  if (IsPublic(name)) return "NO [NOPERM] Public/ holds the public folders; an administrator manages them (mxstore folder)";
  auto folders = db_->ListFolders(mailbox_);
  if (!folders.ok()) return "NO [SERVERBUG] " + folders.error().Message();
  if (std::none_of(folders->begin(), folders->end(), [&](const store::FolderInfo& f) { return f.name == name; }))
    return "NO [NONEXISTENT] no folder named " + ImapString(c.args[0].str());
  if (std::any_of(folders->begin(), folders->end(), [&](const store::FolderInfo& f) { return f.name.rfind(name + "/", 0) == 0; }))
    return "NO [INUSE] the folder has subfolders; delete them first";
  Status s = db_->DeleteFolder(mailbox_, name);
  if (!s.ok()) return "NO [SERVERBUG] " + s.error().Message();
  if (state_ == State::kSelected && smailbox_ == mailbox_ && folder_ == name) {
    state_ = State::kAuthenticated;  // our own selected folder is gone
    view_.clear();
    folder_.clear();
    Send("* OK [CLOSED] the selected folder was deleted\r\n");
  }
  return "OK DELETE completed";
}

std::string Session::Rename(const ParsedCommand& c) {
  if (c.args.size() != 2) return "BAD RENAME takes the old and the new folder name";
  std::string from, to, why;
  if (!FolderName(c.args[0], &from, &why) || !FolderName(c.args[1], &to, &why)) return "BAD " + why;
  if (IsPublic(from) || IsPublic(to)) return "NO [NOPERM] Public/ holds the public folders; an administrator manages them (mxstore folder)";
  if (to == "INBOX") return "NO [ALREADYEXISTS] INBOX exists";
  auto folders = db_->ListFolders(mailbox_);
  if (!folders.ok()) return "NO [SERVERBUG] " + folders.error().Message();
  auto exists = [&](const std::string& n) {
    return std::any_of(folders->begin(), folders->end(), [&](const store::FolderInfo& f) { return f.name == n; });
  };
  if (!exists(from)) return "NO [NONEXISTENT] no folder named " + ImapString(c.args[0].str());
  if (exists(to)) return "NO [ALREADYEXISTS] a folder named " + ImapString(c.args[1].str()) + " exists";
  // Superior folders of the new name first (RFC 3501 §6.3.5).
  for (size_t slash = to.find('/'); slash != std::string::npos; slash = to.find('/', slash + 1)) {
    std::string parent = to.substr(0, slash);
    if (exists(parent) || parent == from) continue;
    auto r = db_->CreateFolder(mailbox_, parent, "");
    if (!r.ok()) return "NO [SERVERBUG] " + r.error().Message();
  }
  if (from == "INBOX") {
    // RFC 3501: renaming INBOX moves its messages to the new folder; INBOX stays, empty.
    auto r = db_->CreateFolder(mailbox_, to, "");
    if (!r.ok()) return "NO [SERVERBUG] " + r.error().Message();
    auto msgs = db_->ListMessages(mailbox_, "INBOX");
    if (!msgs.ok()) return "NO [SERVERBUG] " + msgs.error().Message();
    std::vector<uint32_t> uids;
    for (const auto& m : *msgs) uids.push_back(m.uid);
    auto moved = db_->Copy(mailbox_, "INBOX", uids, to, true);
    if (!moved.ok()) return "NO [SERVERBUG] " + moved.error().Message();
    if (state_ == State::kSelected && folder_ == "INBOX") Refresh(true);
    return "OK RENAME completed";
  }
  Status s = db_->RenameFolder(mailbox_, from, to);
  if (!s.ok()) return (s.error().code() == Code::kUsage ? "NO [CANNOT] " : "NO [SERVERBUG] ") + s.error().Message();
  if (state_ == State::kSelected && (folder_ == from || folder_.rfind(from + "/", 0) == 0))
    folder_ = to + folder_.substr(from.size());  // same folder, new name: the view stays valid
  return "OK RENAME completed";
}

// Flags from a STORE or APPEND list; false with `why` for a system flag
// that does not exist (or \Recent, which a client may not set).
bool ParseFlags(const std::vector<Value>& items, uint32_t* flags, std::vector<std::string>* keywords, std::string* why) {
  for (const auto& v : items) {
    if (v.is_list() || v.kind == Value::Kind::kString) {
      *why = "a flag must be an atom";
      return false;
    }
    const std::string& f = v.str();
    if (!f.empty() && f[0] == '\\') {
      auto it = std::find_if(std::begin(kSystemFlags), std::end(kSystemFlags),
                             [&](const SystemFlag& s) { return imap::AsciiIEquals(s.name, f); });
      if (it == std::end(kSystemFlags)) {
        *why = f + " is not a system flag a client may set";
        return false;
      }
      *flags |= it->bit;
    } else if (!f.empty()) {
      if (std::find(keywords->begin(), keywords->end(), f) == keywords->end()) keywords->push_back(f);
    }
  }
  return true;
}

std::string Session::Append(const ParsedCommand& c) {
  const auto& a = c.args;
  if (a.size() < 2) return "BAD APPEND takes a folder name, optional flags and date, and the message";
  std::string name, why;
  if (!FolderName(a[0], &name, &why)) return "BAD " + why;
  // RFC 3502 MULTIAPPEND: one or more (flags, date, message) groups, all
  // appended in one durable batch or none.
  std::vector<store::AppendItem> items;
  size_t i = 1;
  while (i < a.size()) {
    store::AppendItem item;
    if (a[i].is_list()) {
      if (!ParseFlags(a[i].items, &item.flags, &item.keywords, &why)) return "BAD " + why;
      ++i;
    }
    imap::DateTime when{std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch()).count(), 0};
    if (i < a.size() && a[i].kind == Value::Kind::kString && !a[i].literal) {  // the date is quoted, the message a literal
      auto d = imap::ParseDateTime(a[i].str());
      if (!d) return "BAD '" + a[i].str() + "' is not an IMAP date-time (\"17-Jul-1996 02:44:25 -0700\")";
      when = *d;
      ++i;
    }
    if (i >= a.size() || a[i].kind != Value::Kind::kString || !a[i].literal) return "BAD APPEND's message must be a literal";
    const std::string& msg = a[i].str();
    if (msg.empty()) return "NO an empty message cannot be appended";
    item.message = msg;
    item.internal_date = when.epoch;
    item.internal_zone = when.zone_minutes;
    items.push_back(std::move(item));
    ++i;
  }
  store::FolderInfo folder;
  std::string missing;
  Place place;
  if (!LookupFolder(name, a[0].str(), "TRYCREATE", &folder, &missing, &place)) return missing;
  if (!place.writable) return "NO [NOPERM] you may only read " + ImapString(a[0].str());
  auto uids = place.db->AppendMany(place.mailbox, place.folder, items);
  if (!uids.ok()) {
    if (uids.error().code() == Code::kMessageTooLarge) return "NO [TOOBIG] " + uids.error().Message();
    return "NO [SERVERBUG] " + uids.error().Message();
  }
  if (Same(place)) Refresh(false);
  return "OK [APPENDUID " + std::to_string(folder.uidvalidity) + " " + imap::SequenceSet(*uids) + "] APPEND completed";
}

bool Session::Resolve(const std::string& set, bool uid, std::vector<size_t>* out) {
  std::vector<std::pair<uint32_t, uint32_t>> ranges;
  // In an empty folder "*" is 1: a UID set then matches nothing, and a
  // message number is out of range below.
  uint32_t star = view_.empty() ? 1 : uid ? view_.back().uid : uint32_t(view_.size());
  if (!imap::ParseSequenceRanges(set, star, &ranges)) return false;
  for (size_t i = 0; i < view_.size(); ++i)
    if (imap::InRanges(ranges, uid ? view_[i].uid : uint32_t(i + 1))) out->push_back(i);
  if (!uid)  // message numbers past the end are an error (RFC 3501 §6.4.5)
    for (auto& [lo, hi] : ranges)
      if (hi > view_.size()) return false;
  return true;
}

void Session::Refresh(bool expunges) {
  // Nothing committed since the view was read (and no expunge held back for
  // now): nothing to tell. Otherwise the database's journal names the
  // messages of this folder that changed, and only those are read: a commit
  // costs each session what it changed, not the size of the folder.
  std::vector<uint32_t> changed;
  uint64_t now = 0;
  bool known = sdb_->ChangesSince(synced_, smailbox_, folder_, &changed, &now);
  if (now == synced_ && !(expunges && !gone_.empty())) return;
  if (!known) {
    FullRefresh(expunges);
    return;
  }
  std::sort(changed.begin(), changed.end());
  changed.erase(std::unique(changed.begin(), changed.end()), changed.end());
  auto by_uid = [](const MessageRecord& m, uint32_t u) { return m.uid < u; };
  uint32_t last = view_.empty() ? 0 : view_.back().uid;
  std::vector<uint32_t> flagged;
  std::vector<MessageRecord> added;
  for (uint32_t uid : changed) {
    auto it = std::lower_bound(view_.begin(), view_.end(), uid, by_uid);
    bool in_view = it != view_.end() && it->uid == uid;
    if (!in_view && uid <= last) continue;  // expunged before this session saw it
    if (std::binary_search(gone_.begin(), gone_.end(), uid)) continue;
    auto rec = sdb_->GetMessage(smailbox_, folder_, uid);
    if (!rec.ok()) {
      if (rec.error().code() != Code::kNotFound) {
        FullRefresh(expunges);
        return;
      }
      if (in_view) gone_.insert(std::upper_bound(gone_.begin(), gone_.end(), uid), uid);
      continue;
    }
    if (!in_view) {
      added.push_back(std::move(*rec));
    } else if (rec->modseq != it->modseq) {
      if (rec->flags != it->flags || rec->keywords != it->keywords) flagged.push_back(uid);
      *it = std::move(*rec);
    }
  }
  synced_ = now;
  if (!changed.empty()) TellKeywords();
  std::string out;
  if (expunges && !gone_.empty()) {
    std::vector<size_t> numbers;
    for (uint32_t uid : gone_) {
      auto it = std::lower_bound(view_.begin(), view_.end(), uid, by_uid);
      if (it != view_.end() && it->uid == uid) numbers.push_back(size_t(it - view_.begin()) + 1);
    }
    if (qresync_) out = "* VANISHED " + imap::SequenceSet(gone_) + "\r\n";  // RFC 7162 §3.2.10
    else
      for (auto n = numbers.rbegin(); n != numbers.rend(); ++n) out += "* " + std::to_string(*n) + " EXPUNGE\r\n";
    view_.erase(std::remove_if(view_.begin(), view_.end(),
                               [&](const MessageRecord& m) { return std::binary_search(gone_.begin(), gone_.end(), m.uid); }),
                view_.end());
    gone_.clear();
  }
  for (uint32_t uid : flagged) {
    auto it = std::lower_bound(view_.begin(), view_.end(), uid, by_uid);
    if (it != view_.end() && it->uid == uid)
      // RFC 7162 §3.2.4: with QRESYNC the UID goes with every unsolicited FETCH.
      out += "* " + std::to_string(it - view_.begin() + 1) + " FETCH (" + FlagsItems(*it, qresync_) + ")\r\n";
  }
  if (!added.empty()) {
    std::sort(added.begin(), added.end(), [](const MessageRecord& a, const MessageRecord& b) { return a.uid < b.uid; });
    for (auto& m : added) view_.push_back(std::move(m));
    out += "* " + std::to_string(view_.size()) + " EXISTS\r\n";
  }
  if (!out.empty()) Send(out);
}

void Session::FullRefresh(bool expunges) {
  uint64_t generation = sdb_->generation();
  auto msgs = sdb_->ListMessages(smailbox_, folder_);
  if (!msgs.ok()) return;
  synced_ = generation;
  TellKeywords();
  std::string out;
  std::vector<MessageRecord> next;
  // Expunged: gone from the store. Told (highest number first, so numbers
  // already told stay right) only where EXPUNGE is allowed; until then the
  // session keeps them in its view.
  size_t j = 0;
  for (size_t i = 0; i < view_.size(); ++i) {
    while (j < msgs->size() && (*msgs)[j].uid < view_[i].uid) ++j;
    bool present = j < msgs->size() && (*msgs)[j].uid == view_[i].uid;
    if (present) {
      const MessageRecord& now = (*msgs)[j];
      // RFC 7162 §3.2.4: with QRESYNC the UID goes with every unsolicited FETCH.
      if (now.modseq != view_[i].modseq && (now.flags != view_[i].flags || now.keywords != view_[i].keywords))
        out += "* " + std::to_string(next.size() + 1) + " FETCH (" + FlagsItems(now, qresync_) + ")\r\n";
      next.push_back(now);
    } else if (!expunges) {
      next.push_back(view_[i]);
      if (!std::binary_search(gone_.begin(), gone_.end(), view_[i].uid))
        gone_.insert(std::upper_bound(gone_.begin(), gone_.end(), view_[i].uid), view_[i].uid);
    }
  }
  if (expunges) {
    gone_.clear();
    std::string gone;
    size_t k = 0;
    std::vector<size_t> numbers;
    std::vector<uint32_t> uids;
    for (size_t i = 0; i < view_.size(); ++i) {
      if (k < next.size() && next[k].uid == view_[i].uid) ++k;
      else {
        numbers.push_back(i + 1);
        uids.push_back(view_[i].uid);
      }
    }
    if (qresync_) {
      if (!uids.empty()) gone = "* VANISHED " + imap::SequenceSet(uids) + "\r\n";  // RFC 7162 §3.2.10
    } else {
      for (auto it = numbers.rbegin(); it != numbers.rend(); ++it) gone += "* " + std::to_string(*it) + " EXPUNGE\r\n";
    }
    out = gone + out;
  }
  uint32_t last = view_.empty() ? 0 : view_.back().uid;
  size_t before = next.size();
  for (const auto& m : *msgs)
    if (m.uid > last) next.push_back(m);
  // EXISTS only for new messages: after expunges the count is known already.
  if (next.size() != before) out += "* " + std::to_string(next.size()) + " EXISTS\r\n";
  view_ = std::move(next);
  if (!out.empty()) Send(out);
}

std::string Session::Expunge(const std::vector<std::pair<uint32_t, uint32_t>>* uids) {
  std::vector<uint32_t> gone;
  for (const auto& m : view_)
    if ((m.flags & store::kDeleted) && (!uids || imap::InRanges(*uids, m.uid))) gone.push_back(m.uid);
  if (!gone.empty()) {
    auto r = sdb_->Expunge(smailbox_, folder_, gone);
    if (!r.ok()) return "NO [SERVERBUG] " + r.error().Message();
  }
  Refresh(true);
  return std::string(uids ? "OK UID EXPUNGE" : "OK EXPUNGE") + " completed";
}

std::string Session::StoreFlags(const ParsedCommand& c, size_t first, bool uid) {
  const auto& a = c.args;
  // RFC 7162 §3.1.3: STORE set (UNCHANGEDSINCE modseq) item flags.
  bool conditional = a.size() == first + 4 && a[first + 1].is_list();
  uint64_t unchanged_since = 0;
  if (conditional) {
    const auto& mods = a[first + 1].items;
    if (mods.size() != 2 || !mods[0].Is("UNCHANGEDSINCE") || !mods[1].is_number())
      return "BAD STORE's modifier must be (UNCHANGEDSINCE modseq)";
    unchanged_since = mods[1].number;
    condstore_ = true;
  }
  size_t item_at = first + (conditional ? 2 : 1);
  if (a.size() != item_at + 2) return "BAD STORE takes a set, [(UNCHANGEDSINCE n)], FLAGS/+FLAGS/-FLAGS[.SILENT] and flags";
  if (read_only_) return "NO [READ-ONLY] the folder was opened with EXAMINE";
  std::vector<size_t> idx;
  if (!Resolve(a[first].str(), uid, &idx)) return "BAD '" + a[first].str() + "' is not a valid set here";
  std::string item = imap::AsciiUpper(a[item_at].str());
  bool silent = item.size() > 7 && item.substr(item.size() - 7) == ".SILENT";
  if (silent) item.resize(item.size() - 7);
  int mode = item == "FLAGS" ? 0 : item == "+FLAGS" ? 1 : item == "-FLAGS" ? -1 : 2;
  if (mode == 2) return "BAD STORE item must be FLAGS, +FLAGS or -FLAGS (optionally .SILENT)";
  std::vector<Value> list = a[item_at + 1].is_list() ? a[item_at + 1].items : std::vector<Value>{a[item_at + 1]};
  uint32_t flags = 0;
  std::vector<std::string> keywords;
  std::string why;
  if (!ParseFlags(list, &flags, &keywords, &why)) return "BAD " + why;
  std::string out;
  std::vector<uint32_t> modified;  // failed the UNCHANGEDSINCE test: numbers, or UIDs for UID STORE
  for (size_t i : idx) {
    MessageRecord& m = view_[i];
    if (conditional && m.modseq > unchanged_since) {
      modified.push_back(uid ? m.uid : uint32_t(i + 1));
      continue;
    }
    uint32_t nf = mode == 0 ? flags : mode > 0 ? (m.flags | flags) : (m.flags & ~flags);
    std::vector<std::string> nk;
    if (mode == 0) nk = keywords;
    else if (mode > 0) {
      nk = m.keywords;
      for (auto& k : keywords)
        if (std::find(nk.begin(), nk.end(), k) == nk.end()) nk.push_back(k);
    } else {
      for (auto& k : m.keywords)
        if (std::find(keywords.begin(), keywords.end(), k) == keywords.end()) nk.push_back(k);
    }
    bool changed = nf != m.flags || nk != m.keywords;
    if (changed) {
      auto ms = sdb_->SetFlags(smailbox_, folder_, m.uid, nf, nk);
      if (!ms.ok()) {
        if (ms.error().code() == Code::kNotFound) continue;  // expunged by another session meanwhile
        return "NO [SERVERBUG] " + ms.error().Message();
      }
      m.flags = nf;
      m.keywords = nk;
      m.modseq = *ms;
    }
    std::string prefix = "* " + std::to_string(i + 1) + " FETCH (";
    if (!silent) out += prefix + FlagsItems(m, uid) + ")\r\n";
    else if (changed && condstore_)  // RFC 7162 §3.1.3: the new MODSEQ is told even when silent
      out += prefix + "UID " + std::to_string(m.uid) + " MODSEQ (" + std::to_string(m.modseq) + "))\r\n";
  }
  if (std::any_of(keywords.begin(), keywords.end(), [&](const std::string& k) {
        return std::find(keywords_.begin(), keywords_.end(), k) == keywords_.end();
      }))
    TellKeywords();
  Send(out);
  std::string done = std::string(uid ? "UID STORE" : "STORE") + " completed";
  if (!modified.empty()) {
    std::sort(modified.begin(), modified.end());
    return "OK [MODIFIED " + imap::SequenceSet(modified) + "] " + done + " but for messages changed since " +
           std::to_string(unchanged_since);
  }
  return "OK " + done;
}

std::string Session::Fetch(const ParsedCommand& c, size_t first, bool uid) {
  constexpr size_t kDirectSend = 16 << 10;
  const auto& a = c.args;
  if (a.size() != first + 2 && !(a.size() == first + 3 && a[first + 2].is_list()))
    return "BAD FETCH takes a set, data items and optional modifiers";
  std::vector<size_t> idx;
  if (!Resolve(a[first].str(), uid, &idx)) return "BAD '" + a[first].str() + "' is not a valid set here";
  // RFC 7162 modifiers: (CHANGEDSINCE modseq [VANISHED]).
  bool changed_since = false, vanished = false;
  uint64_t since = 0;
  if (a.size() == first + 3) {
    const auto& mods = a[first + 2].items;
    for (size_t i = 0; i < mods.size(); ++i) {
      if (mods[i].Is("CHANGEDSINCE") && i + 1 < mods.size() && mods[i + 1].is_number()) {
        changed_since = true;
        since = mods[++i].number;
      } else if (mods[i].Is("VANISHED")) {
        vanished = true;
      } else {
        return "BAD FETCH modifier '" + mods[i].str() + "' is not one this server knows";
      }
    }
    if (!changed_since) return "BAD FETCH's modifiers need CHANGEDSINCE";
    if (vanished && (!uid || !qresync_)) return "BAD VANISHED needs UID FETCH and QRESYNC enabled (RFC 7162 §3.2.6)";
    condstore_ = true;
    std::vector<size_t> kept;
    for (size_t i : idx)
      if (view_[i].modseq > since) kept.push_back(i);
    if (vanished) {
      std::vector<std::pair<uint32_t, uint32_t>> ranges;
      imap::ParseSequenceRanges(a[first].str(), view_.empty() ? 1 : view_.back().uid, &ranges);
      auto gone = sdb_->ExpungedSince(smailbox_, folder_, since);
      if (!gone.ok()) return "NO [SERVERBUG] " + gone.error().Message();
      std::vector<uint32_t> told;
      for (uint32_t u : *gone)
        if (imap::InRanges(ranges, u)) told.push_back(u);
      if (!told.empty()) Send("* VANISHED (EARLIER) " + imap::SequenceSet(told) + "\r\n");
    }
    idx = std::move(kept);
  }
  std::vector<std::string> items;
  if (a[first + 1].is_list()) {
    for (const auto& v : a[first + 1].items) items.push_back(v.str());
  } else {
    std::string m = imap::AsciiUpper(a[first + 1].str());
    if (m == "ALL") items = {"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"};
    else if (m == "FAST") items = {"FLAGS", "INTERNALDATE", "RFC822.SIZE"};
    else if (m == "FULL") items = {"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"};
    else items = {a[first + 1].str()};
  }
  if (std::any_of(items.begin(), items.end(), [](const std::string& s) { return imap::AsciiIEquals(s, "MODSEQ"); })) condstore_ = true;
  if ((uid || condstore_) && std::none_of(items.begin(), items.end(), [](const std::string& s) { return imap::AsciiIEquals(s, "UID"); }))
    items.insert(items.begin(), "UID");
  if (condstore_ && std::none_of(items.begin(), items.end(), [](const std::string& s) { return imap::AsciiIEquals(s, "MODSEQ"); }))
    items.push_back("MODSEQ");
  struct Item {
    std::string name;      // as echoed ("BODY[HEADER]<0>")
    enum { kUid, kFlags, kDate, kSize, kBody, kEnvelope, kStructure, kBodyBasic, kModseq } kind;
    std::string section;   // "", "HEADER", "TEXT", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "MIME"
    std::vector<int> path; // part numbers ("1.2" → {1, 2}); empty: the whole message
    std::vector<std::string> fields;
    bool peek = false, partial = false;
    uint64_t offset = 0, length = 0;
  };
  std::vector<Item> plan;
  for (const std::string& raw : items) {
    std::string u = imap::AsciiUpper(raw);
    if (u == "UID") plan.push_back({"UID", Item::kUid});
    else if (u == "FLAGS") plan.push_back({"FLAGS", Item::kFlags});
    else if (u == "MODSEQ") plan.push_back({"MODSEQ", Item::kModseq});
    else if (u == "INTERNALDATE") plan.push_back({"INTERNALDATE", Item::kDate});
    else if (u == "RFC822.SIZE") plan.push_back({"RFC822.SIZE", Item::kSize});
    else if (u == "RFC822") plan.push_back({"RFC822", Item::kBody, ""});
    else if (u == "RFC822.HEADER") plan.push_back({"RFC822.HEADER", Item::kBody, "HEADER", {}, {}, true});
    else if (u == "RFC822.TEXT") plan.push_back({"RFC822.TEXT", Item::kBody, "TEXT"});
    else if (u == "ENVELOPE") plan.push_back({"ENVELOPE", Item::kEnvelope});
    else if (u == "BODYSTRUCTURE") plan.push_back({"BODYSTRUCTURE", Item::kStructure});
    else if (u == "BODY") plan.push_back({"BODY", Item::kBodyBasic});
    else if (u.rfind("BODY[", 0) == 0 || u.rfind("BODY.PEEK[", 0) == 0) {
      Item it{"", Item::kBody};
      it.peek = u.rfind("BODY.PEEK[", 0) == 0;
      size_t open = u.find('['), close = u.rfind(']');
      if (close == std::string::npos) return "BAD '" + raw + "' has no closing ']'";
      std::string sec = raw.substr(open + 1, close - open - 1);
      // Leading part numbers: "1.2.HEADER" → path {1, 2}, then "HEADER".
      std::string pathtext;
      size_t pos = 0;
      while (pos < sec.size() && sec[pos] >= '0' && sec[pos] <= '9') {
        size_t dot = sec.find('.', pos);
        std::string num = sec.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
        if (num.empty() || num.size() > 6 || !std::all_of(num.begin(), num.end(), [](char d) { return d >= '0' && d <= '9'; }))
          return "BAD '" + raw + "' has a malformed section";
        it.path.push_back(std::stoi(num));
        pathtext += num + ".";
        if (dot == std::string::npos) {
          pos = sec.size();
          break;
        }
        pos = dot + 1;
      }
      if (!it.path.empty() && pos == sec.size() && sec.back() == '.') return "BAD '" + raw + "' has a malformed section";
      sec = sec.substr(pos);
      std::string usec = imap::AsciiUpper(sec);
      if (usec.empty() || usec == "HEADER" || usec == "TEXT" || (usec == "MIME" && !it.path.empty())) {
        it.section = usec;
        sec = usec;
      } else if (usec.rfind("HEADER.FIELDS", 0) == 0) {
        bool neg = usec.rfind("HEADER.FIELDS.NOT", 0) == 0;
        it.section = neg ? "HEADER.FIELDS.NOT" : "HEADER.FIELDS";
        size_t lp = sec.find('('), rp = sec.rfind(')');
        if (lp == std::string::npos || rp == std::string::npos || rp < lp) return "BAD '" + raw + "' needs a field list";
        std::string list = sec.substr(lp + 1, rp - lp - 1);
        for (size_t p = 0; p < list.size();) {
          size_t q = list.find(' ', p);
          std::string f = list.substr(p, q == std::string::npos ? std::string::npos : q - p);
          if (!f.empty()) {
            if (f.front() == '"' && f.size() >= 2 && f.back() == '"') f = f.substr(1, f.size() - 2);
            it.fields.push_back(f);
          }
          if (q == std::string::npos) break;
          p = q + 1;
        }
        sec = it.section + " (" + [&] {
          std::string j;
          for (auto& f : it.fields) j += (j.empty() ? "" : " ") + imap::AsciiUpper(f);
          return j;
        }() + ")";
      } else {
        return "BAD '" + raw + "' names a section this server does not know";
      }
      if (!pathtext.empty() && sec.empty()) pathtext.pop_back();  // "1.2" not "1.2."
      sec = pathtext + sec;
      std::string tail = raw.substr(close + 1);
      if (!tail.empty()) {
        unsigned long long o = 0, l = 0;
        if (std::sscanf(tail.c_str(), "<%llu.%llu>", &o, &l) != 2 || l == 0) return "BAD '" + raw + "' has a malformed <offset.length>";
        it.partial = true;
        it.offset = o;
        it.length = l;
      }
      it.name = "BODY[" + sec + "]" + (it.partial ? "<" + std::to_string(it.offset) + ">" : "");
      plan.push_back(std::move(it));
    } else {
      return "BAD FETCH item '" + raw + "' is not one this server knows";
    }
  }
  bool marks_seen = !read_only_ && std::any_of(plan.begin(), plan.end(), [](const Item& x) {
    return x.kind == Item::kBody && !x.peek;
  });
  for (size_t i : idx) {
    MessageRecord& m = view_[i];
    std::string out = "* " + std::to_string(i + 1) + " FETCH (";
    // A non-PEEK body fetch sets \\Seen (RFC 3501 §6.4.5), before the items
    // are written so that FLAGS and MODSEQ in this response are the new ones.
    bool set_seen = false;
    if (marks_seen && !(m.flags & store::kSeen)) {
      auto ms = sdb_->SetFlags(smailbox_, folder_, m.uid, m.flags | store::kSeen, m.keywords);
      if (ms.ok()) {
        m.flags |= store::kSeen;
        m.modseq = *ms;
        set_seen = true;
      }
    }
    std::string body;
    bool have_body = false;
    store::MimePart tree;  // parsed on first need
    bool tree_of = false;
    bool sep = false;
    for (const Item& it : plan) {
      if (sep) out += " ";
      sep = true;
      switch (it.kind) {
        case Item::kUid: out += "UID " + std::to_string(m.uid); break;
        case Item::kFlags: out += "FLAGS " + FlagList(m); break;
        case Item::kModseq: out += "MODSEQ (" + std::to_string(m.modseq) + ")"; break;
        case Item::kDate: out += "INTERNALDATE \"" + imap::FormatDateTime({m.internal_date, m.internal_zone}) + "\""; break;
        case Item::kSize: out += "RFC822.SIZE " + std::to_string(m.size); break;
        case Item::kEnvelope:
        case Item::kStructure:
        case Item::kBodyBasic:
        case Item::kBody: {
          if (!have_body) {
            auto b = sdb_->ReadBody(m.body);
            if (!b.ok()) return "NO [SERVERBUG] " + b.error().Message();
            body = std::move(*b);
            have_body = true;
          }
          std::string_view whole(body);
          if (it.kind != Item::kBody || !it.path.empty()) {
            if (!tree_of) {
              tree = store::ParseMimeTree(whole);
              tree_of = true;
            }
          }
          if (it.kind == Item::kEnvelope) {
            out += "ENVELOPE " + Envelope(whole.substr(0, tree.header_end));
            break;
          }
          if (it.kind == Item::kStructure || it.kind == Item::kBodyBasic) {
            out += it.name + " " + BodyStructure(whole, tree, it.kind == Item::kStructure);
            break;
          }
          // `part` views the body (or `made`, for header field selections):
          // no copy of the message is made to answer it.
          std::string made;
          std::string_view part;
          if (it.path.empty()) {
            size_t he = store::HeaderBlockEnd(whole);
            if (it.section.empty()) part = whole;
            else if (it.section == "HEADER") part = whole.substr(0, he);
            else if (it.section == "TEXT") part = whole.substr(he);
            else part = made = HeaderFields(whole.substr(0, he), it.fields, it.section == "HEADER.FIELDS.NOT");
          } else if (const store::MimePart* mp = store::FindMimePart(tree, it.path)) {
            const store::MimePart* inner = mp->message.empty() ? nullptr : &mp->message[0];
            if (it.section.empty()) {
              part = whole.substr(mp->body_begin, mp->body_end - mp->body_begin);
            } else if (it.section == "MIME") {
              part = whole.substr(mp->header_begin, mp->header_end - mp->header_begin);
            } else if (inner) {  // HEADER, TEXT and HEADER.FIELDS of an embedded message
              std::string_view h = whole.substr(inner->header_begin, inner->header_end - inner->header_begin);
              if (it.section == "HEADER") part = h;
              else if (it.section == "TEXT") part = whole.substr(inner->body_begin, inner->body_end - inner->body_begin);
              else part = made = HeaderFields(h, it.fields, it.section == "HEADER.FIELDS.NOT");
            }
            // HEADER/TEXT of a part that is not a message: empty (RFC 3501 §6.4.5).
          }
          // A part that does not exist is empty, as Dovecot answers it.
          if (it.partial) part = it.offset >= part.size() ? std::string_view() : part.substr(it.offset, it.length);
          out += it.name + " {" + std::to_string(part.size()) + "}\r\n";
          if (part.size() >= kDirectSend) {
            // Large: what is gathered goes first, then the bytes straight
            // from the body, not appended to `out` (one copy less).
            if (!Send(out) || !Send(part)) return "NO the client is gone";
            out.clear();
          } else {
            out += part;
          }
          break;
        }
      }
    }
    if (set_seen && std::none_of(plan.begin(), plan.end(), [](const Item& x) { return x.kind == Item::kFlags; }))
      out += " FLAGS " + FlagList(m);
    out += ")\r\n";
    if (!Send(out)) return "NO the client is gone";
  }
  if (uid) Refresh(false);
  return std::string(uid ? "OK UID FETCH" : "OK FETCH") + " completed";
}

std::string Session::CopyMove(const ParsedCommand& c, size_t first, bool uid, bool move) {
  const char* verb = move ? "MOVE" : "COPY";
  const auto& a = c.args;
  if (a.size() != first + 2) return std::string("BAD ") + verb + " takes a set and a folder name";
  if (move && read_only_) return "NO [READ-ONLY] the folder was opened with EXAMINE";
  std::vector<size_t> idx;
  if (!Resolve(a[first].str(), uid, &idx)) return "BAD '" + a[first].str() + "' is not a valid set here";
  std::string name, why;
  if (!FolderName(a[first + 1], &name, &why)) return "BAD " + why;
  store::FolderInfo folder;
  std::string missing;
  Place place;
  if (!LookupFolder(name, a[first + 1].str(), "TRYCREATE", &folder, &missing, &place)) return missing;
  if (!place.writable) return "NO [NOPERM] you may only read " + ImapString(a[first + 1].str());
  std::vector<uint32_t> uids;
  for (size_t i : idx) uids.push_back(view_[i].uid);
  Result<std::vector<std::pair<uint32_t, uint32_t>>> pairs = std::vector<std::pair<uint32_t, uint32_t>>{};
  if (place.db == sdb_ && place.mailbox == smailbox_) {
    pairs = sdb_->Copy(smailbox_, folder_, uids, place.folder, move);
  } else {
    // Between the user's mailbox and a public folder: the messages are
    // appended there in one batch with their flags and dates, then (MOVE)
    // expunged here; a crash between the two leaves a copy, never a loss.
    std::vector<std::string> bodies;
    std::vector<store::AppendItem> items;
    for (size_t i : idx) {
      auto b = sdb_->ReadBody(view_[i].body);
      if (!b.ok()) return "NO [SERVERBUG] " + b.error().Message();
      bodies.push_back(std::move(*b));
    }
    for (size_t k = 0; k < idx.size(); ++k) {
      const MessageRecord& m = view_[idx[k]];
      items.push_back({bodies[k], m.flags, m.keywords, m.internal_date, m.internal_zone});
    }
    auto made = place.db->AppendMany(place.mailbox, place.folder, items);
    if (!made.ok()) return "NO [SERVERBUG] " + made.error().Message();
    pairs->clear();
    for (size_t k = 0; k < idx.size(); ++k) pairs->emplace_back(uids[k], (*made)[k]);
    if (move) {
      auto gone = sdb_->Expunge(smailbox_, folder_, uids);
      if (!gone.ok()) return "NO [SERVERBUG] " + gone.error().Message();
    }
  }
  if (!pairs.ok()) return "NO [SERVERBUG] " + pairs.error().Message();
  std::string done = std::string(uid ? "UID " : "") + verb + " completed";
  if (pairs->empty()) return "OK " + done + " (nothing to " + (move ? "move" : "copy") + ")";
  std::vector<uint32_t> from, to;
  for (auto& [f, t] : *pairs) {
    from.push_back(f);
    to.push_back(t);
  }
  std::string code = "COPYUID " + std::to_string(folder.uidvalidity) + " " + imap::SequenceSet(from) + " " +
                     imap::SequenceSet(to);
  if (!move) {
    if (Same(place)) Refresh(false);
    return "OK [" + code + "] " + done;
  }
  // RFC 6851: the COPYUID comes untagged, then the expunges of the originals.
  Send("* OK [" + code + "] moved\r\n");
  Refresh(true);
  return "OK " + done;
}

// RFC 2177. Changes reach the client as they commit: the session sleeps on
// its socket and an eventfd the database writes at every commit, then
// Refresh tells what changed in the selected folder. A periodic wake-up
// (kIdlePollMs) is only a safety net and the autologout clock.
std::string Session::Idle() {
  constexpr int kIdlePollMs = 1000;
  if (state_ == State::kSelected) Refresh(true);
  int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  std::shared_ptr<store::Database> watched = state_ == State::kSelected && efd >= 0 ? sdb_ : nullptr;
  if (watched) watched->Watch(efd);
  struct Unwatch {
    std::shared_ptr<store::Database> db;
    int fd;
    ~Unwatch() {
      if (db) db->Unwatch(fd);
      if (fd >= 0) close(fd);
    }
  } unwatch{watched, efd};
  if (!Send("+ idling\r\n")) return "NO the client is gone";
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(o_.autologout_seconds);
  while (true) {
    if (parser_.buffered() == 0 && !(tls_ && tls_->pending())) {
      pollfd p[2] = {{conn_.fd(), POLLIN, 0}, {efd, POLLIN, 0}};
      int r = poll(p, watched ? 2 : 1, kIdlePollMs);
      if (r < 0 && errno != EINTR) return "NO the connection failed";
      if (r > 0 && watched && (p[1].revents & POLLIN)) {
        uint64_t n;
        (void)!read(efd, &n, sizeof n);
        if (!p[0].revents) r = 0;  // only a commit: tell it, below
      }
      if (r <= 0) {
        if (state_ == State::kSelected) Refresh(true);  // reads the folder only when a commit happened
        if (std::chrono::steady_clock::now() > deadline) {
          Send("* BYE Autologout; idle for too long\r\n");
          state_ = State::kLogout;
          return "NO IDLE ended by the autologout timer";
        }
        continue;
      }
    }
    auto line = parser_.ReadLine();
    if (!line.ok()) {
      state_ = State::kLogout;
      return "NO the client is gone";
    }
    if (imap::AsciiIEquals(*line, "DONE")) return "OK IDLE terminated";
    return "BAD expected DONE to end IDLE";
  }
}

std::string Session::Search(const ParsedCommand& c, size_t first, bool uid) {
  SearchProgram program;
  std::string err = program.Parse(c.args, first, uint32_t(view_.size()), view_.empty() ? 0 : view_.back().uid);
  if (!err.empty()) return err;
  if (program.has_modseq()) condstore_ = true;
  std::string out = "* SEARCH";
  uint64_t top = 0;
  for (size_t i = 0; i < view_.size(); ++i) {
    const MessageRecord& m = view_[i];
    std::unique_ptr<imap::SearchText> text;
    if (program.needs_header() || program.needs_body()) {
      auto body = sdb_->ReadBody(m.body);
      if (!body.ok()) return "NO [SERVERBUG] " + body.error().Message();
      text = std::make_unique<imap::SearchText>(*body, !program.needs_body());
    }
    if (!program.Matches(m, uint32_t(i + 1), text.get())) continue;
    out += " " + std::to_string(uid ? m.uid : uint32_t(i + 1));
    top = std::max(top, m.modseq);
  }
  // RFC 7162 §3.1.5: a search with MODSEQ tells the highest MODSEQ found.
  if (program.has_modseq() && top) out += " (MODSEQ " + std::to_string(top) + ")";
  Send(out + "\r\n");
  return std::string(uid ? "OK UID SEARCH" : "OK SEARCH") + " completed";
}

}  // namespace

bool UserSessions::Acquire(const std::string& mailbox, size_t limit) {
  std::lock_guard<std::mutex> l(mu_);
  size_t& n = count_[mailbox];
  if (n >= limit) return false;
  ++n;
  return true;
}

void UserSessions::Release(const std::string& mailbox) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = count_.find(mailbox);
  if (it != count_.end() && --it->second == 0) count_.erase(it);
}

void ImapService::Serve(net::Conn& conn, bool implicit_tls) {
  if (implicit_tls && !tls_) return;  // cmd_serve never binds one without a context
  Session s(store_, options_, conn, tls_.get(), &sessions_);
  s.Run(implicit_tls);
}

}  // namespace mx::imapd
