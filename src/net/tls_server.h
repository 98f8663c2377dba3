// TLS on the server side of a net::Conn (OpenSSL): a context loaded once from
// a certificate chain and key, and a session per connection, started right
// away (implicit TLS) or after a STARTTLS exchange. The socket stays
// blocking with the Conn's read timeout, so a silent client still times out.
//
// A TlsServerContext is thread-safe; a TlsSession belongs to its
// connection's thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/error.h"
#include "net/server.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace mx::net {

class TlsServerContext {
 public:
  /// TLS 1.2 or newer. CONFIG error naming the file and OpenSSL's reason
  /// when the certificate or key cannot be loaded or do not match.
  static Result<std::shared_ptr<TlsServerContext>> Load(const std::string& cert_file, const std::string& key_file);
  ~TlsServerContext();
  SSL_CTX* get() const { return ctx_; }

 private:
  explicit TlsServerContext(SSL_CTX* ctx) : ctx_(ctx) {}
  SSL_CTX* ctx_;
};

class TlsSession {
 public:
  /// Runs the handshake on `conn`. TLS error naming the peer and the reason.
  static Result<std::unique_ptr<TlsSession>> Accept(const TlsServerContext& ctx, Conn& conn);
  ~TlsSession();
  /// Up to `n` bytes; 0 when the peer closed, failed, or the read timed out
  /// (conn.timed_out() says which, as for Conn::Read).
  size_t Read(char* buf, size_t n);
  bool Write(std::string_view data);
  /// Decrypted bytes waiting (check before polling the socket).
  bool pending() const;
  /// "TLSv1.3 TLS_AES_256_GCM_SHA384"
  std::string Description() const;

 private:
  TlsSession(SSL* ssl, Conn& conn) : ssl_(ssl), conn_(conn) {}
  SSL* ssl_;
  Conn& conn_;
};

}  // namespace mx::net
