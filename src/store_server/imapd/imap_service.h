// The IMAP front end (RFC 3501, issue 7): one Session per connection against
// a Store, commands read by the shared codec (imap/command_parser.h).
//
// What it serves today is listed in docs/store.md ("IMAP") and advertised in
// CAPABILITY; nothing else is advertised. Every change a client is told OK
// about is durable in the transaction log first (Database commits sync).
//
// Isolation: a session works only on the mailbox of the user who logged in;
// folder names are looked up inside that mailbox, never as paths, so no name
// ("..", "%", another user's address, UTF-7 tricks) reaches another mailbox.
//
// Thread-safe: one instance serves every connection of its listeners.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "net/server.h"
#include "net/tls_server.h"
#include "store/db/store.h"

namespace mx::imapd {

struct Options {
  std::string hostname = "mxstore";
  int autologout_seconds = 1800;           // RFC 3501: at least 30 minutes
  uint64_t append_limit = 64 << 20;        // APPENDLIMIT, the largest literal accepted
  size_t max_line = 64 << 10;              // a command outside literals
  int failed_login_delay_ms = 1000;        // each failed LOGIN/AUTHENTICATE waits this long
  bool allow_plaintext_auth = false;       // LOGIN without TLS from a non-loopback peer
  size_t max_connections_per_user = 20;    // logged-in sessions of one mailbox at once
};

/// Logged-in sessions per mailbox, for Options::max_connections_per_user.
class UserSessions {
 public:
  /// False when `mailbox` has `limit` sessions already.
  bool Acquire(const std::string& mailbox, size_t limit);
  void Release(const std::string& mailbox);

 private:
  std::mutex mu_;
  std::map<std::string, size_t> count_;
};

class ImapService {
 public:
  /// `tls` (may be null: no STARTTLS, no implicit TLS) serves STARTTLS on
  /// plain listeners and the handshake on implicit-TLS ones.
  ImapService(store::Store* store, Options options, std::shared_ptr<net::TlsServerContext> tls = nullptr)
      : store_(store), options_(std::move(options)), tls_(std::move(tls)) {}
  /// Serves one connection until LOGOUT, error, autologout or shutdown;
  /// `implicit_tls`: the handshake comes first (port 993 style).
  void Serve(net::Conn& conn, bool implicit_tls = false);

 private:
  store::Store* store_;
  Options options_;
  std::shared_ptr<net::TlsServerContext> tls_;
  UserSessions sessions_;
};

}  // namespace mx::imapd
