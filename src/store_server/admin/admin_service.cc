#include "store_server/admin/admin_service.h"

#include "common/log.h"
#include "store/log/wal.h"

namespace mx::admin {

using nlohmann::json;

json ErrorToJson(const Error& e) {
  return {{"symbol", Describe(e.code()).symbol}, {"what", e.what()}, {"object", e.object()},
          {"cause", e.cause()}, {"hint", e.hint()}};
}

Error ErrorFromJson(const json& j) {
  Code code = CodeFromSymbol(j.value("symbol", "INTERNAL"));
  return Error(code, j.value("what", ""), j.value("object", ""), j.value("cause", ""), j.value("hint", ""));
}

json LogsToJson(const std::vector<store::WalFileInfo>& logs) {
  json out = json::array();
  for (const auto& l : logs)
    out.push_back({{"number", l.number}, {"archived", l.archived}, {"size", l.size},
                   {"batches", l.batches}, {"first_seq", l.first_seq}, {"last_seq", l.last_seq},
                   {"damage", l.damage}, {"torn_tail", l.torn_tail}, {"path", l.path}});
  return {{"logs", out}, {"gap", store::FindChainGap(logs)}};
}

namespace {

json Ok(json result = nullptr) { return {{"ok", true}, {"result", std::move(result)}}; }
json Fail(const Error& e) { return {{"ok", false}, {"error", ErrorToJson(e)}}; }
json Done(const Status& s) { return s.ok() ? Ok() : Fail(s.error()); }

}  // namespace

json AdminService::Execute(const json& req) {
  try {
    std::string cmd = req.at("cmd").get<std::string>();
    auto str = [&](const char* k) { return req.at(k).get<std::string>(); };
    if (cmd == "db.list") {
      json out = json::array();
      for (const auto& d : store_->ListDatabases())
        out.push_back({{"name", d.name}, {"mounted", d.mounted}, {"mailboxes", d.mailboxes},
                       {"header", d.header.ToJson()}});
      return Ok(out);
    }
    if (cmd == "db.create") return Done(store_->CreateDatabase(str("name"), req.value("circular_logging", false)));
    if (cmd == "db.attach") return Done(store_->AttachDatabase(str("dir"), str("name")));
    if (cmd == "db.mount") return Done(store_->Mount(str("name")));
    if (cmd == "db.dismount") return Done(store_->Dismount(str("name")));
    if (cmd == "db.set") return Done(store_->SetCircularLogging(str("name"), req.at("circular_logging").get<bool>()));
    if (cmd == "db.header") {
      auto h = store_->Header(str("name"));
      return h.ok() ? Ok(h->ToJson()) : Fail(h.error());
    }
    if (cmd == "db.check") {
      auto r = store_->Check(str("name"));
      return r.ok() ? Ok(json(*r)) : Fail(r.error());
    }
    if (cmd == "db.logs") {
      auto dir = store_->DatabaseDir(str("name"));
      if (!dir.ok()) return Fail(dir.error());
      auto logs = store::ListWalFiles(*dir + "/rocksdb");
      if (!logs.ok()) return Fail(logs.error());
      return Ok(LogsToJson(*logs));
    }
    if (cmd == "mailbox.create") return Done(store_->CreateMailbox(str("name"), str("database")));
    if (cmd == "mailbox.delete") return Done(store_->DeleteMailbox(str("name")));
    if (cmd == "mailbox.move") return Done(store_->MoveMailbox(str("name"), str("database")));
    if (cmd == "mailbox.list") {
      json out = json::array();
      for (const auto& [m, d] : store_->ListMailboxes()) out.push_back({{"name", m}, {"database", d}});
      return Ok(out);
    }
    if (cmd == "mailbox.export") {
      auto n = store_->ExportMailbox(str("name"), str("target"), req.value("database", ""));
      return n.ok() ? Ok({{"messages", *n}}) : Fail(n.error());
    }
    if (cmd == "mailbox.restore") {
      auto o = store::ItemRestoreOptionsFromJson(req);
      if (!o.ok()) return Fail(o.error());
      auto r = store_->RestoreItems(*o);
      return r.ok() ? Ok(store::ToJson(*r)) : Fail(r.error());
    }
    if (cmd == "user.add") return Done(store_->AddUser(str("name"), str("password")));
    if (cmd == "user.passwd") return Done(store_->SetPassword(str("name"), str("password")));
    if (cmd == "user.remove") return Done(store_->RemoveUser(str("name")));
    if (cmd == "user.list") return Ok(json(store_->ListUsers()));
    if (cmd == "folder.create_public") return Done(store_->CreatePublicFolder(str("name"), str("database")));
    if (cmd == "folder.grant") return Done(store_->Grant(str("name"), str("user"), str("access")));
    if (cmd == "folder.grants") return Ok(json(store_->ListGrants()));
    if (cmd == "ping") return Ok("pong");
    return Fail(Error(Code::kUsage, "unknown admin command", cmd, "the daemon does not know it",
                      "use an mxstore CLI of the same version as the daemon"));
  } catch (const std::exception& e) {
    return Fail(Error(Code::kProtocol, "malformed admin request", "admin socket", e.what()));
  }
}

void AdminService::Serve(net::Conn& conn) {
  std::string buf(64 * 1024, '\0');
  std::string pending;
  while (true) {
    size_t n = conn.Read(buf.data(), buf.size());
    if (n == 0) return;
    pending.append(buf.data(), n);
    if (pending.size() > (1 << 20)) return;  // no request is this large
    size_t lf;
    while ((lf = pending.find('\n')) != std::string::npos) {
      std::string line = pending.substr(0, lf);
      pending.erase(0, lf + 1);
      json reply;
      try {
        reply = Execute(json::parse(line));
      } catch (const std::exception& e) {
        reply = Fail(Error(Code::kProtocol, "malformed admin request", "admin socket", e.what()));
      }
      if (!conn.Write(reply.dump() + "\n")) return;
    }
  }
}

}  // namespace mx::admin
