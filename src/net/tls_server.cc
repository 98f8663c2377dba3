#include "net/tls_server.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cerrno>

namespace mx::net {
namespace {

std::string OpenSslReason() {
  unsigned long e = ERR_get_error();
  if (e == 0) return "no reason given";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

}  // namespace

Result<std::shared_ptr<TlsServerContext>> TlsServerContext::Load(const std::string& cert_file,
                                                                 const std::string& key_file) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) return Error(Code::kInternal, "cannot create a TLS context", "", OpenSslReason());
  std::shared_ptr<TlsServerContext> out(new TlsServerContext(ctx));
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1)
    return Error(Code::kConfig, "cannot load the TLS certificate", cert_file, OpenSslReason(),
                 "point tls_cert_file at a PEM certificate chain");
  if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1)
    return Error(Code::kConfig, "cannot load the TLS key", key_file, OpenSslReason(),
                 "point tls_key_file at the PEM private key of the certificate");
  if (SSL_CTX_check_private_key(ctx) != 1)
    return Error(Code::kConfig, "the TLS key does not match the certificate", key_file + " / " + cert_file,
                 OpenSslReason(), "give the key the certificate was issued for");
  return out;
}

TlsServerContext::~TlsServerContext() { SSL_CTX_free(ctx_); }

Result<std::unique_ptr<TlsSession>> TlsSession::Accept(const TlsServerContext& ctx, Conn& conn) {
  SSL* ssl = SSL_new(ctx.get());
  if (!ssl) return Error(Code::kInternal, "cannot start TLS", conn.peer(), OpenSslReason());
  std::unique_ptr<TlsSession> s(new TlsSession(ssl, conn));
  SSL_set_fd(ssl, conn.fd());
  int r = SSL_accept(ssl);
  if (r != 1) {
    int err = SSL_get_error(ssl, r);
    std::string why = err == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK)
                          ? "the client sent no handshake in time"
                          : OpenSslReason();
    return Error(Code::kTls, "TLS handshake failed", conn.peer(), why,
                 "the client must trust the server's certificate (its CA) and speak TLS 1.2 or newer");
  }
  return s;
}

TlsSession::~TlsSession() {
  SSL_shutdown(ssl_);  // best effort close_notify
  SSL_free(ssl_);
}

size_t TlsSession::Read(char* buf, size_t n) {
  int r = SSL_read(ssl_, buf, int(std::min<size_t>(n, 1 << 30)));
  if (r > 0) return size_t(r);
  // The Conn's receive timeout surfaces as a failed read with EAGAIN; let the
  // caller tell a timeout from a close the same way as for plain reads.
  int saved = errno;
  int err = SSL_get_error(ssl_, r);
  if ((err == SSL_ERROR_SYSCALL || err == SSL_ERROR_WANT_READ) && (saved == EAGAIN || saved == EWOULDBLOCK))
    conn_.MarkTimedOut();
  ERR_clear_error();
  return 0;
}

bool TlsSession::Write(std::string_view data) {
  while (!data.empty()) {
    int w = SSL_write(ssl_, data.data(), int(std::min<size_t>(data.size(), 1 << 30)));
    if (w <= 0) {
      ERR_clear_error();
      return false;
    }
    data.remove_prefix(size_t(w));
  }
  return true;
}

bool TlsSession::pending() const { return SSL_pending(ssl_) > 0; }

std::string TlsSession::Description() const {
  return std::string(SSL_get_version(ssl_)) + " " + SSL_CIPHER_get_name(SSL_get_current_cipher(ssl_));
}

}  // namespace mx::net
