#include "net/server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/log.h"

namespace mx::net {

std::string Address::ToString() const {
  if (unix_socket) return "unix:" + path;
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

Result<Address> ParseAddress(const std::string& text) {
  Address a;
  if (text.rfind("unix:", 0) == 0) {
    a.unix_socket = true;
    a.path = text.substr(5);
    if (a.path.empty() || a.path.size() >= sizeof(sockaddr_un::sun_path))
      return Error(Code::kUsage, "invalid Unix socket address", text, "the path is empty or too long");
    return a;
  }
  std::string host, port;
  if (!text.empty() && text[0] == '[') {
    size_t close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return Error(Code::kUsage, "invalid address", text, "expected [IPv6]:PORT");
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string::npos || text.find(':') != colon)
      return Error(Code::kUsage, "invalid address", text, "expected HOST:PORT, [IPv6]:PORT or unix:/path");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(port) > 65535)
    return Error(Code::kUsage, "invalid address", text, "the port must be 0-65535");
  a.port = static_cast<uint16_t>(std::stoul(port));
  if (host == "localhost") host = "127.0.0.1";
  in6_addr a6;
  in_addr a4;
  if (inet_pton(AF_INET, host.c_str(), &a4) != 1 && inet_pton(AF_INET6, host.c_str(), &a6) != 1)
    return Error(Code::kUsage, "invalid address", text, "the host must be an IPv4 or IPv6 literal");
  a.host = host;
  return a;
}

Conn::~Conn() {
  if (fd_ >= 0) close(fd_);
}

size_t Conn::Read(char* buf, size_t n) {
  while (true) {
    ssize_t r = recv(fd_, buf, n, 0);
    if (r >= 0) return static_cast<size_t>(r);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) timed_out_ = true;
    return 0;
  }
}

bool Conn::Write(std::string_view data) {
  while (!data.empty()) {
    ssize_t w = send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(w));
  }
  return true;
}

void Conn::SetReadTimeout(int seconds) {
  timeval tv{seconds, 0};
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

void Conn::Shutdown() { shutdown(fd_, SHUT_RDWR); }

namespace {

struct SockAddr {
  sockaddr_storage ss{};
  socklen_t len = 0;
};

SockAddr ToSockAddr(const Address& a) {
  SockAddr s;
  if (a.unix_socket) {
    auto* un = reinterpret_cast<sockaddr_un*>(&s.ss);
    un->sun_family = AF_UNIX;
    std::strncpy(un->sun_path, a.path.c_str(), sizeof(un->sun_path) - 1);
    s.len = sizeof(sockaddr_un);
  } else if (a.host.find(':') != std::string::npos) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&s.ss);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(a.port);
    inet_pton(AF_INET6, a.host.c_str(), &in6->sin6_addr);
    s.len = sizeof(sockaddr_in6);
  } else {
    auto* in4 = reinterpret_cast<sockaddr_in*>(&s.ss);
    in4->sin_family = AF_INET;
    in4->sin_port = htons(a.port);
    inet_pton(AF_INET, a.host.c_str(), &in4->sin_addr);
    s.len = sizeof(sockaddr_in);
  }
  return s;
}

std::string PeerName(const sockaddr_storage& ss, bool* loopback) {
  char buf[INET6_ADDRSTRLEN] = {0};
  *loopback = false;
  if (ss.ss_family == AF_INET) {
    auto* in4 = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &in4->sin_addr, buf, sizeof(buf));
    *loopback = (ntohl(in4->sin_addr.s_addr) >> 24) == 127;
    return std::string(buf) + ":" + std::to_string(ntohs(in4->sin_port));
  }
  if (ss.ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof(buf));
    *loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) ||
                (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127);
    return "[" + std::string(buf) + "]:" + std::to_string(ntohs(in6->sin6_port));
  }
  *loopback = true;  // Unix socket: same host
  return "unix";
}

}  // namespace

Result<std::unique_ptr<Conn>> Connect(const Address& a) {
  SockAddr s = ToSockAddr(a);
  int fd = socket(s.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoError("cannot create a socket", a.ToString(), errno);
  if (connect(fd, reinterpret_cast<sockaddr*>(&s.ss), s.len) != 0) {
    int err = errno;
    close(fd);
    return ErrnoError("cannot connect", a.ToString(), err);
  }
  if (!a.unix_socket) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  return std::make_unique<Conn>(fd, a.ToString(), true);
}

Result<std::unique_ptr<Server>> Server::Listen(const Address& address, Handler handler,
                                               size_t max_connections, std::string busy_reply,
                                               int unix_mode) {
  std::unique_ptr<Server> srv(new Server());
  SockAddr s = ToSockAddr(address);
  int fd = socket(s.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoError("cannot create a listening socket", address.ToString(), errno);
  srv->listen_fd_ = fd;
  if (address.unix_socket) {
    // A socket file left by a previous run that is no longer served.
    struct stat st;
    if (lstat(address.path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
      auto probe = Connect(address);
      if (probe.ok())
        return Error(Code::kIo, "cannot listen", address.ToString(), "another process serves this socket",
                     "stop the other mxstore, or configure another path");
      unlink(address.path.c_str());
    }
  } else {
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (s.ss.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&s.ss), s.len) != 0)
    return ErrnoError("cannot bind", address.ToString(), errno);
  if (address.unix_socket) chmod(address.path.c_str(), unix_mode);
  if (listen(fd, 128) != 0) return ErrnoError("cannot listen", address.ToString(), errno);
  srv->bound_ = address;
  if (!address.unix_socket) {
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
    srv->bound_.port = ntohs(ss.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&ss)->sin_port
                                                      : reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  }
  if (pipe2(srv->wake_pipe_, O_CLOEXEC) != 0) return ErrnoError("cannot create a pipe", "listener", errno);
  srv->handler_ = std::move(handler);
  srv->max_connections_ = max_connections;
  srv->busy_reply_ = std::move(busy_reply);
  srv->accept_thread_ = std::thread([s = srv.get()] { s->AcceptLoop(); });
  return srv;
}

void Server::AcceptLoop() {
  while (!stopping_) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      log::Error("listener " + bound_.ToString() + ": poll failed: " + std::strerror(errno));
      return;
    }
    if (fds[1].revents != 0 || stopping_) return;
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    int cfd = accept4(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_CLOEXEC);
    if (cfd < 0) continue;
    if (!bound_.unix_socket) {
      int one = 1;
      setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    bool loopback = false;
    std::string peer = bound_.unix_socket ? "unix:" + bound_.path : PeerName(ss, &loopback);
    if (bound_.unix_socket) loopback = true;
    auto conn = std::make_unique<Conn>(cfd, peer, loopback);
    std::lock_guard<std::mutex> l(mu_);
    if (conns_.size() >= max_connections_) {
      conn->Write(busy_reply_);
      continue;
    }
    Conn* raw = conn.release();
    conns_.insert(raw);
    ++threads_;
    std::thread([this, raw] {
      handler_(*raw);
      std::lock_guard<std::mutex> l2(mu_);
      conns_.erase(raw);
      delete raw;
      if (--threads_ == 0) cv_.notify_all();
    }).detach();
  }
}

void Server::Stop() {
  if (stopping_.exchange(true)) return;
  if (wake_pipe_[1] >= 0) (void)!write(wake_pipe_[1], "x", 1);
  if (accept_thread_.joinable()) accept_thread_.join();
  std::unique_lock<std::mutex> l(mu_);
  for (Conn* c : conns_) c->Shutdown();
  cv_.wait(l, [&] { return threads_ == 0; });
  l.unlock();
  if (listen_fd_ >= 0) close(listen_fd_);
  listen_fd_ = -1;
  if (bound_.unix_socket) unlink(bound_.path.c_str());
  for (int& p : wake_pipe_)
    if (p >= 0) close(p), p = -1;
}

Server::~Server() { Stop(); }

}  // namespace mx::net
