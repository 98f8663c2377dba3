#include "vault/source/store/store_client.h"

#include <cstdio>
#include <grpc/support/log.h>
#include <grpcpp/grpcpp.h>

#include "common/crc32c.h"
#include "common/fs.h"

namespace mx::vault {
namespace pb = mx::backup::v1;

std::string StoreAddress::Target() const {
  if (unix_socket) return "unix:" + socket;
  if (host.find(':') != std::string::npos) return "ipv6:[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

std::string StoreAddress::Peer() const {
  if (unix_socket) return "unix:" + socket;
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

Result<StoreAddress> ParseStoreAddress(const std::string& text, bool need_database) {
  StoreAddress a;
  a.text = text;
  auto bad = [&](const std::string& why) {
    return Error(Code::kUsage, "not a store address", text, why,
                 "write store://HOST[:PORT]/DATABASE (IPv6: store://[::1]:7411/db) or unix:///path/to/backup.sock/DATABASE");
  };
  std::string rest;
  if (text.rfind("unix://", 0) == 0) {
    a.unix_socket = true;
    rest = text.substr(7);
    if (rest.empty() || rest[0] != '/') return bad("a Unix socket path must be absolute");
    if (need_database) {
      size_t slash = rest.rfind('/');
      a.socket = rest.substr(0, slash);
      a.database = rest.substr(slash + 1);
      if (a.socket.empty()) return bad("no socket path before the database name");
    } else {
      a.socket = rest;
    }
  } else if (text.rfind("store://", 0) == 0) {
    rest = text.substr(8);
    size_t slash = rest.find('/');
    std::string hostport = rest.substr(0, slash);
    if (slash != std::string::npos) a.database = rest.substr(slash + 1);
    if (!hostport.empty() && hostport[0] == '[') {
      size_t close = hostport.find(']');
      if (close == std::string::npos) return bad("an IPv6 address needs a closing ']'");
      a.host = hostport.substr(1, close - 1);
      std::string p = hostport.substr(close + 1);
      if (!p.empty()) {
        if (p[0] != ':') return bad("expected ':PORT' after ']'");
        hostport = "x" + p;  // parse the port below
      } else {
        hostport.clear();
      }
      a.port = kDefaultStorePort;
      if (!hostport.empty()) {
        try {
          a.port = std::stoi(hostport.substr(2));
        } catch (...) {
          return bad("the port is not a number");
        }
      }
    } else {
      size_t colon = hostport.rfind(':');
      a.host = hostport.substr(0, colon);
      a.port = kDefaultStorePort;
      if (colon != std::string::npos) {
        try {
          a.port = std::stoi(hostport.substr(colon + 1));
        } catch (...) {
          return bad("the port is not a number");
        }
      }
    }
    if (a.host.empty()) return bad("no host");
    if (a.port <= 0 || a.port > 65535) return bad("the port is out of range");
  } else {
    return bad("it starts with neither store:// nor unix://");
  }
  if (need_database && a.database.empty()) return bad("no database name at the end");
  if (!need_database && !a.database.empty() && a.unix_socket) a.database.clear();
  return a;
}

Result<pb::BackupType> ParseBackupType(const std::string& t) {
  if (t == "full") return pb::FULL;
  if (t == "incremental") return pb::INCREMENTAL;
  if (t == "differential") return pb::DIFFERENTIAL;
  if (t == "copy") return pb::COPY;
  return Error(Code::kUsage, "unknown backup type", t, "", "use full, incremental, differential or copy");
}

nlohmann::json BackupRecordJson(const pb::BackupRecord& r) {
  if (r.session().empty()) return nullptr;
  return {{"time", r.time()}, {"log_number", r.log_number()}, {"sequence", r.sequence()},
          {"log_chain", r.log_chain()}, {"session", r.session()}};
}

Error CallError(const grpc::Status& s, const std::string& peer, const std::string& what) {
  std::string msg = s.error_message();
  switch (s.error_code()) {
    case grpc::StatusCode::UNAUTHENTICATED:
      return Error(Code::kAuth, what, peer, "the store refused the token: " + msg,
                   "pass --token-file with a token listed in the store's backup.token_file");
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED: {
      bool tls = msg.find("SSL") != std::string::npos || msg.find("ssl") != std::string::npos ||
                 msg.find("handshake") != std::string::npos || msg.find("ertificate") != std::string::npos ||
                 msg.find("TLS") != std::string::npos;
      if (tls)
        return Error(Code::kTls, what, peer, "the TLS handshake failed: " + msg,
                     "pass --ca-file with the CA that signed the store's certificate; the certificate must name the address you use");
      return Error(Code::kNetwork, what, peer, "the store did not answer: " + (msg.empty() ? std::string("connection failed") : msg),
                   "check that mxstore serves backups there (backup.listen), that the address family (IPv4/IPv6) "
                   "is reachable from here, and that no firewall drops it; TCP needs TLS (--ca-file), and a client "
                   "certificate (--cert-file, --key-file) when the store sets backup.tls_client_ca_file");
    }
    default:
      return Error(Code::kNetwork, what, peer, "gRPC status " + std::to_string(int(s.error_code())) + ": " + msg,
                   "check the store's log for the same time");
  }
}

Error FailureError(const pb::Failure& f) {
  return Error(CodeFromSymbol(f.code()), f.what(), f.object(), f.cause(), f.hint());
}

Result<std::unique_ptr<StoreClient>> StoreClient::Connect(const StoreAddress& address, const ClientOptions& o) {
  // gRPC's own log lines would repeat, less clearly, what our errors say
  // (they carry gRPC's status text as the cause).
  gpr_set_log_function([](gpr_log_func_args*) {});
  auto c = std::make_unique<StoreClient>();
  c->address_ = address;
  c->options_ = o;
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, o.keepalive_seconds * 1000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, o.keepalive_seconds * 1000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  args.SetMaxReceiveMessageSize(8 << 20);
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (address.unix_socket || o.no_tls) {
    creds = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions so;
    if (!o.ca_file.empty()) {
      Bytes ca = MX_TRY(mx::ReadFile(o.ca_file));
      so.pem_root_certs.assign(ca.begin(), ca.end());
    }
    if (!o.cert_file.empty() || !o.key_file.empty()) {
      if (o.cert_file.empty() || o.key_file.empty())
        return Error(Code::kUsage, "incomplete client certificate", o.cert_file.empty() ? "--cert-file" : "--key-file",
                     "a client certificate needs both --cert-file and --key-file", "pass both");
      Bytes cert = MX_TRY(mx::ReadFile(o.cert_file));
      Bytes key = MX_TRY(mx::ReadFile(o.key_file));
      so.pem_cert_chain.assign(cert.begin(), cert.end());
      so.pem_private_key.assign(key.begin(), key.end());
    }
    creds = grpc::SslCredentials(so);
  }
  c->channel_ = grpc::CreateCustomChannel(address.Target(), creds, args);
  c->stub_ = pb::Backup::NewStub(c->channel_);
  return c;
}

std::unique_ptr<grpc::ClientContext> StoreClient::Context() const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->AddMetadata("authorization", "Bearer " + options_.token);
  return ctx;
}

Result<pb::ListWritersReply> StoreClient::ListWriters() {
  auto ctx = Context();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  pb::ListWritersRequest req;
  pb::ListWritersReply reply;
  grpc::Status s = stub_->ListWriters(ctx.get(), req, &reply);
  if (!s.ok()) return CallError(s, address_.Peer(), "cannot list the writers of the store");
  return reply;
}

StoreSession::StoreSession(StoreClient& client) : client_(client), ctx_(client.Context()) {
  stream_ = client_.stub().Session(ctx_.get());
}

StoreSession::~StoreSession() {
  if (!done_ && stream_) {
    ctx_->TryCancel();  // the store sees the stream end and aborts the session
    (void)stream_->Finish();
  }
}

Error StoreSession::Lost(const std::string& what) {
  done_ = true;
  grpc::Status s = stream_->Finish();
  if (s.error_code() == grpc::StatusCode::UNAUTHENTICATED) return CallError(s, client_.address().Peer(), what);
  if (s.ok())
    return Error(Code::kSessionLost, what, client_.address().Peer(), "the store closed the session",
                 "nothing was truncated; run the backup again (the store's log says why)");
  Error e = CallError(s, client_.address().Peer(), what);
  if (e.code() == Code::kTls || e.code() == Code::kAuth) return e;
  return Error(Code::kSessionLost, what, client_.address().Peer(), "the connection to the store was lost: " + e.cause(),
               "nothing was truncated; check the network path to the store and run the backup again");
}

Result<pb::SessionReply> StoreSession::Call(const pb::SessionRequest& req, const std::string& what) {
  if (done_) return Error(Code::kSessionLost, what, client_.address().Peer(), "the session already ended", "begin a new session");
  if (!stream_->Write(req)) return Lost(what);
  pb::SessionReply reply;
  if (!stream_->Read(&reply)) return Lost(what);
  if (reply.has_failure()) return Refused(reply.failure());
  return reply;
}

Error StoreSession::Refused(const pb::Failure& f) {
  // The store ended the session after a Failure; close our side too.
  done_ = true;
  ctx_->TryCancel();
  (void)stream_->Finish();
  return FailureError(f);
}

Error StoreSession::Unexpected(const std::string& request, const pb::SessionReply& got) {
  return Error(Code::kProtocol, "unexpected reply to " + request, client_.address().Peer(),
               "reply type " + std::to_string(int(got.reply_case())),
               "run the same version of mxvault and mxstore");
}

Result<pb::BeginReply> StoreSession::Begin(const std::string& database, pb::BackupType type, pb::Method method,
                                           bool dry_run) {
  pb::SessionRequest req;
  auto* b = req.mutable_begin();
  b->set_database(database);
  b->set_type(type);
  b->set_method(method);
  b->set_dry_run(dry_run);
  auto r = MX_TRY(Call(req, "cannot begin a backup of database '" + database + "'"));
  if (!r.has_begin()) return Unexpected("Begin", r);
  return r.begin();
}

Result<pb::ListFilesReply> StoreSession::ListFiles() {
  pb::SessionRequest req;
  req.mutable_list_files();
  auto r = MX_TRY(Call(req, "cannot list the backup's files"));
  if (!r.has_files()) return Unexpected("ListFiles", r);
  return r.files();
}

Status StoreSession::ReadFile(const std::string& name, const std::string& crc32c_hex,
                              const std::function<Status(const std::string&)>& sink) {
  std::string what = "cannot read " + name + " from the store";
  if (done_) return Error(Code::kSessionLost, what, client_.address().Peer(), "the session already ended", "begin a new session");
  pb::SessionRequest req;
  req.mutable_read_file()->set_name(name);
  if (!stream_->Write(req)) return Lost(what);
  uint32_t crc = 0;
  uint64_t offset = 0;
  pb::SessionReply reply;
  for (;;) {
    if (!stream_->Read(&reply)) return Lost(what);
    if (reply.has_failure()) return Refused(reply.failure());
    if (!reply.has_chunk()) return Unexpected("ReadFile " + name, reply);
    if (reply.chunk().name() != name || reply.chunk().offset() != offset)
      return Error(Code::kProtocol, what, client_.address().Peer(),
                   "got " + reply.chunk().name() + " at offset " + std::to_string(reply.chunk().offset()) +
                       ", expected offset " + std::to_string(offset),
                   "run the same version of mxvault and mxstore; run the backup again");
    const std::string& data = reply.chunk().data();
    crc = Crc32cExtend(crc, reinterpret_cast<const uint8_t*>(data.data()), data.size());
    offset += data.size();
    MX_CHECK(sink(data));
    if (reply.chunk().last()) break;
  }
  char hex[9];
  std::snprintf(hex, sizeof(hex), "%08x", crc);
  if (crc32c_hex != hex)
    return Error(Code::kChecksumMismatch, what, name, std::string("received CRC-32C ") + hex + ", listed " + crc32c_hex,
                 "the data changed in transit or on the store; run the backup again, and `mxstore db check`");
  return Ok();
}

Status StoreSession::Freeze(uint32_t deadline_ms) {
  pb::SessionRequest req;
  req.mutable_freeze()->set_deadline_ms(deadline_ms);
  auto r = MX_TRY(Call(req, "cannot freeze the database"));
  if (!r.has_frozen()) return Unexpected("Freeze", r);
  return Ok();
}

Result<uint64_t> StoreSession::Thaw() {
  pb::SessionRequest req;
  req.mutable_thaw();
  auto r = MX_TRY(Call(req, "cannot thaw the database"));
  if (!r.has_thawed()) return Unexpected("Thaw", r);
  return r.thawed().held_us();
}

Result<pb::EndReply> StoreSession::End(bool complete) {
  pb::SessionRequest req;
  req.mutable_end()->set_outcome(complete ? pb::End::COMPLETE : pb::End::ABORT);
  auto r = MX_TRY(Call(req, complete ? "cannot complete the backup session" : "cannot abort the backup session"));
  done_ = true;
  stream_->WritesDone();
  (void)stream_->Finish();
  if (!r.has_end()) return Unexpected("End", r);
  return r.end();
}

}  // namespace mx::vault
