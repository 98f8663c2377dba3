#include "store_server/lmtp/lmtp_service.h"

#include <ctime>

#include "common/clock.h"
#include "common/log.h"

namespace mx::lmtp {
namespace {

class StoreHandler : public Handler {
 public:
  StoreHandler(store::Store* store, const std::string& peer) : store_(store), peer_(peer) {}

  std::string CheckRecipient(const std::string& address) override {
    auto where = store_->Locate(address);
    if (where.ok()) return {};
    if (where.error().code() == Code::kDatabaseNotMounted)
      return "451 4.3.2 <" + address + ">: mailbox database " + where.error().object() +
             " is not mounted, try again later";
    return "550 5.1.1 <" + address + ">: no such mailbox here";
  }

  std::vector<std::string> Deliver(const std::string& from, const std::vector<std::string>& rcpts,
                                   const std::string& data) override {
    Timestamp now = Now();
    auto results = store_->Deliver(rcpts, data, now.sec, 0);
    std::vector<std::string> replies;
    for (size_t i = 0; i < results.size(); ++i) {
      const auto& r = results[i];
      if (r.uid.ok()) {
        replies.push_back("250 2.0.0 <" + rcpts[i] + "> delivered as UID " + std::to_string(*r.uid));
        continue;
      }
      const Error& e = r.uid.error();
      switch (e.code()) {
        case Code::kMailboxNotFound:
          replies.push_back("550 5.1.1 <" + rcpts[i] + ">: no such mailbox here");
          break;
        case Code::kDatabaseNotMounted:
          replies.push_back("451 4.3.2 <" + rcpts[i] + ">: mailbox database " + e.object() +
                            " is not mounted, try again later");
          break;
        case Code::kMessageTooLarge:
          replies.push_back("552 5.3.4 Message size exceeds the store's limit");
          break;
        default:
          log::Error("lmtp " + peer_ + ": delivery to " + rcpts[i] + " failed: " + e.Message());
          replies.push_back("451 4.3.0 <" + rcpts[i] + ">: temporary store failure, try again later");
      }
    }
    (void)from;
    return replies;
  }

 private:
  store::Store* store_;
  std::string peer_;
};

}  // namespace

void LmtpService::Serve(net::Conn& conn) {
  StoreHandler handler(store_, conn.peer());
  Session session(&handler, limits_, hostname_);
  conn.SetReadTimeout(idle_timeout_);
  if (!conn.Write(session.Greeting())) return;
  std::string buf(64 * 1024, '\0');
  std::string out;
  while (true) {
    size_t n = conn.Read(buf.data(), buf.size());
    if (n == 0) {
      if (conn.timed_out()) conn.Write("421 4.4.2 Idle for too long, closing the connection\r\n");
      return;  // peer gone (mid-DATA included): nothing is delivered
    }
    out.clear();
    bool more = session.Feed(std::string_view(buf.data(), n), &out);
    if (!out.empty() && !conn.Write(out)) return;
    if (!more) return;
  }
}

}  // namespace mx::lmtp
