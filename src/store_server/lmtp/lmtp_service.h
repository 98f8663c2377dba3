// The LMTP front end: runs one lmtp::Session per connection against a Store.
// Thread-safe: one instance serves every connection of its listeners.
#pragma once

#include <string>

#include "net/server.h"
#include "store/db/store.h"
#include "store_server/lmtp/session.h"

namespace mx::lmtp {

class LmtpService {
 public:
  LmtpService(store::Store* store, Limits limits, std::string hostname, int idle_timeout_seconds)
      : store_(store), limits_(limits), hostname_(std::move(hostname)), idle_timeout_(idle_timeout_seconds) {}
  /// Serves one connection until QUIT, error, idle timeout or shutdown.
  void Serve(net::Conn& conn);

 private:
  store::Store* store_;
  Limits limits_;
  std::string hostname_;
  int idle_timeout_;
};

}  // namespace mx::lmtp
