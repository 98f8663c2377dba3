// The client side of the mxstore backup service (proto/backup.proto): parses
// store addresses, opens one gRPC channel (TLS over TCP, or a Unix socket),
// authenticates every call with the token, and turns every failure into an
// Error that names the address and the cause. docs/formats/backup.md.
// A StoreClient is used by one thread at a time.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "backup.grpc.pb.h"
#include "common/error.h"

namespace mx::vault {

/// store://HOST[:PORT]/DB, store://[v6]:PORT/DB, unix:///path/to/socket/DB
struct StoreAddress {
  bool unix_socket = false;
  std::string host;      // TCP: host name or address (no brackets)
  int port = 0;
  std::string socket;    // unix: the socket path
  std::string database;  // may be empty (writers)
  std::string text;      // as given
  std::string Target() const;  // what gRPC dials
  std::string Peer() const;    // for messages
};
constexpr int kDefaultStorePort = 7411;
/// `need_database`: the address must end in /DB. USAGE on malformed input.
Result<StoreAddress> ParseStoreAddress(const std::string& text, bool need_database);

struct ClientOptions {
  std::string token;              // read from --token-file
  std::string ca_file;            // PEM of the CA that signed the store's certificate
  std::string cert_file, key_file;  // client certificate (when the store asks)
  bool no_tls = false;            // TCP without TLS (mxstore refuses it; for diagnosis)
  int keepalive_seconds = 10;     // a silent connection is declared dead after about twice this
};

/// "full", "incremental", "differential", "copy" → the wire type; USAGE otherwise.
Result<mx::backup::v1::BackupType> ParseBackupType(const std::string& type);
/// A header's backup record as JSON (null when none was recorded).
nlohmann::json BackupRecordJson(const mx::backup::v1::BackupRecord& r);

/// Turns a failed call into an Error naming `peer` and the cause.
Error CallError(const grpc::Status& s, const std::string& peer, const std::string& what);
/// A Failure reply as an Error.
Error FailureError(const mx::backup::v1::Failure& f);

class StoreClient {
 public:
  static Result<std::unique_ptr<StoreClient>> Connect(const StoreAddress& address, const ClientOptions& options);
  mx::backup::v1::Backup::Stub& stub() { return *stub_; }
  /// A new context carrying the token.
  std::unique_ptr<grpc::ClientContext> Context() const;
  const StoreAddress& address() const { return address_; }

  Result<mx::backup::v1::ListWritersReply> ListWriters();

 private:
  StoreAddress address_;
  ClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<mx::backup::v1::Backup::Stub> stub_;
};

/// One backup session: a stream that lives until End or until it breaks.
class StoreSession {
 public:
  explicit StoreSession(StoreClient& client);
  ~StoreSession();  // a session not ended is dropped: the store aborts it
  Result<mx::backup::v1::BeginReply> Begin(const std::string& database, mx::backup::v1::BackupType type,
                                          mx::backup::v1::Method method, bool dry_run);
  Result<mx::backup::v1::ListFilesReply> ListFiles();
  /// Streams `name`: `sink` gets each chunk's bytes in order. Verifies the
  /// CRC-32C of every byte against `crc32c_hex` (the one ListFiles gave).
  Status ReadFile(const std::string& name, const std::string& crc32c_hex,
                  const std::function<Status(const std::string& data)>& sink);
  Status Freeze(uint32_t deadline_ms);
  Result<uint64_t> Thaw();
  Result<mx::backup::v1::EndReply> End(bool complete);

 private:
  Result<mx::backup::v1::SessionReply> Call(const mx::backup::v1::SessionRequest& req, const std::string& what);
  /// The stream broke: SESSION_LOST (or AUTH/TLS) naming the store and the cause.
  Error Lost(const std::string& what);
  /// The store sent a Failure (and ended the session).
  Error Refused(const mx::backup::v1::Failure& f);
  Error Unexpected(const std::string& request, const mx::backup::v1::SessionReply& got);

  StoreClient& client_;
  std::unique_ptr<grpc::ClientContext> ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<mx::backup::v1::SessionRequest, mx::backup::v1::SessionReply>> stream_;
  bool done_ = false;
};

}  // namespace mx::vault
