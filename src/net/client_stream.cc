#include "net/client_stream.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace mx::net {
namespace {

std::string OpenSslReason() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

bool IsLoopback(const sockaddr* sa) {
  if (sa->sa_family == AF_INET)
    return (ntohl(reinterpret_cast<const sockaddr_in*>(sa)->sin_addr.s_addr) >> 24) == 127;
  if (sa->sa_family == AF_INET6) {
    const auto* a6 = reinterpret_cast<const sockaddr_in6*>(sa);
    return IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr) ||
           (IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr) && a6->sin6_addr.s6_addr[12] == 127);
  }
  return false;
}

std::string AddrText(const sockaddr* sa) {
  char buf[INET6_ADDRSTRLEN] = "?";
  if (sa->sa_family == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, buf, sizeof buf);
  else if (sa->sa_family == AF_INET6)
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, buf, sizeof buf);
  return buf;
}

}  // namespace

Result<std::unique_ptr<ClientStream>> ClientStream::Connect(const std::string& host, uint16_t port, int timeout_ms) {
  std::string name = host;
  if (name.size() > 2 && name.front() == '[' && name.back() == ']') name = name.substr(1, name.size() - 2);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  std::string port_text = std::to_string(port);
  int rc = getaddrinfo(name.c_str(), port_text.c_str(), &hints, &res);
  std::string where = host + ":" + port_text;
  if (rc != 0)
    return Error(Code::kNetwork, "cannot resolve the server's name", where, gai_strerror(rc),
                 "check the host name and the resolver (/etc/hosts, DNS)");
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> guard(res, freeaddrinfo);
  std::string last = "no address";
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) {
      last = std::strerror(errno);
      continue;
    }
    std::string addr = AddrText(ai->ai_addr);
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
      last = addr + ": " + std::strerror(errno);
      close(fd);
      continue;
    }
    pollfd p{fd, POLLOUT, 0};
    int n = poll(&p, 1, timeout_ms);
    int err = 0;
    socklen_t len = sizeof err;
    if (n == 1) getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (n != 1 || err != 0) {
      last = addr + ": " + (n == 0 ? "no answer within " + std::to_string(timeout_ms / 1000.0).substr(0, 4) + " s"
                                   : std::string(std::strerror(n == 1 ? err : errno)));
      close(fd);
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    return std::unique_ptr<ClientStream>(new ClientStream(fd, where + " (" + addr + ")", IsLoopback(ai->ai_addr)));
  }
  return Error(Code::kNetwork, "cannot connect to the server", where, last,
               "check that the server listens there and that no firewall drops the connection");
}

ClientStream::~ClientStream() {
  if (ssl_) SSL_free(ssl_);
  if (ctx_) SSL_CTX_free(ctx_);
  if (fd_ >= 0) close(fd_);
}

void ClientStream::Shutdown() {
  if (fd_ >= 0) shutdown(fd_, SHUT_RDWR);
}

Status ClientStream::Wait(bool for_write, const char* doing) {
  pollfd p{fd_, short(for_write ? POLLOUT : POLLIN), 0};
  while (true) {
    int n = poll(&p, 1, timeout_ms_);
    if (n > 0) return Ok();
    if (n < 0 && errno == EINTR) continue;
    if (n == 0)
      return Error(Code::kNetwork, std::string("the server stopped responding while ") + doing, peer_,
                   "nothing for " + std::to_string(timeout_ms_ / 1000) + " s",
                   "check the server and the network; the run can be repeated and resumes");
    return ErrnoError(std::string("cannot wait for the server while ") + doing, peer_, errno, Code::kNetwork);
  }
}

Error ClientStream::SslError(const char* doing, int ret) {
  int e = SSL_get_error(ssl_, ret);
  if (ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
    ERR_clear_error();
    return Error(Code::kNetwork, std::string("the connection was closed by the server while ") + doing, peer_,
                 "TLS ended without its close_notify (the connection was cut)",
                 "check the server's log and the network path; the run can be repeated and resumes");
  }
  std::string why = OpenSslReason();
  if (why.empty()) why = e == SSL_ERROR_ZERO_RETURN ? "the server closed TLS" : e == SSL_ERROR_SYSCALL ? std::string(std::strerror(errno ? errno : ECONNRESET)) : "TLS error " + std::to_string(e);
  return Error(Code::kNetwork, std::string("the TLS connection failed while ") + doing, peer_, why,
               "check the server and the network; the run can be repeated and resumes");
}

Status ClientStream::StartTls(const TlsOptions& opts) {
  ctx_ = SSL_CTX_new(TLS_client_method());
  if (!ctx_) return Error(Code::kTls, "cannot create a TLS context", peer_, OpenSslReason());
  SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
  int ok = opts.ca_file.empty() ? SSL_CTX_set_default_verify_paths(ctx_)
                                : SSL_CTX_load_verify_locations(ctx_, opts.ca_file.c_str(), nullptr);
  if (ok != 1)
    return Error(Code::kTls, "cannot load the CA certificates", opts.ca_file.empty() ? "(system CAs)" : opts.ca_file,
                 OpenSslReason(), "pass --ca-file with the PEM file of the CA that signed the server's certificate");
  if (!opts.cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx_, opts.cert_file.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx_, opts.key_file.c_str(), SSL_FILETYPE_PEM) != 1)
      return Error(Code::kTls, "cannot load the client certificate", opts.cert_file, OpenSslReason());
  }
  ssl_ = SSL_new(ctx_);
  SSL_set_fd(ssl_, fd_);
  const std::string& name = opts.server_name;
  in6_addr a6;
  in_addr a4;
  bool is_ip = inet_pton(AF_INET, name.c_str(), &a4) == 1 || inet_pton(AF_INET6, name.c_str(), &a6) == 1;
  if (is_ip) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), name.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl_, name.c_str());
    SSL_set1_host(ssl_, name.c_str());
  }
  while (true) {
    int r = SSL_connect(ssl_);
    if (r == 1) break;
    int e = SSL_get_error(ssl_, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
      MX_CHECK(Wait(e == SSL_ERROR_WANT_WRITE, "negotiating TLS"));
      continue;
    }
    long v = SSL_get_verify_result(ssl_);
    std::string why = v != X509_V_OK ? std::string("certificate: ") + X509_verify_cert_error_string(v) : OpenSslReason();
    if (why.empty()) why = "the server closed the connection during the handshake";
    return Error(Code::kTls, "the TLS handshake with the server failed", peer_, why,
                 "check --ca-file (the CA that signed the server's certificate) and that the certificate names '" +
                     name + "'");
  }
  return Ok();
}

std::string ClientStream::TlsDescription() const {
  if (!ssl_) return "plaintext";
  return std::string(SSL_get_version(ssl_)) + " " + SSL_CIPHER_get_name(SSL_get_current_cipher(ssl_));
}

Result<size_t> ClientStream::Read(char* buf, size_t n) {
  while (true) {
    if (ssl_) {
      size_t got = 0;
      errno = 0;
      int r = SSL_read_ex(ssl_, buf, n, &got);
      if (r == 1) {
        bytes_read_ += got;
        return got;
      }
      int e = SSL_get_error(ssl_, r);
      if (e == SSL_ERROR_ZERO_RETURN) return size_t(0);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        MX_CHECK(Wait(e == SSL_ERROR_WANT_WRITE, "reading"));
        continue;
      }
      if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 && errno == 0) return size_t(0);  // EOF without close_notify
      return SslError("reading", r);
    }
    ssize_t r = ::read(fd_, buf, n);
    if (r >= 0) {
      bytes_read_ += size_t(r);
      return size_t(r);
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      MX_CHECK(Wait(false, "reading"));
      continue;
    }
    return ErrnoError("cannot read from the server", peer_, errno, Code::kNetwork);
  }
}

Status ClientStream::Write(std::string_view data) {
  size_t off = 0;
  while (off < data.size()) {
    if (ssl_) {
      size_t put = 0;
      int r = SSL_write_ex(ssl_, data.data() + off, data.size() - off, &put);
      if (r == 1) {
        off += put;
        continue;
      }
      int e = SSL_get_error(ssl_, r);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        MX_CHECK(Wait(e == SSL_ERROR_WANT_WRITE, "writing"));
        continue;
      }
      return SslError("writing", r);
    }
    ssize_t r = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (r >= 0) {
      off += size_t(r);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      MX_CHECK(Wait(true, "writing"));
      continue;
    }
    return ErrnoError("cannot write to the server", peer_, errno, Code::kNetwork);
  }
  bytes_written_ += data.size();
  return Ok();
}

}  // namespace mx::net
