// The backup service: proto/backup.proto served over gRPC (TCP with TLS, or a
// Unix socket), token authentication on every call, one session per stream
// (docs/formats/backup.md). The session logic itself is store/writer; this
// file maps it onto the wire and ends a session whenever its stream ends.
// Thread-safe: gRPC calls every handler from its own threads.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "backup.grpc.pb.h"
#include "common/error.h"
#include "store/db/store.h"
#include "store/writer/writer.h"

namespace mx::backupsvc {

struct ServiceOptions {
  std::vector<std::string> tokens;                 // accepted bearer tokens
  std::chrono::milliseconds freeze_deadline{10000};
  size_t chunk_size = 1 << 20;
  std::string store_name;  // store.hostname: the host snapshots are recorded under
};

class BackupService final : public mx::backup::v1::Backup::Service {
 public:
  BackupService(store::Store* store, ServiceOptions options);
  grpc::Status ListWriters(grpc::ServerContext* ctx, const mx::backup::v1::ListWritersRequest* req,
                           mx::backup::v1::ListWritersReply* reply) override;
  grpc::Status Session(grpc::ServerContext* ctx,
                       grpc::ServerReaderWriter<mx::backup::v1::SessionReply, mx::backup::v1::SessionRequest>* stream) override;

 private:
  grpc::Status Authenticate(grpc::ServerContext* ctx) const;

  store::Store* const store_;
  const ServiceOptions options_;
  store::WriterRegistry writers_;
};

struct ListenerOptions {
  std::vector<std::string> addresses;  // "unix:/path", "127.0.0.1:7000", "[::1]:0"
  std::string tls_cert_file, tls_key_file;
  std::string tls_client_ca_file;      // set: clients must present a certificate it signed
  int unix_socket_mode = 0600;
  int keepalive_seconds = 10;          // a silent peer is dropped after about twice this
};

/// A running gRPC server for the service.
class BackupServer {
 public:
  /// Binds every address (TCP needs the TLS files). Returns the bound
  /// addresses (with the ports chosen for ":0") in `bound`.
  static Result<std::unique_ptr<BackupServer>> Start(BackupService* service, const ListenerOptions& options,
                                                     std::vector<std::string>* bound);
  void Stop();
  ~BackupServer();

 private:
  std::unique_ptr<grpc::Server> server_;
};

/// Reads a token file: one token per line; blank lines and '#' comments are
/// skipped. CONFIG when it holds none or is readable by others.
Result<std::vector<std::string>> ReadTokenFile(const std::string& path);

}  // namespace mx::backupsvc
