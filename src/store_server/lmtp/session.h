// One LMTP session (RFC 2033) as a byte-in, bytes-out state machine: no
// sockets, so the network layer, the tests and the fuzz target drive the same
// code. Extensions: PIPELINING, 8BITMIME, ENHANCEDSTATUSCODES, SIZE.
//
// Policy (docs/lmtp.md): command lines end in CRLF and are at most 1000 bytes
// (500 5.5.2 otherwise, and the session goes on); message data ends only at
// CRLF.CRLF, and a message holding a bare LF or a NUL is refused (554 5.6.0)
// for every recipient. The message is stored exactly as received (dot-
// unstuffed), without added headers. Not thread-safe: one session per
// connection, driven by one thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mx::lmtp {

struct Limits {
  size_t max_line = 1000;              // command line, CRLF included
  uint64_t max_message_size = 64 << 20;
  size_t max_recipients = 1000;
  size_t max_errors = 100;             // protocol errors before the session is closed
};

/// What the session asks of the store. Called on the session's thread.
class Handler {
 public:
  virtual ~Handler() = default;
  /// Empty when `address` may receive mail; else the full reply line
  /// ("550 5.1.1 ...", "451 4.3.2 ...").
  virtual std::string CheckRecipient(const std::string& address) = 0;
  /// Delivers `data` to `recipients` (accepted ones, in RCPT order); returns
  /// one reply line per recipient, in the same order.
  virtual std::vector<std::string> Deliver(const std::string& from,
                                           const std::vector<std::string>& recipients,
                                           const std::string& data) = 0;
};

class Session {
 public:
  Session(Handler* handler, Limits limits, std::string hostname);
  /// The 220 greeting, CRLF-terminated.
  std::string Greeting() const;
  /// Consumes `bytes`; appends reply lines (CRLF-terminated) to `out`.
  /// Returns false once the session is over (QUIT, too many errors).
  bool Feed(std::string_view bytes, std::string* out);
  bool done() const { return done_; }

 private:
  enum class State { kCommand, kData };
  void Command(std::string_view line, std::string* out);
  void DataLine(std::string_view line, bool complete, std::string* out);
  void EndOfData(std::string* out);
  void Reset();
  void Reply(std::string* out, std::string_view line);
  void Error(std::string* out, std::string_view line);

  Handler* handler_;
  Limits limits_;
  std::string hostname_;
  State state_ = State::kCommand;
  bool done_ = false;
  bool greeted_ = false;
  std::string in_;               // bytes not yet consumed
  bool discarding_ = false;      // skipping the rest of an overlong command line
  size_t errors_ = 0;

  bool have_from_ = false;
  std::string from_;
  std::vector<std::string> recipients_;
  std::string data_;
  bool data_at_line_start_ = true;
  bool data_too_big_ = false;
  bool data_bad_bytes_ = false;
  std::string bad_bytes_reason_;
};

/// Parses "<local@domain>" (or "<>" when `allow_empty`) at the start of
/// `arg`; sets `address` and returns the rest (parameters), or false.
bool ParsePath(std::string_view arg, bool allow_empty, std::string* address, std::string_view* rest);

}  // namespace mx::lmtp
