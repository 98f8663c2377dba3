#include "store_server/backup_service/backup_service.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cstdio>
#include <set>
#include <grpcpp/grpcpp.h>
#include <grpcpp/security/server_credentials.h>

#include "common/clock.h"
#include "common/crc32c.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/secure.h"

namespace mx::backupsvc {
namespace pb = mx::backup::v1;
namespace {

void ToFailure(const Error& e, pb::Failure* f) {
  f->set_code(Describe(e.code()).symbol);
  f->set_what(e.what());
  f->set_object(e.object());
  f->set_cause(e.cause());
  f->set_hint(e.hint());
}

void ToRecord(const std::optional<store::BackupRecord>& r, pb::BackupRecord* out) {
  if (!r) return;
  out->set_time(r->time);
  out->set_log_number(r->log_number);
  out->set_sequence(r->sequence);
  out->set_log_chain(r->log_chain);
  out->set_session(r->session);
}

std::string Crc32Hex(uint32_t v) {
  char buf[9];
  std::snprintf(buf, sizeof(buf), "%08x", v);
  return buf;
}

Error NotBegun(const std::string& request, const std::string& peer) {
  return Error(Code::kProtocol, request + " refused", peer, "the session has not begun: Begin must come first",
               "run the same version of mxvault and mxstore");
}

Result<store::BackupType> TypeFrom(pb::BackupType t) {
  switch (t) {
    case pb::FULL: return store::BackupType::kFull;
    case pb::INCREMENTAL: return store::BackupType::kIncremental;
    case pb::DIFFERENTIAL: return store::BackupType::kDifferential;
    case pb::COPY: return store::BackupType::kCopy;
    default: return Error(Code::kProtocol, "no backup type in Begin", "", "type " + std::to_string(int(t)), "send full, incremental, differential or copy");
  }
}

}  // namespace

BackupService::BackupService(store::Store* store, ServiceOptions options)
    : store_(store), options_(std::move(options)), writers_(store) {
  writers_.RemoveStaleCheckpoints();
}

grpc::Status BackupService::Authenticate(grpc::ServerContext* ctx) const {
  const auto& md = ctx->client_metadata();
  auto it = md.find("authorization");
  if (it == md.end())
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "no token: the backup service needs 'authorization: Bearer <token>' (mxvault --token-file)");
  std::string given(it->second.data(), it->second.size());
  const std::string prefix = "Bearer ";
  bool ok = false;
  if (given.rfind(prefix, 0) == 0) {
    std::string tok = given.substr(prefix.size());
    for (const auto& t : options_.tokens)
      if (t.size() == tok.size() && CRYPTO_memcmp(t.data(), tok.data(), t.size()) == 0) ok = true;
  }
  if (!ok) {
    log::Warn("backup: refused a call from " + ctx->peer() + ": wrong token");
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "wrong token: it is not in the store's backup.token_file");
  }
  return grpc::Status::OK;
}

grpc::Status BackupService::ListWriters(grpc::ServerContext* ctx, const pb::ListWritersRequest*,
                                        pb::ListWritersReply* reply) {
  if (auto a = Authenticate(ctx); !a.ok()) return a;
  reply->set_store_identity(store_->identity());
  for (const auto& w : writers_.List()) {
    auto* o = reply->add_writers();
    o->set_database(w.database);
    o->set_state(w.state);
    o->set_failed_step(w.failed_step);
    o->set_last_error(w.last_error);
    if (w.holder) {
      o->mutable_holder()->set_session_id(w.holder->session_id);
      o->mutable_holder()->set_client(w.holder->client);
      o->mutable_holder()->set_started(w.holder->started);
    }
    o->set_mounted(w.mounted);
    o->set_circular_logging(w.circular_logging);
    ToRecord(w.last_full, o->mutable_last_full());
    ToRecord(w.last_incremental, o->mutable_last_incremental());
    ToRecord(w.last_differential, o->mutable_last_differential());
    ToRecord(w.last_copy, o->mutable_last_copy());
  }
  return grpc::Status::OK;
}

grpc::Status BackupService::Session(grpc::ServerContext* ctx,
                                    grpc::ServerReaderWriter<pb::SessionReply, pb::SessionRequest>* stream) {
  if (auto a = Authenticate(ctx); !a.ok()) return a;
  store::Writer* writer = nullptr;
  std::string session;
  std::string database;
  bool ended = false;
  size_t files_total = 0;
  std::string identity;  // the database's, from Begin
  std::set<std::string> files_read;
  // Whatever way this function returns, an open session ends with it.
  struct Guard {
    store::Writer** w;
    std::string* s;
    bool* ended;
    std::string* db;
    ~Guard() {
      if (*w && !s->empty() && !*ended) {
        log::Warn("backup: session " + *s + " on database '" + *db + "' lost its client; aborted (nothing truncated)");
        (*w)->Abort(*s);
      }
    }
  } guard{&writer, &session, &ended, &database};

  auto fail = [&](const Error& e) {
    pb::SessionReply r;
    ToFailure(e, r.mutable_failure());
    stream->Write(r);
    if (writer && !session.empty()) {
      log::Warn("backup: session " + session + " on database '" + database + "' failed: " + e.Message());
      writer->Abort(session);
      ended = true;
    }
    return grpc::Status::OK;
  };

  pb::SessionRequest req;
  while (stream->Read(&req)) {
    switch (req.op_case()) {
      case pb::SessionRequest::kBegin: {
        if (writer) return fail(Error(Code::kProtocol, "second Begin in one session", session, "a session backs up one database", "open a new stream"));
        const auto& b = req.begin();
        database = b.database();
        if (Status n = store::CheckDatabaseName(database); !n.ok()) return fail(n.error());
        auto type = TypeFrom(b.type());
        if (!type.ok()) return fail(type.error());
        store::BackupMethod method = b.method() == pb::STREAMING ? store::BackupMethod::kStreaming : store::BackupMethod::kSnapshot;
        // Known databases only get a writer (a client cannot grow the registry).
        auto dir = store_->DatabaseDir(database);
        if (!dir.ok())
          return fail(Error(Code::kDatabaseNotFound, "no such database", database, "the store has no database of this name",
                            "`mxvault writers` lists the store's databases"));
        store::SessionHolder who{RandomHex(8), ctx->peer(), FormatRfc3339(Now())};
        store::Writer& w = writers_.Get(database);
        auto set = w.Begin(who, *type, method, options_.freeze_deadline, b.dry_run());
        if (!set.ok()) {
          log::Info("backup: refused " + std::string(store::BackupTypeName(*type)) + " backup of '" + database + "' for " +
                    ctx->peer() + ": " + set.error().Message());
          return fail(set.error());
        }
        writer = &w;
        session = who.session_id;
        files_total = set->files.size();
        identity = set->identity;
        log::Info("backup: session " + session + " began: " + store::BackupTypeName(*type) + " " +
                  store::BackupMethodName(method) + (b.dry_run() ? " dry run" : "") + " of '" + database + "' for " + ctx->peer() +
                  " (" + std::to_string(files_total) + " files, sequence " + std::to_string(set->sequence) + ")");
        pb::SessionReply r;
        auto* o = r.mutable_begin();
        o->set_session_id(session);
        o->set_store_identity(store_->identity());
        o->set_store_name(options_.store_name);
        o->set_database_identity(set->identity);
        o->set_log_chain(set->log_chain);
        o->set_sequence(set->sequence);
        o->set_first_log(set->first_log);
        o->set_newest_log(set->newest_log);
        o->set_first_seq(set->first_seq);
        o->set_commits_blocked_us(uint64_t(set->commits_blocked.count()));
        ToRecord(set->base, o->mutable_base());
        struct statvfs sv;
        if (statvfs(dir->c_str(), &sv) == 0) o->set_database_dir_free(std::to_string(uint64_t(sv.f_bavail) * sv.f_frsize));
        if (!stream->Write(r)) return grpc::Status::OK;
        break;
      }
      case pb::SessionRequest::kListFiles: {
        if (!writer) return fail(NotBegun("ListFiles", ctx->peer()));
        pb::SessionReply r;
        auto* o = r.mutable_files();
        auto files = writer->Files(session);
        if (!files.ok()) return fail(files.error());
        for (const auto& f : *files) {
          auto* fi = o->add_files();
          fi->set_name(f.name);
          fi->set_size(f.size);
          fi->set_kind(f.kind);
          fi->set_log_number(f.log_number);
          fi->set_first_seq(f.first_seq);
          fi->set_last_seq(f.last_seq);
          fi->set_crc32c(Crc32Hex(f.crc32c));
          fi->set_database_identity(identity);
        }
        if (!stream->Write(r)) return grpc::Status::OK;
        break;
      }
      case pb::SessionRequest::kReadFile: {
        if (!writer) return fail(NotBegun("ReadFile", ctx->peer()));
        auto f = writer->File(session, req.read_file().name());
        if (!f.ok()) return fail(f.error());
        uint32_t crc = 0;
        uint64_t done = 0;
        pb::SessionReply r;
        auto* c = r.mutable_chunk();
        c->set_name(f->name);
        Fd fd;
        if (f->contents.empty()) {
          fd = Fd(open(f->path.c_str(), O_RDONLY | O_CLOEXEC));
          if (!fd.valid()) {
            Error e = ErrnoError("cannot open for the backup", f->path, errno);
            writer->Fail(session, "read", e);
            return fail(e);
          }
        }
        std::string buf;
        do {
          size_t n = static_cast<size_t>(std::min<uint64_t>(options_.chunk_size, f->size - done));
          if (!f->contents.empty()) {
            buf.assign(f->contents, size_t(done), n);
          } else {
            buf.resize(n);
            Status rd = PreadFull(fd.get(), reinterpret_cast<uint8_t*>(buf.data()), n, done, f->path);
            if (!rd.ok()) {
              writer->Fail(session, "read", rd.error());
              return fail(rd.error());
            }
          }
          crc = Crc32cExtend(crc, reinterpret_cast<const uint8_t*>(buf.data()), n);
          bool last = done + n == f->size;
          if (last && crc != f->crc32c) {
            Error e(Code::kChecksumMismatch, "file " + f->name + " of database '" + database + "' changed or is damaged",
                    f->path.empty() ? f->name : f->path,
                    "its CRC-32C is " + Crc32Hex(crc) + ", the set recorded " + Crc32Hex(f->crc32c),
                    "run `mxstore db check " + database + "`; restore the database if the file is damaged");
            writer->Fail(session, "read", e);
            return fail(e);
          }
          c->set_offset(done);
          c->set_data(std::move(buf));
          c->set_last(last);
          if (last) c->set_crc32c(Crc32Hex(crc));
          done += n;
          if (!stream->Write(r)) return grpc::Status::OK;  // the client is gone: the guard aborts
          buf = std::move(*c->mutable_data());
        } while (done < f->size);
        files_read.insert(f->name);
        if (files_read.size() == files_total) writer->AllFilesRead(session);
        break;
      }
      case pb::SessionRequest::kFreeze: {
        if (!writer) return fail(NotBegun("Freeze", ctx->peer()));
        auto ms = std::chrono::milliseconds(req.freeze().deadline_ms() ? req.freeze().deadline_ms() : options_.freeze_deadline.count());
        ms = std::min(ms, options_.freeze_deadline);  // a client never holds commits longer than the store allows
        Status s = writer->Freeze(session, ms);
        if (!s.ok()) return fail(s.error());
        pb::SessionReply r;
        r.mutable_frozen();
        if (!stream->Write(r)) return grpc::Status::OK;
        break;
      }
      case pb::SessionRequest::kThaw: {
        if (!writer) return fail(NotBegun("Thaw", ctx->peer()));
        auto held = writer->Thaw(session);
        if (!held.ok()) return fail(held.error());
        pb::SessionReply r;
        r.mutable_thawed()->set_held_us(uint64_t(held->count()));
        if (!stream->Write(r)) return grpc::Status::OK;
        break;
      }
      case pb::SessionRequest::kEnd: {
        if (!writer) return fail(NotBegun("End", ctx->peer()));
        pb::SessionReply r;
        if (req.end().outcome() == pb::End::COMPLETE) {
          auto t = writer->Complete(session);
          ended = true;
          if (!t.ok()) {
            ToFailure(t.error(), r.mutable_failure());
            stream->Write(r);
            return grpc::Status::OK;
          }
          r.mutable_end()->set_logs_truncated(t->truncated);
          ToRecord(t->record, r.mutable_end()->mutable_recorded());
        } else {
          writer->Abort(session);
          ended = true;
          log::Info("backup: session " + session + " on '" + database + "' aborted by the client");
          r.mutable_end();
        }
        stream->Write(r);
        return grpc::Status::OK;
      }
      default:
        return fail(Error(Code::kProtocol, "unknown request in a backup session", session, "op " + std::to_string(int(req.op_case())),
                          "update mxvault and mxstore to the same version"));
    }
  }
  return grpc::Status::OK;  // the stream ended: the guard aborts an open session
}

Result<std::vector<std::string>> ReadTokenFile(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return ErrnoError("cannot read the backup token file", path, errno);
  if (st.st_mode & 0077)
    return Error(Code::kConfig, "the backup token file is readable by others", path,
                 "mode " + std::to_string((st.st_mode >> 6) & 7) + std::to_string((st.st_mode >> 3) & 7) + std::to_string(st.st_mode & 7),
                 "chmod 600 " + path);
  Bytes raw = MX_TRY(ReadFile(path));
  std::vector<std::string> out;
  std::string line;
  auto flush = [&] {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
    size_t b = line.find_first_not_of(" \t");
    if (b != std::string::npos && line[b] != '#') out.push_back(line.substr(b));
    line.clear();
  };
  for (uint8_t c : raw) {
    if (c == '\n') flush();
    else line.push_back(char(c));
  }
  flush();
  if (out.empty())
    return Error(Code::kConfig, "the backup token file holds no token", path, "every line is empty or a comment",
                 "write one token per line, e.g. `openssl rand -hex 32 > " + path + "`");
  return out;
}

Result<std::unique_ptr<BackupServer>> BackupServer::Start(BackupService* service, const ListenerOptions& o,
                                                          std::vector<std::string>* bound) {
  grpc::ServerBuilder builder;
  builder.RegisterService(service);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, o.keepalive_seconds * 1000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, o.keepalive_seconds * 1000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 500);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  builder.SetMaxReceiveMessageSize(4 << 20);
  std::shared_ptr<grpc::ServerCredentials> tls;
  std::vector<std::unique_ptr<int>> ports;
  std::vector<std::pair<std::string, int*>> tcp;
  std::vector<std::string> unix_paths;
  for (const auto& a : o.addresses) {
    if (a.rfind("unix:", 0) == 0) {
      std::string path = a.substr(5);
      unlink(path.c_str());  // a socket left by a store that did not stop cleanly
      builder.AddListeningPort("unix:" + path, grpc::InsecureServerCredentials());
      unix_paths.push_back(path);
      continue;
    }
    if (!tls) {
      if (o.tls_cert_file.empty() || o.tls_key_file.empty())
        return Error(Code::kConfig, "the backup service needs TLS on TCP", a,
                     "backup.tls_cert_file and backup.tls_key_file are not set",
                     "set both (PEM files), or listen on a Unix socket only (\"unix:backup.sock\")");
      grpc::SslServerCredentialsOptions so;
      Bytes cert = MX_TRY(ReadFile(o.tls_cert_file));
      Bytes key = MX_TRY(ReadFile(o.tls_key_file));
      so.pem_key_cert_pairs.push_back({std::string(key.begin(), key.end()), std::string(cert.begin(), cert.end())});
      if (!o.tls_client_ca_file.empty()) {
        Bytes ca = MX_TRY(ReadFile(o.tls_client_ca_file));
        so.pem_root_certs.assign(ca.begin(), ca.end());
        so.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
      }
      tls = grpc::SslServerCredentials(so);
    }
    ports.push_back(std::make_unique<int>(0));
    builder.AddListeningPort(a, tls, ports.back().get());
    tcp.push_back({a, ports.back().get()});
  }
  std::unique_ptr<BackupServer> out(new BackupServer);
  out->server_ = builder.BuildAndStart();
  if (!out->server_)
    return Error(Code::kIo, "cannot start the backup service", "backup.listen",
                 "gRPC could not bind one of the addresses (in use, or not an address of this host)",
                 "check backup.listen in the config; the store's log names the address");
  for (const auto& [a, port] : tcp) {
    if (*port == 0)
      return Error(Code::kIo, "cannot listen for backups", a, "the address could not be bound (in use, or not on this host)",
                   "choose another address or port in backup.listen");
    std::string host = a.substr(0, a.rfind(':'));
    bound->push_back(host + ":" + std::to_string(*port));
  }
  for (const auto& p : unix_paths) {
    chmod(p.c_str(), static_cast<mode_t>(o.unix_socket_mode));
    bound->push_back("unix:" + p);
  }
  return out;
}

void BackupServer::Stop() {
  if (server_) {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    server_.reset();
  }
}

BackupServer::~BackupServer() { Stop(); }

}  // namespace mx::backupsvc
