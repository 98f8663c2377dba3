// IMAP commands as the server side reads them (RFC 3501 §6, §9; literals per
// RFC 7888): "tag SP name [SP values] CRLF", with the same lexer as the
// client's ResponseParser (response.h), so there is one grammar for both.
//
// A command that breaks the grammar or a limit does not end the session: it
// comes back with `bad` set (answer "TAG BAD ..." — or "* BAD" when no tag
// could be read — and go on) after the rest of its line is skipped. Only
// what cannot be resynchronised is `fatal` (answer "* BYE ..." and close): a
// line past the length limit, or a non-synchronising literal too large even
// to discard. A synchronising literal larger than the limit is refused before
// a byte of it is read (`bad` with code TOOBIG, no continuation sent).
//
// The values are Value trees (response.h). Fetch items keep their section as
// one atom: "BODY.PEEK[HEADER.FIELDS (From To)]<0.100>".
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "imap/response.h"

namespace mx::imap {

struct CommandLimits {
  size_t max_line = 64 << 10;            // bytes of one command outside literals
  uint64_t max_literal = 64 << 20;       // one literal (APPENDLIMIT)
  uint64_t max_literal_total = 256 << 20;  // every literal of one command (MULTIAPPEND)
  uint64_t max_discard = 256 << 20;      // a refused {N+} literal read and dropped
  int max_depth = 32;                    // nested parenthesised lists
};

struct ParsedCommand {
  std::string tag;          // "*" when none could be read
  std::string name;         // upper case: "LOGIN", "UID", "FETCH", ...
  std::vector<Value> args;  // everything after the name
  // Set when the command cannot run; the text says why ("a '(' without its ')'").
  std::string bad;
  std::string bad_code;     // "TOOBIG" for a refused literal, else ""
  bool fatal = false;       // the stream cannot be resynchronised: BYE and close
};

class CommandParser : public Lexer {
 public:
  explicit CommandParser(Input& in, CommandLimits limits = {});

  /// Reads the next command. `continuation` is called when a synchronising
  /// literal is accepted, before its bytes are read: the server sends its
  /// "+ ..." line there. Errors are the input's only (a timeout, the client
  /// gone: NETWORK); everything the client got wrong is in the result.
  Result<ParsedCommand> Next(const std::function<Status()>& continuation);

  /// One raw line without its CRLF (an AUTHENTICATE response, IDLE's DONE),
  /// at most max_line bytes: PROTOCOL error beyond.
  Result<std::string> ReadLine();

 protected:
  Error Bad(const std::string& why) override;
  Error Closed() override;
  Status OnLiteral(std::vector<Value>& out, uint64_t size, bool sync) override;

 private:
  Status ReadCommand(ParsedCommand& c);
  /// After a grammar error: drops the rest of the line (and a {N+} literal it
  /// announces). Sets c.fatal when that is impossible.
  Status SkipLine(ParsedCommand& c);

  CommandLimits climits_;
  const std::function<Status()>* continuation_ = nullptr;
  uint64_t literal_total_ = 0;
  // Set by Bad() and OnLiteral() so Next() can tell the client's mistakes
  // from the input's errors.
  bool grammar_error_ = false;
  bool line_too_long_ = false;
  bool refused_literal_ = false;  // a {N} refused: nothing follows on the line
  bool refused_fatal_ = false;
  bool toobig_ = false;
  bool line_ended_ = false;  // the error came after the line's CRLF
  std::string why_;
};

}  // namespace mx::imap
