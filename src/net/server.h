// Listeners and connections for the store's line protocols (LMTP now, IMAP
// later): TCP on IPv4 and IPv6 and Unix domain sockets, blocking I/O with one
// thread per connection (bounded). Plain POSIX sockets: with blocking
// per-connection threads, asio would only wrap the same calls, and the
// RocksDB group commit wants one writer thread per delivery anyway.
//
// Thread-safety: a Server may be stopped from any thread; a Conn belongs to
// the thread that handles it, except Shutdown(), which Server::Stop calls.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>

#include "common/error.h"

namespace mx::net {

/// "127.0.0.1:24", "[::1]:24", "localhost:24" (resolved), or "unix:/path".
struct Address {
  bool unix_socket = false;
  std::string host;   // literal IP for TCP
  uint16_t port = 0;  // 0: any free port
  std::string path;   // Unix socket path
  std::string ToString() const;
};
/// USAGE error naming `text` when it is not one of the forms above.
Result<Address> ParseAddress(const std::string& text);

class Conn {
 public:
  Conn(int fd, std::string peer, bool loopback) : fd_(fd), peer_(std::move(peer)), loopback_(loopback) {}
  ~Conn();
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;
  /// Up to `n` bytes; 0 at end of stream or timeout (see timed_out()).
  size_t Read(char* buf, size_t n);
  bool timed_out() const { return timed_out_; }
  /// For a TLS layer whose read timed out on this socket.
  void MarkTimedOut() { timed_out_ = true; }
  /// All of `data`; false when the peer is gone.
  bool Write(std::string_view data);
  void SetReadTimeout(int seconds);
  void Shutdown();
  const std::string& peer() const { return peer_; }
  bool loopback() const { return loopback_; }
  int fd() const { return fd_; }

 private:
  int fd_;
  std::string peer_;
  bool loopback_;
  bool timed_out_ = false;
};

/// Opens a client connection (for tests and tools).
Result<std::unique_ptr<Conn>> Connect(const Address& address);

class Server {
 public:
  using Handler = std::function<void(Conn&)>;
  /// Binds and listens on `address`; `handler` runs on a new thread per
  /// connection. Beyond `max_connections` a connection gets `busy_reply`
  /// and is closed. IO_ERROR naming the address when it cannot bind.
  static Result<std::unique_ptr<Server>> Listen(const Address& address, Handler handler,
                                                size_t max_connections, std::string busy_reply,
                                                int unix_mode = 0660);
  ~Server();
  /// The bound address (with the port the kernel chose for port 0).
  const Address& bound() const { return bound_; }
  /// Stops accepting, shuts down open connections, and waits for every
  /// handler thread to return.
  void Stop();

 private:
  Server() = default;
  void AcceptLoop();

  int listen_fd_ = -1;
  int wake_pipe_[2] = {-1, -1};
  Address bound_;
  Handler handler_;
  size_t max_connections_ = 0;
  std::string busy_reply_;
  std::thread accept_thread_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::set<Conn*> conns_;  // guarded by mu_
  size_t threads_ = 0;     // guarded by mu_
};

}  // namespace mx::net
