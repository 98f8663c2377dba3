// mxstore init DIR: a ready-to-serve store (the embedded default).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>

#include "app.h"
#include "commands.h"
#include "common/bytes.h"
#include "common/fs.h"
#include "common/secure.h"
#include "net/server.h"
#include "tls_cert.h"

namespace mx::storecli {
namespace {

std::string TomlList(const std::vector<std::string>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", \"" : "\"") + v[i] + "\"";
  return s + "]";
}

Status Init(const std::string& dir, std::vector<std::string> lmtp, std::vector<std::string> imap,
            std::vector<std::string> backup, std::vector<std::string> tls_names) {
  std::error_code ec;
  std::string conf = dir + "/mxstore.toml";
  if (std::filesystem::exists(conf, ec))
    return Error(Code::kUsage, "cannot initialise the store", dir, "it holds an mxstore.toml already",
                 "use it (`mxstore serve --config " + conf + "`) or choose another directory");
  // Traversable but not listable, so that an MTA can reach lmtp.sock through
  // lmtp.unix_socket_group; the data directory and the token stay owner-only.
  MX_CHECK(MakeDirs(dir, 0711));
  chmod(dir.c_str(), 0711);
  if (lmtp.empty()) lmtp = {"127.0.0.1:10024", "[::1]:10024", "unix:lmtp.sock"};
  if (imap.empty()) imap = {"127.0.0.1:10143", "[::1]:10143"};
  if (backup.empty()) backup = {"127.0.0.1:10500", "[::1]:10500", "unix:backup.sock"};
  for (const auto* list : {&lmtp, &imap, &backup})
    for (const auto& a : *list) (void)MX_TRY(net::ParseAddress(a));
  std::string text =
      "# mxstore configuration (written by `mxstore init`). Relative paths are\n"
      "# resolved against this file's directory. docs/store.md lists every setting.\n"
      "[store]\n"
      "data_dir = \"data\"\n"
      "hostname = \"mxstore.localhost\"\n\n"
      "[admin]\n"
      "socket = \"admin.sock\"  # owner-only (0600)\n\n"
      "[lmtp]\nlisten = " + TomlList(lmtp) + "\n"
      "unix_socket_mode = \"0660\"\n"
      "# unix_socket_group = \"postfix\"  # lets Postfix's lmtp:unix: transport connect\n\n"
      "[imap]\nlisten = " + TomlList(imap) + "  # STARTTLS; passwords only over TLS (or from loopback)\n"
      "# listen_tls = [\"[::]:993\"]  # implicit TLS\n"
      "# tls_cert_file / tls_key_file: default to the backup service's below\n"
      "# allow_plaintext_auth = false  # true: accept passwords without TLS from any address\n"
      "# max_connections_per_user = 20  # logins beyond this get NO [LIMIT]\n\n"
      "[backup]\nlisten = " + TomlList(backup) + "\n"
      "token_file = \"backup.token\"\n"
      "# TLS on TCP (required). `mxstore init` wrote a self-signed certificate;\n"
      "# clients pass it as --ca-file. Replace both with your own PKI's if you have one.\n"
      "tls_cert_file = \"tls/backup.crt\"\n"
      "tls_key_file = \"tls/backup.key\"\n"
      "# tls_client_ca_file = \"tls/clients-ca.crt\"  # set: clients must present a certificate it signed\n"
      "freeze_deadline_ms = 10000\n"
      "keepalive_seconds = 10  # a silent client is dropped (its session aborted) after about twice this\n\n"
      "[limits]\n"
      "max_message_size = 67108864\n"
      "max_recipients = 1000\n"
      "max_connections = 256\n"
      "idle_timeout_seconds = 300\n"
      "dismount_timeout_ms = 10000\n\n"
      "[engine]\n"
      "commit_mode = \"group\"  # \"serial\": one synced commit at a time (for measurement)\n";
  {
    std::ofstream f(conf);
    f << text;
    if (!f) return Error(Code::kIo, "cannot write the config", conf, "write failed");
  }
  // The backup service's token (issue 4 uses it): 256 random bits, owner-only.
  std::string token_path = dir + "/backup.token";
  Fd fd(open(token_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd.valid()) return ErrnoError("cannot write the backup token", token_path, errno);
  std::string hex = RandomHex(32) + "\n";
  MX_CHECK(WriteFull(fd.get(), reinterpret_cast<const uint8_t*>(hex.data()), hex.size(), -1, token_path));

  {
    std::vector<std::string> names = {"localhost", "127.0.0.1", "::1"};
    char host[256] = {0};
    if (gethostname(host, sizeof(host) - 1) == 0 && host[0]) names.push_back(host);
    for (const auto& n : tls_names) names.push_back(n);
    MX_CHECK(MakeDirs(dir + "/tls", 0700));
    MX_CHECK(WriteSelfSignedCert(dir + "/tls/backup.crt", dir + "/tls/backup.key", names));
  }
  auto cfg = MX_TRY(LoadStoreConfig(conf));
  auto store = MX_TRY(store::Store::Open(cfg.ToStoreOptions()));
  MX_CHECK(store->CreateDatabase("db01", false));
  store->Shutdown();
  std::cout << "created store in " << dir << "\n"
            << "  config:   " << conf << "\n"
            << "  database: db01 (circular logging off)\n"
            << "  lmtp:     " << TomlList(lmtp) << "\n"
            << "  token:    " << token_path << "\n"
            << "  backup:   " << TomlList(backup) << " (TLS certificate " << dir << "/tls/backup.crt)\n"
            << "start it with: mxstore serve --config " << conf << "\n";
  return Ok();
}

}  // namespace

void RegisterInit(CLI::App& app, Globals& g) {
  auto* cmd = app.add_subcommand("init", "create a ready-to-serve store in DIR (config, database db01, token)");
  static std::string dir;
  static std::vector<std::string> lmtp, imap, backup, tls_names;
  cmd->add_option("DIR", dir, "store directory")->required();
  cmd->add_option("--lmtp", lmtp, "LMTP listen address (HOST:PORT, [V6]:PORT, unix:PATH); repeatable");
  cmd->add_option("--imap", imap, "IMAP listen address; repeatable");
  cmd->add_option("--backup", backup, "backup service listen address; repeatable");
  cmd->add_option("--tls-name", tls_names, "extra host name or address the TLS certificate names; repeatable");
  cmd->callback([&g] {
    Status s = Init(dir, lmtp, imap, backup, tls_names);
    if (!s.ok()) g.exit_code = Fail(s.error());
  });
}

}  // namespace mx::storecli
