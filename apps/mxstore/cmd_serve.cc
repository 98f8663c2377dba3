// mxstore serve: the daemon. Opens the store, starts the listeners, writes
// the bound addresses to listeners.json beside the config, and runs until
// SIGTERM or SIGINT, then stops the listeners and dismounts every database.
#include <grp.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <memory>

#include "app.h"
#include "commands.h"
#include "common/log.h"
#include "net/server.h"
#include "store_server/admin/admin_service.h"
#include "store_server/backup_service/backup_service.h"
#include "store_server/imapd/imap_service.h"
#include "store_server/lmtp/lmtp_service.h"

namespace mx::storecli {
namespace {

Status Serve(const std::string& config_path) {
  StoreConfig cfg = MX_TRY(LoadStoreConfig(config_path));
  if (cfg.log_level == "debug") log::SetLevel(log::Level::kDebug);
  else if (cfg.log_level == "warn") log::SetLevel(log::Level::kWarn);
  else if (cfg.log_level == "error") log::SetLevel(log::Level::kError);
  else log::SetLevel(log::Level::kInfo);

  // Signals are taken by sigwait on this thread only.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto store = MX_TRY(store::Store::Open(cfg.ToStoreOptions()));
  lmtp::Limits limits;
  limits.max_message_size = cfg.max_message_size;
  limits.max_recipients = cfg.max_recipients;
  lmtp::LmtpService lmtp_service(store.get(), limits, cfg.hostname, cfg.idle_timeout);
  admin::AdminService admin_service(store.get());
  imapd::Options imap_options;
  imap_options.hostname = cfg.hostname;
  imap_options.append_limit = cfg.max_message_size;
  imap_options.allow_plaintext_auth = cfg.imap_allow_plaintext_auth;
  imap_options.max_connections_per_user = cfg.imap_max_connections_per_user;
  std::shared_ptr<net::TlsServerContext> imap_tls;
  if (!cfg.imap_tls_cert.empty() && !cfg.imap_tls_key.empty()) {
    auto t = net::TlsServerContext::Load(cfg.imap_tls_cert, cfg.imap_tls_key);
    if (!t.ok()) return t.error().Wrap("cannot start IMAP TLS", cfg.path + ": imap.tls_cert_file");
    imap_tls = std::move(*t);
  } else if (!cfg.imap_tls.empty()) {
    return Error(Code::kConfig, "implicit TLS needs a certificate", cfg.path + ": imap.listen_tls",
                 "imap.listen_tls is set but no imap.tls_cert_file / tls_key_file (nor backup's) is",
                 "set imap.tls_cert_file and imap.tls_key_file");
  }
  imapd::ImapService imap_service(store.get(), imap_options, imap_tls);

  std::vector<std::unique_ptr<net::Server>> servers;
  nlohmann::json bound = {{"lmtp", nlohmann::json::array()}, {"imap", nlohmann::json::array()}, {"admin", cfg.admin_socket},
                          {"pid", getpid()}};
  for (const auto& text : cfg.lmtp) {
    net::Address a = MX_TRY(net::ParseAddress(text));
    auto srv = net::Server::Listen(
        a, [&](net::Conn& c) { lmtp_service.Serve(c); }, cfg.max_connections,
        "421 4.3.2 Too many connections, try again later\r\n", cfg.lmtp_unix_mode);
    if (!srv.ok()) return srv.error().Wrap("cannot start the LMTP listener", text);
    if (a.unix_socket && !cfg.lmtp_unix_group.empty()) {
      // The MTA (e.g. Postfix's lmtp client, user postfix) connects through its group.
      group* gr = getgrnam(cfg.lmtp_unix_group.c_str());
      if (gr == nullptr)
        return Error(Code::kConfig, "unknown group", cfg.path + ": lmtp.unix_socket_group",
                     "no group named '" + cfg.lmtp_unix_group + "'", "name an existing group, e.g. postfix");
      if (chown(a.path.c_str(), static_cast<uid_t>(-1), gr->gr_gid) != 0)
        return ErrnoError("cannot give the LMTP socket to group " + cfg.lmtp_unix_group, a.path, errno);
    }
    bound["lmtp"].push_back((*srv)->bound().ToString());
    log::Info("lmtp: listening on " + (*srv)->bound().ToString());
    servers.push_back(std::move(*srv));
  }
  bound["imap_tls"] = nlohmann::json::array();
  for (bool implicit : {false, true}) {
    for (const auto& text : implicit ? cfg.imap_tls : cfg.imap) {
      net::Address a = MX_TRY(net::ParseAddress(text));
      auto srv = net::Server::Listen(
          a, [&, implicit](net::Conn& c) { imap_service.Serve(c, implicit); }, cfg.max_connections,
          implicit ? "" : "* BYE Too many connections, try again later\r\n", 0660);
      if (!srv.ok()) return srv.error().Wrap("cannot start the IMAP listener", text);
      bound[implicit ? "imap_tls" : "imap"].push_back((*srv)->bound().ToString());
      log::Info(std::string("imap: listening on ") + (*srv)->bound().ToString() + (implicit ? " (implicit TLS)" : ""));
      servers.push_back(std::move(*srv));
    }
  }
  {
    net::Address a;
    a.unix_socket = true;
    a.path = cfg.admin_socket;
    auto srv = net::Server::Listen(
        a, [&](net::Conn& c) { admin_service.Serve(c); }, 16, "", 0600);
    if (!srv.ok()) return srv.error().Wrap("cannot start the admin socket", cfg.admin_socket);
    servers.push_back(std::move(*srv));
  }
  std::unique_ptr<backupsvc::BackupService> backup_service;
  std::unique_ptr<backupsvc::BackupServer> backup_server;
  if (!cfg.backup.empty()) {
    if (cfg.backup_token_file.empty())
      return Error(Code::kConfig, "the backup service needs tokens", cfg.path + ": backup.token_file",
                   "backup.listen is set but backup.token_file is not",
                   "write a token (`openssl rand -hex 32 > backup.token; chmod 600 backup.token`) and set backup.token_file");
    backupsvc::ServiceOptions so;
    so.tokens = MX_TRY(backupsvc::ReadTokenFile(cfg.backup_token_file));
    so.freeze_deadline = std::chrono::milliseconds(cfg.backup_freeze_deadline_ms);
    so.store_name = cfg.hostname;
    backup_service = std::make_unique<backupsvc::BackupService>(store.get(), so);
    backupsvc::ListenerOptions lo;
    lo.addresses = cfg.backup;
    for (auto& a : lo.addresses)
      if (a.rfind("tcp:", 0) == 0) a = a.substr(4);
    lo.tls_cert_file = cfg.backup_tls_cert;
    lo.tls_key_file = cfg.backup_tls_key;
    lo.tls_client_ca_file = cfg.backup_tls_client_ca;
    lo.unix_socket_mode = cfg.backup_unix_mode;
    lo.keepalive_seconds = cfg.backup_keepalive_seconds;
    std::vector<std::string> bound_backup;
    auto srv = backupsvc::BackupServer::Start(backup_service.get(), lo, &bound_backup);
    if (!srv.ok()) return srv.error();
    backup_server = std::move(*srv);
    bound["backup"] = bound_backup;
    for (const auto& b : bound_backup) log::Info("backup: listening on " + b);
  }
  {
    std::string path = cfg.dir + "/listeners.json";
    std::ofstream f(path + ".tmp");
    f << bound.dump(2) << "\n";
    f.close();
    rename((path + ".tmp").c_str(), path.c_str());
  }
  log::Info("mxstore serving (pid " + std::to_string(getpid()) + ")");
  int sig = 0;
  sigwait(&set, &sig);
  log::Info(std::string("stopping on ") + (sig == SIGTERM ? "SIGTERM" : "SIGINT"));
  for (auto& s : servers) s->Stop();
  if (backup_server) backup_server->Stop();  // open sessions end (aborted) before the databases close
  store->Shutdown();
  unlink((cfg.dir + "/listeners.json").c_str());
  log::Info("stopped; every database dismounted");
  return Ok();
}

}  // namespace

void RegisterServe(CLI::App& app, Globals& g) {
  auto* cmd = app.add_subcommand("serve", "run the store daemon");
  cmd->callback([&g] {
    Status s = Serve(ConfigPath(g.config));
    if (!s.ok()) g.exit_code = Fail(s.error());
  });
}

}  // namespace mx::storecli
