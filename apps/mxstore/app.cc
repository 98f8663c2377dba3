#include "app.h"
#include "commands.h"

#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "common/config.h"
#include "net/server.h"
#include "store_server/admin/admin_service.h"

namespace mx::storecli {

store::StoreOptions StoreConfig::ToStoreOptions() const {
  store::StoreOptions o;
  o.data_dir = data_dir;
  o.dismount_bound = std::chrono::milliseconds(dismount_timeout_ms);
  o.database.serial_commits = serial_commits;
  o.database.write_buffer_size = write_buffer_size;
  o.database.min_blob_size = min_blob_size;
  o.database.max_message_size = max_message_size;
  return o;
}

std::string ConfigPath(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("MXSTORE_CONFIG"); env && *env) return env;
  return "mxstore.toml";
}

Result<StoreConfig> LoadStoreConfig(const std::string& path) {
  auto cfg = Config::Load(path);
  if (!cfg.ok()) {
    Error e = cfg.error();
    return Error(e.code(), e.what(), e.object(), e.cause(),
                 "pass --config FILE (or set MXSTORE_CONFIG); `mxstore init DIR` writes one");
  }
  StoreConfig c;
  c.path = std::filesystem::absolute(path).lexically_normal().string();
  c.dir = std::filesystem::path(c.path).parent_path().string();
  auto resolve = [&](const std::string& p) {
    if (p.empty() || p[0] == '/') return p;
    return c.dir + "/" + p;
  };
  auto resolve_addr = [&](const std::string& a) {
    if (a.rfind("unix:", 0) == 0) return "unix:" + resolve(a.substr(5));
    return a;
  };
  auto str = [&](const char* key, std::string* out) -> Status {
    auto v = MX_TRY(cfg->GetString(key));
    if (v) *out = *v;
    return Ok();
  };
  auto num = [&](const char* key, auto* out) -> Status {
    auto v = MX_TRY(cfg->GetInt(key));
    if (v) {
      if (*v < 0) return Error(Code::kConfig, "invalid value", path + ": " + key, "must not be negative");
      *out = static_cast<std::remove_pointer_t<decltype(out)>>(*v);
    }
    return Ok();
  };
  MX_CHECK(str("store.data_dir", &c.data_dir));
  if (c.data_dir.empty())
    return Error(Code::kConfig, "missing setting", path + ": store.data_dir", "the store needs a data directory");
  c.data_dir = resolve(c.data_dir);
  MX_CHECK(str("store.hostname", &c.hostname));
  MX_CHECK(str("admin.socket", &c.admin_socket));
  c.admin_socket = resolve(c.admin_socket.empty() ? "admin.sock" : c.admin_socket);
  for (auto& [key, vec] : {std::pair{"lmtp.listen", &c.lmtp}, {"imap.listen", &c.imap}, {"imap.listen_tls", &c.imap_tls},
                           {"backup.listen", &c.backup}}) {
    auto addresses = MX_TRY(cfg->GetStrings(key));
    for (const auto& a : addresses) vec->push_back(resolve_addr(a));
  }
  MX_CHECK(str("backup.token_file", &c.backup_token_file));
  if (!c.backup_token_file.empty()) c.backup_token_file = resolve(c.backup_token_file);
  MX_CHECK(str("backup.tls_cert_file", &c.backup_tls_cert));
  MX_CHECK(str("backup.tls_key_file", &c.backup_tls_key));
  MX_CHECK(str("backup.tls_client_ca_file", &c.backup_tls_client_ca));
  for (auto* p : {&c.backup_tls_cert, &c.backup_tls_key, &c.backup_tls_client_ca})
    if (!p->empty()) *p = resolve(*p);
  MX_CHECK(str("imap.tls_cert_file", &c.imap_tls_cert));
  MX_CHECK(str("imap.tls_key_file", &c.imap_tls_key));
  c.imap_tls_cert = c.imap_tls_cert.empty() ? c.backup_tls_cert : resolve(c.imap_tls_cert);
  c.imap_tls_key = c.imap_tls_key.empty() ? c.backup_tls_key : resolve(c.imap_tls_key);
  {
    auto b = MX_TRY(cfg->GetBool("imap.allow_plaintext_auth"));
    if (b) c.imap_allow_plaintext_auth = *b;
  }
  MX_CHECK(num("backup.freeze_deadline_ms", &c.backup_freeze_deadline_ms));
  MX_CHECK(num("backup.keepalive_seconds", &c.backup_keepalive_seconds));
  if (c.backup_keepalive_seconds < 1) c.backup_keepalive_seconds = 1;
  MX_CHECK(num("limits.max_message_size", &c.max_message_size));
  MX_CHECK(num("limits.max_recipients", &c.max_recipients));
  MX_CHECK(num("limits.max_connections", &c.max_connections));
  MX_CHECK(num("imap.max_connections_per_user", &c.imap_max_connections_per_user));
  MX_CHECK(num("limits.idle_timeout_seconds", &c.idle_timeout));
  MX_CHECK(num("limits.dismount_timeout_ms", &c.dismount_timeout_ms));
  std::string mode = "group";
  MX_CHECK(str("engine.commit_mode", &mode));
  if (mode != "group" && mode != "serial")
    return Error(Code::kConfig, "invalid value", path + ": engine.commit_mode", "'" + mode + "'",
                 "use \"group\" (default) or \"serial\"");
  c.serial_commits = mode == "serial";
  MX_CHECK(num("engine.write_buffer_size", &c.write_buffer_size));
  MX_CHECK(num("engine.min_blob_size", &c.min_blob_size));
  MX_CHECK(str("log.level", &c.log_level));
  // Socket modes are octal strings ("0660"): TOML has no octal-looking integers.
  auto octal_mode = [&](const char* key, int* out) -> Status {
    std::string text;
    MX_CHECK(str(key, &text));
    if (text.empty()) return Ok();
    char* end = nullptr;
    long m = std::strtol(text.c_str(), &end, 8);
    if (end == text.c_str() || *end != '\0' || m < 0 || m > 0777)
      return Error(Code::kConfig, "invalid value", path + ": " + key, "'" + text + "'",
                   "give an octal mode as a string, e.g. \"0660\"");
    *out = static_cast<int>(m);
    return Ok();
  };
  MX_CHECK(octal_mode("lmtp.unix_socket_mode", &c.lmtp_unix_mode));
  MX_CHECK(str("lmtp.unix_socket_group", &c.lmtp_unix_group));
  MX_CHECK(octal_mode("backup.unix_socket_mode", &c.backup_unix_mode));
  return c;
}

Result<nlohmann::json> AdminCall(const StoreConfig& config, const nlohmann::json& request) {
  net::Address a;
  a.unix_socket = true;
  a.path = config.admin_socket;
  auto conn = net::Connect(a);
  if (!conn.ok())
    return Error(Code::kDaemonUnreachable, "cannot reach the mxstore daemon", config.admin_socket,
                 conn.error().cause());
  if (!(*conn)->Write(request.dump() + "\n"))
    return Error(Code::kDaemonUnreachable, "cannot send to the mxstore daemon", config.admin_socket,
                 "the connection closed");
  std::string reply;
  char buf[65536];
  while (reply.find('\n') == std::string::npos) {
    size_t n = (*conn)->Read(buf, sizeof(buf));
    if (n == 0)
      return Error(Code::kDaemonUnreachable, "no reply from the mxstore daemon", config.admin_socket,
                   "the connection closed before a reply");
    reply.append(buf, n);
  }
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(reply.substr(0, reply.find('\n')));
  } catch (const std::exception& e) {
    return Error(Code::kProtocol, "malformed reply from the mxstore daemon", config.admin_socket, e.what());
  }
  if (!j.value("ok", false)) return admin::ErrorFromJson(j.value("error", nlohmann::json::object()));
  return j["result"];
}

void RunWithConfig(Globals& g, const std::function<Status(const StoreConfig&)>& fn) {
  auto cfg = LoadStoreConfig(ConfigPath(g.config));
  if (!cfg.ok()) {
    g.exit_code = Fail(cfg.error());
    return;
  }
  Status s = fn(*cfg);
  if (!s.ok()) g.exit_code = Fail(s.error());
}

int Fail(const Error& e) {
  std::cerr << "mxstore: " << e.Full() << "\n";
  return e.exit_code();
}

}  // namespace mx::storecli
