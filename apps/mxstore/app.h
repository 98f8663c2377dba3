// Shared wiring of the mxstore commands: the config file, the admin client,
// output helpers. Not thread-safe (CLI main thread only).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "store/db/store.h"

namespace mx::storecli {

struct StoreConfig {
  std::string path;  // the config file
  std::string dir;   // its directory; relative paths are resolved against it
  std::string data_dir;
  std::string hostname = "mxstore.localhost";
  std::string admin_socket;
  std::vector<std::string> lmtp, imap, backup;
  std::vector<std::string> imap_tls;              // imap.listen_tls: implicit TLS
  std::string imap_tls_cert, imap_tls_key;        // default: the backup service's
  bool imap_allow_plaintext_auth = false;
  uint64_t imap_max_connections_per_user = 20;
  std::string backup_token_file;
  std::string backup_tls_cert, backup_tls_key, backup_tls_client_ca;
  int backup_freeze_deadline_ms = 10000;
  int backup_keepalive_seconds = 10;
  int backup_unix_mode = 0600;
  uint64_t max_message_size = 64ull << 20;
  uint64_t max_recipients = 1000;
  uint64_t max_connections = 256;
  int idle_timeout = 300;
  int dismount_timeout_ms = 10000;
  bool serial_commits = false;
  uint64_t write_buffer_size = 64ull << 20;
  uint64_t min_blob_size = 64ull << 10;
  std::string log_level = "info";
  int lmtp_unix_mode = 0660;         // lmtp.unix_socket_mode (octal string)
  std::string lmtp_unix_group;       // lmtp.unix_socket_group (e.g. "postfix")

  store::StoreOptions ToStoreOptions() const;
};

/// The config file to use: --config, else $MXSTORE_CONFIG, else ./mxstore.toml.
std::string ConfigPath(const std::string& flag);
Result<StoreConfig> LoadStoreConfig(const std::string& path);

/// Sends one request to the running daemon. DAEMON_UNREACHABLE when no daemon
/// answers on the config's admin socket; the daemon's own error otherwise.
Result<nlohmann::json> AdminCall(const StoreConfig& config, const nlohmann::json& request);

/// Prints `e` to stderr and returns its exit code.
int Fail(const Error& e);

}  // namespace mx::storecli
