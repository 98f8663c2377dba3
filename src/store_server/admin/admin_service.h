// The admin service: one JSON request per line on a Unix socket that only the
// store's owner can open (mode 0600), one JSON reply per line. The protocol
// is in docs/formats/admin.md. Thread-safe.
#pragma once

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "net/server.h"
#include "store/db/store.h"
#include "store/log/wal.h"

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
/// The JSON form of `db logs` (every log and the chain's first gap); the
/// daemon and the CLI's offline path print the same shape.
nlohmann::json LogsToJson(const std::vector<store::WalFileInfo>& logs);

}  // namespace mx::admin
