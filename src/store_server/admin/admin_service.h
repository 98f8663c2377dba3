// The admin service: one JSON request per line on a Unix socket that only the
// store's owner can open (mode 0600), one JSON reply per line. The protocol
// is in docs/formats/admin.md. Thread-safe.
#pragma once

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "net/server.h"
#include "store/db/store.h"

namespace mx::admin {

class AdminService {
 public:
  explicit AdminService(store::Store* store) : store_(store) {}
  void Serve(net::Conn& conn);
  /// Executes one request; never throws. {"ok":true,"result":...} or
  /// {"ok":false,"error":{code,symbol,what,object,cause,hint}}.
  nlohmann::json Execute(const nlohmann::json& request);

 private:
  store::Store* store_;
};

/// The JSON form of an error (also used by the CLI to rebuild it).
nlohmann::json ErrorToJson(const Error& e);
Error ErrorFromJson(const nlohmann::json& j);
/// The JSON form of a database header.
nlohmann::json HeaderToJson(const store::DatabaseHeader& h);

}  // namespace mx::admin
