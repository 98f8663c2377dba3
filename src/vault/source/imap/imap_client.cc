#include "vault/source/imap/imap_client.h"

#include <charconv>

#include "common/bytes.h"

namespace mx::vault {
using imap::Command;
using imap::Response;

namespace {

std::string PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      auto h = FromHex(s.substr(i + 1, 2));
      if (h && h->size() == 1) {
        out += char((*h)[0]);
        i += 2;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

std::string B64(std::string_view s) { return Base64Encode(reinterpret_cast<const uint8_t*>(s.data()), s.size()); }

}  // namespace

std::string ImapAccount::Url() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return std::string(implicit_tls ? "imaps://" : "imap://") + user + "@" + h + ":" + std::to_string(port);
}

Result<ImapAccount> ParseImapUrl(const std::string& url) {
  auto bad = [&](const std::string& why) {
    return Error(Code::kUsage, "not an IMAP account address", url, why,
                 "write imap://USER@HOST[:PORT] or imaps://USER@HOST[:PORT] (percent-encode an '@' in the user as %40)");
  };
  ImapAccount a;
  std::string_view rest;
  if (url.rfind("imaps://", 0) == 0) {
    a.implicit_tls = true;
    a.port = 993;
    rest = std::string_view(url).substr(8);
  } else if (url.rfind("imap://", 0) == 0) {
    rest = std::string_view(url).substr(7);
  } else {
    return bad("it starts with neither imap:// nor imaps://");
  }
  while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  size_t at = rest.rfind('@');
  if (at == std::string_view::npos || at == 0) return bad("no user before '@'");
  a.user = PercentDecode(rest.substr(0, at));
  std::string_view hp = rest.substr(at + 1);
  if (hp.find('/') != std::string_view::npos) return bad("a path after the host (folders are chosen with --include)");
  if (!hp.empty() && hp[0] == '[') {
    size_t close = hp.find(']');
    if (close == std::string_view::npos) return bad("an IPv6 address without its ']'");
    a.host = std::string(hp.substr(1, close - 1));
    hp = hp.substr(close + 1);
    if (!hp.empty() && hp[0] != ':') return bad("text after the IPv6 address");
  } else {
    size_t colon = hp.rfind(':');
    a.host = std::string(hp.substr(0, colon));
    hp = colon == std::string_view::npos ? std::string_view() : hp.substr(colon);
  }
  if (a.host.empty()) return bad("no host");
  if (!hp.empty()) {
    unsigned port = 0;
    auto r = std::from_chars(hp.data() + 1, hp.data() + hp.size(), port);
    if (r.ec != std::errc() || r.ptr != hp.data() + hp.size() || port == 0 || port > 65535)
      return bad("the port is not a number from 1 to 65535");
    a.port = uint16_t(port);
  }
  return a;
}

std::string SaslPlain(const std::string& user, const std::string& password) {
  std::string raw;
  raw += '\0';
  raw += user;
  raw += '\0';
  raw += password;
  return B64(raw);
}

ImapClient::ImapClient(ImapAccount a, std::unique_ptr<net::ClientStream> s)
    : account_(std::move(a)), stream_(std::move(s)) {
  input_ = std::make_unique<StreamInput>(stream_.get());
  parser_ = std::make_unique<imap::ResponseParser>(*input_);
}

ImapClient::~ImapClient() = default;

bool ImapClient::Has(std::string_view c) const { return caps_.count(std::string(c)) > 0; }

std::string ImapClient::Describe() const { return account_.Url() + " (" + stream_->TlsDescription() + ")"; }

std::string ImapClient::NextTag() { return "m" + std::to_string(next_tag_++); }

Error ImapClient::Refused(const std::string& what, const Response& r) const {
  Code code = r.name == "BAD" ? Code::kProtocol : Code::kImapRefused;
  return Error(code, "the IMAP server refused " + what, account_.Url(), r.Summary(),
               r.name == "BAD" ? "the server did not understand the command; report it with this message"
                               : "the server's reply says why; check the account's rights and the server's log");
}

Status ImapClient::ReadCapabilities(const Response& r) {
  const std::vector<imap::Value>* list = nullptr;
  if (r.name == "CAPABILITY") list = &r.args;
  else if (r.code == "CAPABILITY") list = &r.code_args;
  if (!list) return Ok();
  caps_.clear();
  for (const auto& v : *list) caps_.insert(imap::AsciiUpper(v.str()));
  return Ok();
}

Result<std::unique_ptr<ImapClient>> ImapClient::Connect(const ImapAccount& account, const ImapLogin& login) {
  auto stream = MX_TRY(net::ClientStream::Connect(account.host, account.port, login.timeout_ms));
  stream->set_timeout_ms(login.timeout_ms);
  net::TlsOptions tls;
  tls.ca_file = login.ca_file;
  tls.server_name = account.host;
  if (account.implicit_tls) MX_CHECK(stream->StartTls(tls));
  std::unique_ptr<ImapClient> c(new ImapClient(account, std::move(stream)));
  Response greeting = MX_TRY(c->parser_->Next());
  if (greeting.type != Response::Type::kUntagged || (greeting.name != "OK" && greeting.name != "PREAUTH"))
    return Error(Code::kProtocol, "the IMAP server did not greet us", account.Url(), greeting.Summary(),
                 greeting.name == "BYE" ? "the server refuses connections now; check its log and connection limits"
                                        : "check that the address is an IMAP port (993 for imaps://, 143 for imap://)");
  MX_CHECK(c->ReadCapabilities(greeting));
  if (c->caps_.empty()) MX_CHECK(c->Run(Command("CAPABILITY"), [&](Response& r) { return c->ReadCapabilities(r); }));
  if (!account.implicit_tls) {
    if (c->Has("STARTTLS")) {
      MX_CHECK(c->Run(Command("STARTTLS")));
      if (c->parser_->buffered() != 0)
        return Error(Code::kProtocol, "the IMAP server sent data after accepting STARTTLS", account.Url(),
                     "plaintext bytes that would be read as if protected", "this may be an injection attack; do not use this path");
      MX_CHECK(c->stream_->StartTls(tls));
      MX_CHECK(c->Run(Command("CAPABILITY"), [&](Response& r) { return c->ReadCapabilities(r); }));
    } else if (!(login.insecure_plaintext && c->stream_->loopback())) {
      return Error(Code::kTls, "the IMAP server offers no TLS", account.Url(),
                   login.insecure_plaintext ? "--insecure-plaintext is honoured only for loopback addresses"
                                            : "no STARTTLS capability on a plaintext port",
                   "use imaps:// (port 993), enable STARTTLS on the server, or for a loopback test server pass "
                   "--insecure-plaintext");
    }
  }
  if (greeting.name != "PREAUTH") MX_CHECK(c->Authenticate(login));
  if (c->Has("QRESYNC")) {
    MX_CHECK(c->Run(Command("ENABLE").Raw("QRESYNC")));
  } else if (c->Has("CONDSTORE")) {
    MX_CHECK(c->Run(Command("ENABLE").Raw("CONDSTORE")));
  }
  return c;
}

Result<Response> ImapClient::Sasl(const std::string& mechanism, const std::string& initial) {
  std::string tag = NextTag();
  bool inline_ir = Has("SASL-IR");
  std::string line = tag + " AUTHENTICATE " + mechanism + (inline_ir ? " " + (initial.empty() ? "=" : initial) : "") + "\r\n";
  MX_CHECK(stream_->Write(line));
  bool sent = inline_ir;
  while (true) {
    Response r = MX_TRY(parser_->Next());
    if (r.type == Response::Type::kContinuation) {
      // The initial response if not sent yet; after that an empty line
      // (XOAUTH2's error challenge must be answered so the NO follows).
      MX_CHECK(stream_->Write((sent ? std::string() : initial) + "\r\n"));
      sent = true;
      continue;
    }
    if (r.type == Response::Type::kTagged && r.tag == tag) return r;
    MX_CHECK(ReadCapabilities(r));
  }
}

Status ImapClient::Authenticate(const ImapLogin& login) {
  std::string mech = imap::AsciiUpper(login.mechanism);
  if (mech.empty()) {
    if (!login.oauth_token.empty()) mech = Has("AUTH=XOAUTH2") ? "XOAUTH2" : "OAUTHBEARER";
    else if (Has("AUTH=PLAIN")) mech = "PLAIN";
    else mech = "LOGIN";
  }
  Response r;
  if (mech == "LOGIN") {
    if (Has("LOGINDISABLED"))
      return Error(Code::kAuth, "the IMAP server does not allow LOGIN here", account_.Url(), "LOGINDISABLED",
                   "use TLS (imaps:// or a server with STARTTLS) or another --auth mechanism");
    std::string tag = NextTag();
    auto segs = Command("LOGIN").AString(account_.user).AString(login.password).Serialize(tag, Has("LITERAL+"));
    for (size_t i = 0; i < segs.size(); ++i) {
      MX_CHECK(stream_->Write(segs[i].bytes));
      if (!segs[i].wait_for_continuation) continue;
      Response cont = MX_TRY(parser_->Next());
      if (cont.type != Response::Type::kContinuation) {
        r = cont;
        break;
      }
    }
    while (r.tag != tag) {
      r = MX_TRY(parser_->Next());
      if (r.type != Response::Type::kTagged) MX_CHECK(ReadCapabilities(r));
    }
  } else if (mech == "PLAIN") {
    r = MX_TRY(Sasl("PLAIN", SaslPlain(account_.user, login.password)));
  } else if (mech == "XOAUTH2") {
    r = MX_TRY(Sasl("XOAUTH2", B64("user=" + account_.user + "\x01" + "auth=Bearer " + login.oauth_token + "\x01\x01")));
  } else if (mech == "OAUTHBEARER") {
    r = MX_TRY(Sasl("OAUTHBEARER", B64("n,a=" + account_.user + ",\x01" + "host=" + account_.host + "\x01port=" +
                                       std::to_string(account_.port) + "\x01" + "auth=Bearer " + login.oauth_token +
                                       "\x01\x01")));
  } else {
    return Error(Code::kUsage, "unknown authentication mechanism", login.mechanism, "",
                 "use PLAIN, LOGIN, XOAUTH2 or OAUTHBEARER");
  }
  if (r.name != "OK")
    return Error(Code::kAuth, "the IMAP server refused the login", account_.Url(), mech + ": " + r.Summary(),
                 "check the user name and the password (or token) given with --imap-password-file / "
                 "--imap-password-command / --oauth-token-command");
  caps_.clear();
  MX_CHECK(ReadCapabilities(r));
  if (caps_.empty()) MX_CHECK(Run(Command("CAPABILITY"), [&](Response& u) { return ReadCapabilities(u); }));
  return Ok();
}

Result<std::string> ImapClient::Send(const Command& cmd) {
  std::string tag = NextTag();
  auto segs = cmd.Serialize(tag, Has("LITERAL+"), Has("LITERAL-"));
  if (segs.size() != 1) return Error(Code::kInternal, "pipelined command with a synchronizing literal", cmd.Debug(), "");
  MX_CHECK(stream_->Write(segs[0].bytes));
  pending_[tag] = cmd.Debug();
  return tag;
}

Result<Response> ImapClient::AwaitAny(const std::string& tag, const Untagged& on_untagged,
                                      const imap::StreamDecider& stream) {
  auto it = done_.find(tag);
  if (it != done_.end()) {
    Response r = std::move(it->second);
    done_.erase(it);
    pending_.erase(tag);
    return r;
  }
  while (true) {
    Response r = MX_TRY(parser_->Next(stream));
    if (r.type == Response::Type::kTagged) {
      if (r.tag == tag) {
        std::string what = pending_.count(tag) ? pending_[tag] : "a command";
        pending_.erase(tag);
        if (r.name == "BAD") return Refused(what, r);
        return r;
      }
      if (!pending_.count(r.tag))
        return Error(Code::kProtocol, "the IMAP server completed a command we did not send", account_.Url(), r.Summary(),
                     "the connection is confused; retry");
      done_[r.tag] = std::move(r);
      continue;
    }
    if (r.type == Response::Type::kContinuation)
      return Error(Code::kProtocol, "the IMAP server asked for data we did not offer", account_.Url(), r.Summary(),
                   "report it to the server's administrator");
    if (r.name == "BYE")
      return Error(Code::kNetwork, "the IMAP server ended the session", account_.Url(), r.Summary(),
                   "the server's reply says why; the run can be repeated and resumes");
    MX_CHECK(ReadCapabilities(r));
    if (on_untagged) MX_CHECK(on_untagged(r));
  }
}

Result<Response> ImapClient::Await(const std::string& tag, const Untagged& on_untagged, const imap::StreamDecider& stream) {
  std::string what = pending_.count(tag) ? pending_[tag] : "a command";
  Response r = MX_TRY(AwaitAny(tag, on_untagged, stream));
  if (r.name != "OK") return Refused(what, r);
  return r;
}

Result<Response> ImapClient::Run(const Command& cmd, const Untagged& on_untagged, const imap::StreamDecider& stream) {
  std::string tag = NextTag();
  auto segs = cmd.Serialize(tag, Has("LITERAL+"), Has("LITERAL-"));
  pending_[tag] = cmd.Debug();
  for (size_t i = 0; i < segs.size(); ++i) {
    MX_CHECK(stream_->Write(segs[i].bytes));
    if (!segs[i].wait_for_continuation) continue;
    while (true) {
      Response r = MX_TRY(parser_->Next(stream));
      if (r.type == Response::Type::kContinuation) break;
      if (r.type == Response::Type::kTagged) {
        if (r.tag == tag) {
          pending_.erase(tag);
          return Refused(cmd.Debug(), r);
        }
        done_[r.tag] = std::move(r);
        continue;
      }
      MX_CHECK(ReadCapabilities(r));
      if (on_untagged) MX_CHECK(on_untagged(r));
    }
  }
  return Await(tag, on_untagged, stream);
}

void ImapClient::Logout() {
  stream_->set_timeout_ms(2000);
  auto tag = Send(Command("LOGOUT"));
  if (tag.ok()) (void)AwaitAny(*tag);
}

}  // namespace mx::vault
