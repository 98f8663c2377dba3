#include "imap/command_parser.h"

#include <algorithm>

namespace mx::imap {
namespace {

ParserLimits LexerLimits(const CommandLimits& l) {
  ParserLimits p;
  p.max_line = l.max_line;
  p.max_literal = l.max_literal;
  p.max_depth = l.max_depth;
  return p;
}

// RFC 3501 tag: ASTRING-CHAR except "+"; our lexer's atoms also let through
// the list wildcards and '\', which a tag may not hold.
bool ValidTag(const std::string& t) {
  return !t.empty() && std::none_of(t.begin(), t.end(), [](char c) {
    return c == '+' || c == '%' || c == '*' || c == '\\' || static_cast<unsigned char>(c) >= 0x80;
  });
}

bool ValidName(const std::string& n) {
  return !n.empty() && std::all_of(n.begin(), n.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
  });
}

}  // namespace

CommandParser::CommandParser(Input& in, CommandLimits limits) : Lexer(in, LexerLimits(limits)), climits_(limits) {}

Error CommandParser::Bad(const std::string& why) {
  grammar_error_ = true;
  why_ = why;
  return Error(Code::kProtocol, "the IMAP client sent a command that breaks the protocol", "", why, "");
}

Error CommandParser::Closed() {
  return Error(Code::kNetwork, "the IMAP client closed the connection", "",
               line_bytes_ ? "in the middle of a command" : "between commands", "");
}

Status CommandParser::OnLiteral(std::vector<Value>& out, uint64_t size, bool sync) {
  if (size > climits_.max_literal || literal_total_ + size > climits_.max_literal_total) {
    uint64_t limit = size > climits_.max_literal ? climits_.max_literal : climits_.max_literal_total - literal_total_;
    std::string why = "a literal of " + std::to_string(size) + " bytes, more than the " + std::to_string(limit) +
                      " this server accepts" + (size > climits_.max_literal ? "" : " in one command");
    toobig_ = true;
    if (sync) {
      refused_literal_ = true;  // no "+" is sent, so the client sends none of it
      return Bad(why);
    }
    if (size > climits_.max_discard) {
      refused_fatal_ = true;
      return Bad(why + "; it was sent without waiting (LITERAL+), too large to skip");
    }
    MX_CHECK(DiscardLiteral(size));  // the client sends it anyway: drop it
    return Bad(why);
  }
  literal_total_ += size;
  if (sync && continuation_ && *continuation_) MX_CHECK((*continuation_)());
  Value v;
  v.kind = Value::Kind::kString;
  v.literal = true;
  MX_CHECK(ReadLiteralInto(size, &v.text));
  out.push_back(std::move(v));
  return Ok();
}

Status CommandParser::ReadCommand(ParsedCommand& c) {
  char first = MX_TRY(Peek());
  if (first == '\r' || first == '\n') {
    MX_CHECK(ExpectCrlf());
    line_ended_ = true;
    return Bad("an empty line; a command starts with a tag");
  }
  std::string tag = MX_TRY(ReadAtom(false));
  if (!ValidTag(tag)) return Bad(tag.empty() ? "a command must start with a tag" : "the tag holds a character a tag may not");
  c.tag = std::move(tag);
  char sp = MX_TRY(Peek());
  if (sp == '\r' || sp == '\n') return Bad("a tag without a command");
  MX_CHECK(Expect(' ', "a space after the tag"));
  std::string name = MX_TRY(ReadAtom(false));
  if (!ValidName(name)) return Bad(name.empty() ? "a command name after the tag" : "'" + name.substr(0, 40) + "' is not a command name");
  c.name = AsciiUpper(name);
  char d = MX_TRY(Peek());
  if (d == ' ') {
    MX_CHECK(Skip());
    MX_CHECK(ReadValues(c.args, 0, 0));
  }
  MX_CHECK(ExpectCrlf());
  return Ok();
}

Status CommandParser::SkipLine(ParsedCommand& c) {
  std::string tail;  // the end of the line so far: does it announce a literal?
  while (true) {
    auto ch = Get();
    if (!ch.ok()) {
      if (line_bytes_ > limits_.max_line) {
        c.fatal = true;
        return Ok();
      }
      return std::move(ch).error();
    }
    if (*ch != '\n') {
      tail += *ch;
      if (tail.size() > 32) tail.erase(0, tail.size() - 32);
      continue;
    }
    if (!tail.empty() && tail.back() == '\r') tail.pop_back();
    size_t open = tail.rfind('{');
    if (open == std::string::npos || tail.back() != '}') return Ok();
    std::string inner = tail.substr(open + 1, tail.size() - open - 2);
    bool nonsync = !inner.empty() && (inner.back() == '+' || inner.back() == '-');
    if (nonsync) inner.pop_back();
    if (inner.empty() || inner.size() > 19 || !std::all_of(inner.begin(), inner.end(), [](char x) { return x >= '0' && x <= '9'; }))
      return Ok();
    if (!nonsync) return Ok();  // the client waits for a "+" it will not get
    uint64_t n = std::stoull(inner);
    if (n > climits_.max_discard) {
      c.fatal = true;
      return Ok();
    }
    MX_CHECK(DiscardLiteral(n));
    tail.clear();
  }
}

Result<std::string> CommandParser::ReadLine() {
  StartLine();
  return ReadTextToEol();
}

Result<ParsedCommand> CommandParser::Next(const std::function<Status()>& continuation) {
  StartLine();
  continuation_ = &continuation;
  literal_total_ = 0;
  grammar_error_ = refused_literal_ = refused_fatal_ = toobig_ = line_ended_ = false;
  why_.clear();
  ParsedCommand c;
  Status s = ReadCommand(c);
  continuation_ = nullptr;
  if (s.ok()) return c;
  if (!grammar_error_) return std::move(s).error();  // the input failed or closed
  c.args.clear();
  if (c.tag.empty()) c.tag = "*";
  c.bad = why_;
  if (toobig_) c.bad_code = "TOOBIG";
  if (line_bytes_ > limits_.max_line || refused_fatal_) {
    c.fatal = true;
    return c;
  }
  if (refused_literal_ || line_ended_) return c;
  MX_CHECK(SkipLine(c));
  return c;
}

}  // namespace mx::imap
