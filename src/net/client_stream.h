// A client's byte stream to a server: TCP (IPv4 or IPv6, every address a name
// resolves to, in order) with optional TLS from OpenSSL, implicit or upgraded
// later (STARTTLS). Every read, write and connect has a deadline, so a server
// that stalls is a TIMEOUT-class NETWORK error naming the peer, never a hang.
//
// Not thread-safe: one thread uses a stream at a time (Shutdown() may be
// called from another thread to unblock it).
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "common/error.h"

namespace mx::net {

struct TlsOptions {
  std::string ca_file;      // PEM bundle to trust; empty: the system's CAs
  std::string server_name;  // the name (or IP literal) the certificate must carry
  std::string cert_file, key_file;  // optional client certificate
};

class ClientStream {
 public:
  /// Connects to host:port within `timeout_ms` per address tried. NETWORK
  /// error naming host, port and the last cause.
  static Result<std::unique_ptr<ClientStream>> Connect(const std::string& host, uint16_t port, int timeout_ms);
  ~ClientStream();
  ClientStream(const ClientStream&) = delete;
  ClientStream& operator=(const ClientStream&) = delete;

  /// Starts TLS on the connection (implicit TLS right after Connect, or after
  /// a STARTTLS exchange). TLS error naming the peer and OpenSSL's reason.
  Status StartTls(const TlsOptions& opts);
  bool tls() const { return ssl_ != nullptr; }
  /// "TLSv1.3 TLS_AES_256_GCM_SHA384"
  std::string TlsDescription() const;

  /// Up to `n` bytes; 0 when the peer closed. NETWORK error on timeout
  /// ("no data for N s") or a reset.
  Result<size_t> Read(char* buf, size_t n);
  Status Write(std::string_view data);
  void set_timeout_ms(int ms) { timeout_ms_ = ms; }
  /// Closes the socket for reading and writing; a blocked Read returns.
  void Shutdown();

  const std::string& peer() const { return peer_; }  // "host:port (address)"
  bool loopback() const { return loopback_; }
  uint64_t bytes_read() const { return bytes_read_; }
  uint64_t bytes_written() const { return bytes_written_; }

 private:
  ClientStream(int fd, std::string peer, bool loopback) : fd_(fd), peer_(std::move(peer)), loopback_(loopback) {}
  Status Wait(bool for_write, const char* doing);
  Error SslError(const char* doing, int ret);

  int fd_;
  std::string peer_;
  bool loopback_;
  int timeout_ms_ = 60000;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  uint64_t bytes_read_ = 0, bytes_written_ = 0;
};

}  // namespace mx::net
