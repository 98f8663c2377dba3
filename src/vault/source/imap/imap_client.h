// An IMAP client connection for mailbox backups and restores: connects
// (implicit TLS or STARTTLS; plaintext only on loopback and only when asked),
// authenticates (SASL PLAIN, LOGIN, XOAUTH2, OAUTHBEARER), tracks
// capabilities, and runs commands, pipelined when the caller wants: Send()
// several, then Await() each tag. Responses are parsed by the IMAP codec
// (src/imap/), which streams message bodies to sinks.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "imap/command.h"
#include "imap/response.h"
#include "net/client_stream.h"

namespace mx::vault {

struct ImapAccount {
  bool implicit_tls = false;  // imaps://
  std::string user, host;
  uint16_t port = 143;
  /// "imaps://alice@mail.example.org:993"
  std::string Url() const;
};
/// imap://USER@HOST[:PORT] or imaps://...; the user may be percent-encoded
/// ("alice%40example.org@imap.example.org"). USAGE error otherwise.
Result<ImapAccount> ParseImapUrl(const std::string& url);

struct ImapLogin {
  std::string password;      // PLAIN / LOGIN
  std::string oauth_token;   // XOAUTH2 / OAUTHBEARER
  std::string mechanism;     // "" (choose), PLAIN, LOGIN, XOAUTH2, OAUTHBEARER
  std::string ca_file;
  bool insecure_plaintext = false;  // allow no TLS, loopback only
  int timeout_ms = 60000;
};

class ImapClient {
 public:
  using Untagged = std::function<Status(imap::Response&)>;

  /// Connects, secures and authenticates. AUTH_FAILED when the server refuses
  /// the credentials; TLS when the server offers no TLS and plaintext was not
  /// allowed for a loopback address.
  static Result<std::unique_ptr<ImapClient>> Connect(const ImapAccount& account, const ImapLogin& login);
  ~ImapClient();

  bool Has(std::string_view capability) const;  // upper case, e.g. "QRESYNC", "AUTH=PLAIN"
  const ImapAccount& account() const { return account_; }
  std::string Describe() const;  // "imaps://alice@host:993 (TLSv1.3 ...)"

  /// Runs one command to its completion; untagged responses go to
  /// `on_untagged`. A NO or BAD is an error naming the command and the reply.
  Result<imap::Response> Run(const imap::Command& cmd, const Untagged& on_untagged = nullptr,
                             const imap::StreamDecider& stream = nullptr);
  /// Pipelining: sends a command without literals and returns its tag.
  Result<std::string> Send(const imap::Command& cmd);
  /// Reads responses until `tag` completes (others' completions are kept for
  /// their own Await).
  Result<imap::Response> Await(const std::string& tag, const Untagged& on_untagged = nullptr,
                               const imap::StreamDecider& stream = nullptr);
  /// Like Await but a NO is returned as a response, not an error.
  Result<imap::Response> AwaitAny(const std::string& tag, const Untagged& on_untagged = nullptr,
                                  const imap::StreamDecider& stream = nullptr);

  /// Ends the session politely (LOGOUT), bounded by the timeout.
  void Logout();
  /// Aborts a blocked call from another thread.
  void Shutdown() { stream_->Shutdown(); }
  uint64_t bytes_read() const { return stream_->bytes_read(); }

 private:
  class StreamInput : public imap::Input {
   public:
    explicit StreamInput(net::ClientStream* s) : s_(s) {}
    Result<size_t> Read(char* buf, size_t n) override { return s_->Read(buf, n); }

   private:
    net::ClientStream* s_;
  };
  ImapClient(ImapAccount a, std::unique_ptr<net::ClientStream> s);
  std::string NextTag();
  Status ReadCapabilities(const imap::Response& r);
  Status Authenticate(const ImapLogin& login);
  Result<imap::Response> Sasl(const std::string& mechanism, const std::string& initial);
  Error Refused(const std::string& what, const imap::Response& r) const;

  ImapAccount account_;
  std::unique_ptr<net::ClientStream> stream_;
  std::unique_ptr<StreamInput> input_;
  std::unique_ptr<imap::ResponseParser> parser_;
  std::set<std::string> caps_;
  std::map<std::string, imap::Response> done_;     // completions read early
  std::map<std::string, std::string> pending_;     // tag -> command (for messages)
  uint64_t next_tag_ = 1;
};

/// The SASL PLAIN initial response for user/password (base64).
std::string SaslPlain(const std::string& user, const std::string& password);

}  // namespace mx::vault
