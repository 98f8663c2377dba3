#include "imap/response.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace mx::imap {
namespace {

bool IsStatusName(std::string_view n) {
  return n == "OK" || n == "NO" || n == "BAD" || n == "BYE" || n == "PREAUTH";
}

// Characters that end an atom in server data (RFC 3501 atom-specials, minus
// the list wildcards and '\' that flags and LIST data carry).
bool EndsAtom(char c) {
  auto u = static_cast<unsigned char>(c);
  return u <= 0x20 || u == 0x7F || c == '(' || c == ')' || c == '{' || c == '"';
}

std::string Printable(std::string_view s) {
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '\r') out += "\\r";
    else if (c == '\n') out += "\\n";
    else if (u < 0x20 || u == 0x7F) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", u);
      out += hex;
    }
    else out += c;
  }
  return out;
}

}  // namespace

std::string AsciiUpper(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'a' && c <= 'z') c = char(c - 32);
  return out;
}

bool AsciiIEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'a' && x <= 'z') x = char(x - 32);
    if (y >= 'a' && y <= 'z') y = char(y - 32);
    if (x != y) return false;
  }
  return true;
}

bool Value::Is(std::string_view upper) const {
  if (kind != Kind::kAtom || text.size() != upper.size()) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c >= 'a' && c <= 'z') c = char(c - 32);
    if (c != upper[i]) return false;
  }
  return true;
}

std::string Value::Debug() const {
  switch (kind) {
    case Kind::kAtom:
    case Kind::kNumber:
      return text;
    case Kind::kNil:
      return "NIL";
    case Kind::kStreamed:
      return "{" + std::to_string(size) + " streamed}";
    case Kind::kString:
      if (text.size() > 60) return "{" + std::to_string(text.size()) + "}\"" + Printable(text.substr(0, 40)) + "...\"";
      return "\"" + Printable(text) + "\"";
    case Kind::kList: {
      std::string out = "(";
      for (size_t i = 0; i < items.size(); ++i) out += (i ? " " : "") + items[i].Debug();
      return out + ")";
    }
  }
  return "";
}

bool Response::is_status() const { return type != Type::kContinuation && IsStatusName(name); }

std::string Response::Summary() const {
  std::string out = type == Type::kTagged ? tag : type == Type::kUntagged ? "*" : "+";
  if (has_number) out += " " + std::to_string(number);
  if (!name.empty()) out += " " + name;
  if (!code.empty()) {
    out += " [" + code;
    for (const auto& a : code_args) out += " " + a.Debug();
    out += "]";
  }
  if (!text.empty()) out += " " + Printable(text.substr(0, 300));
  for (const auto& a : args) {
    out += " " + a.Debug();
    if (out.size() > 400) break;
  }
  return out;
}

Result<size_t> StringInput::Read(char* buf, size_t n) {
  size_t k = std::min(n, data_.size() - pos_);
  if (max_read_) k = std::min(k, max_read_);
  std::memcpy(buf, data_.data() + pos_, k);
  pos_ += k;
  return k;
}

Error ResponseParser::Bad(const std::string& why) {
  return Error(Code::kProtocol, "the IMAP server sent a response that breaks the protocol", "",
               why + "; response began: " + Printable(context_),
               "the server or something between us and it is misbehaving; retry, and report it to the server's "
               "administrator with this message");
}

Error ResponseParser::Closed() {
  return Error(Code::kNetwork, "the IMAP connection was closed by the server", "",
               line_bytes_ ? "in the middle of a response; it began: " + Printable(context_) : "between responses",
               "check the server's log; the run can be repeated and resumes where it stopped");
}

Status Lexer::Fill() {
  if (pos_ < end_) return Ok();
  pos_ = end_ = 0;
  size_t n = MX_TRY(in_.Read(buf_.data(), buf_.size()));
  if (n == 0) return Closed();
  end_ = n;
  return Ok();
}

Result<char> Lexer::Peek() {
  MX_CHECK(Fill());
  return buf_[pos_];
}

Result<char> Lexer::Get() {
  MX_CHECK(Fill());
  char c = buf_[pos_++];
  ++consumed_;
  if (++line_bytes_ > limits_.max_line)
    return Bad("a line longer than " + std::to_string(limits_.max_line) + " bytes outside literals");
  if (context_.size() < 160) context_ += c;
  return c;
}

Status Lexer::Skip() {
  auto c = Get();
  if (!c.ok()) return std::move(c).error();
  return Ok();
}

Status Lexer::Expect(char want, const char* what) {
  char c = MX_TRY(Get());
  if (c != want) return Bad(std::string("expected ") + what + ", got '" + Printable(std::string(1, c)) + "'");
  return Ok();
}

Status Lexer::ExpectCrlf() {
  char c = MX_TRY(Get());
  if (c == '\r') c = MX_TRY(Get());
  if (c != '\n') return Bad("expected the end of the line, got '" + Printable(std::string(1, c)) + "'");
  return Ok();
}

Result<std::string> Lexer::ReadAtom(bool brackets) {
  std::string out;
  int depth = 0;
  while (true) {
    char c = MX_TRY(Peek());
    if (depth > 0) {
      if (c == '\r' || c == '\n') return Bad("a '[' without its ']'");
      if (c == '[') ++depth;
      if (c == ']') --depth;
    } else if (EndsAtom(c) || (!brackets && c == ']')) {
      break;
    } else if (brackets && c == '[') {
      ++depth;
    }
    out += MX_TRY(Get());
  }
  return out;
}

Result<std::string> Lexer::ReadQuoted() {
  MX_CHECK(Expect('"', "'\"'"));
  std::string out;
  while (true) {
    char c = MX_TRY(Get());
    if (c == '"') return out;
    if (c == '\r' || c == '\n') return Bad("a line break inside a quoted string");
    if (c == '\\') c = MX_TRY(Get());
    out += c;
  }
}

Result<std::string> Lexer::ReadTextToEol() {
  std::string out;
  while (true) {
    char c = MX_TRY(Peek());
    if (c == '\r' || c == '\n') break;
    out += MX_TRY(Get());
  }
  MX_CHECK(ExpectCrlf());
  return out;
}

Status Lexer::ReadLiteral(std::vector<Value>& out) {
  MX_CHECK(Expect('{', "'{'"));
  uint64_t size = 0;
  int digits = 0;
  bool sync = true;
  while (true) {
    char c = MX_TRY(Get());
    if (c >= '0' && c <= '9') {
      if (++digits > 19) return Bad("a literal size with more than 19 digits");
      size = size * 10 + uint64_t(c - '0');
      continue;
    }
    if ((c == '+' || c == '-') && digits > 0) {  // LITERAL+ / LITERAL- (RFC 7888)
      sync = false;
      c = MX_TRY(Get());
    }
    if (c != '}' || digits == 0) return Bad("a malformed literal size");
    break;
  }
  MX_CHECK(ExpectCrlf());
  return OnLiteral(out, size, sync);
}

Status Lexer::ReadLiteralInto(uint64_t size, std::string* out) {
  out->reserve(size_t(size));
  uint64_t left = size;
  while (left > 0) {
    MX_CHECK(Fill());
    size_t k = size_t(std::min<uint64_t>(left, end_ - pos_));
    out->append(buf_.data() + pos_, k);
    pos_ += k;
    consumed_ += k;
    left -= k;
  }
  return Ok();
}

Status Lexer::ReadLiteralTo(uint64_t size, LiteralSink& sink) {
  uint64_t left = size;
  while (left > 0) {
    MX_CHECK(Fill());
    size_t k = size_t(std::min<uint64_t>(left, end_ - pos_));
    MX_CHECK(sink.Write(buf_.data() + pos_, k));
    pos_ += k;
    consumed_ += k;
    left -= k;
  }
  return sink.Finish();
}

Status Lexer::DiscardLiteral(uint64_t size) {
  uint64_t left = size;
  while (left > 0) {
    MX_CHECK(Fill());
    size_t k = size_t(std::min<uint64_t>(left, end_ - pos_));
    pos_ += k;
    consumed_ += k;
    left -= k;
  }
  return Ok();
}

Status ResponseParser::OnLiteral(std::vector<Value>& out, uint64_t size, bool sync) {
  (void)sync;  // a server's literals never wait for us
  std::string key;
  if (!out.empty() && out.back().kind == Value::Kind::kAtom) key = out.back().text;
  std::unique_ptr<LiteralSink> sink;
  if (stream_ && current_) sink = stream_(*current_, key, size);
  Value v;
  if (sink) {
    if (size > limits_.max_streamed)
      return Bad("a literal of " + std::to_string(size) + " bytes, more than the " +
                 std::to_string(limits_.max_streamed) + " this client accepts for " + (key.empty() ? "a value" : key));
    MX_CHECK(ReadLiteralTo(size, *sink));
    v.kind = Value::Kind::kStreamed;
    v.size = size;
    v.stream = current_->streams.size();
    current_->streams.push_back(std::move(sink));
  } else {
    if (size > limits_.max_literal)
      return Bad("a literal of " + std::to_string(size) + " bytes, more than the " +
                 std::to_string(limits_.max_literal) + " held in memory");
    v.kind = Value::Kind::kString;
    v.literal = true;
    MX_CHECK(ReadLiteralInto(size, &v.text));
  }
  out.push_back(std::move(v));
  return Ok();
}

Status Lexer::ReadValues(std::vector<Value>& out, int depth, char close) {
  // Streaming decisions see the whole response so far only at the top level
  // (FETCH's list is depth 1); deeper lists pass the same decider through.
  while (true) {
    char c = MX_TRY(Peek());
    if (c == ')' ) {
      if (close != ')') return Bad("a ')' without its '('");
      MX_CHECK(Skip());
      return Ok();
    }
    if (c == '\r' || c == '\n') {
      if (close == ')') return Bad("a '(' without its ')'");
      return Ok();
    }
    if (c == ' ') {
      MX_CHECK(Skip());
      continue;
    }
    if (c == '(') {
      if (depth + 1 > limits_.max_depth) return Bad("lists nested deeper than " + std::to_string(limits_.max_depth));
      MX_CHECK(Skip());
      Value v;
      v.kind = Value::Kind::kList;
      MX_CHECK(ReadValues(v.items, depth + 1, ')'));
      out.push_back(std::move(v));
      continue;
    }
    if (c == '"') {
      Value v;
      v.kind = Value::Kind::kString;
      v.text = MX_TRY(ReadQuoted());
      out.push_back(std::move(v));
      continue;
    }
    if (c == '{') {
      MX_CHECK(ReadLiteral(out));
      continue;
    }
    std::string atom = MX_TRY(ReadAtom(true));
    if (atom.empty()) return Bad("an unexpected character '" + Printable(std::string(1, c)) + "'");
    if (atom == "~") {
      char n = MX_TRY(Peek());
      if (n == '{') {  // literal8 (RFC 3516)
        MX_CHECK(ReadLiteral(out));
        continue;
      }
    }
    Value v;
    if (atom.size() == 3 && AsciiUpper(atom) == "NIL") {
      v.kind = Value::Kind::kNil;
    } else if (atom.size() <= 19 && std::all_of(atom.begin(), atom.end(), [](char d) { return d >= '0' && d <= '9'; })) {
      v.kind = Value::Kind::kNumber;
      v.number = std::stoull(atom);
      v.text = std::move(atom);
    } else {
      v.kind = Value::Kind::kAtom;
      v.text = std::move(atom);
    }
    out.push_back(std::move(v));
  }
}

Status ResponseParser::ReadRespText(Response& r) {
  char c = MX_TRY(Peek());
  if (c == ' ') {
    MX_CHECK(Skip());
    c = MX_TRY(Peek());
  }
  if (c == '[') {
    MX_CHECK(Skip());
    r.code = AsciiUpper(MX_TRY(ReadAtom(false)));
    if (r.code.empty()) return Bad("an empty response code");
    std::string raw;
    while (true) {
      char d = MX_TRY(Get());
      if (d == ']') break;
      if (d == '\r' || d == '\n') return Bad("a response code without its ']'");
      raw += d;
    }
    // Structured codes ([PERMANENTFLAGS (\Seen)], [COPYUID 1 2:3 4:5]) are
    // tokenized; free-form ones keep their text as one atom.
    if (!raw.empty() && raw[0] == ' ') raw.erase(0, 1);
    if (!raw.empty()) {
      StringInput sub(raw + "\r\n");
      ParserLimits sub_limits = limits_;
      sub_limits.max_literal = 0;
      ResponseParser p(sub, sub_limits);
      std::vector<Value> vals;
      if (p.ReadValues(vals, 0, 0).ok() && p.ExpectCrlf().ok()) {
        r.code_args = std::move(vals);
      } else {
        Value v;
        v.kind = Value::Kind::kAtom;
        v.text = raw;
        r.code_args.push_back(std::move(v));
      }
    }
    c = MX_TRY(Peek());
    if (c == ' ') MX_CHECK(Skip());
  }
  r.text = MX_TRY(ReadTextToEol());
  return Ok();
}

Result<Response> ResponseParser::Next(const StreamDecider& stream) {
  StartLine();
  stream_ = stream;
  Response r;
  current_ = &r;
  char c = MX_TRY(Get());
  if (c == '+') {
    r.type = Response::Type::kContinuation;
    char d = MX_TRY(Peek());
    if (d == ' ') MX_CHECK(Skip());
    r.text = MX_TRY(ReadTextToEol());
    return r;
  }
  if (c == '*') {
    r.type = Response::Type::kUntagged;
    MX_CHECK(Expect(' ', "a space after '*'"));
    std::string first = MX_TRY(ReadAtom(false));
    if (!first.empty() && first.size() <= 19 &&
        std::all_of(first.begin(), first.end(), [](char d) { return d >= '0' && d <= '9'; })) {
      r.has_number = true;
      r.number = std::stoull(first);
      MX_CHECK(Expect(' ', "a space after the number"));
      first = MX_TRY(ReadAtom(false));
    }
    if (first.empty()) return Bad("an untagged response without a name");
    r.name = AsciiUpper(first);
  } else {
    r.type = Response::Type::kTagged;
    --pos_;  // the tag's first character
    --consumed_;
    --line_bytes_;
    if (!context_.empty()) context_.pop_back();
    r.tag = MX_TRY(ReadAtom(false));
    if (r.tag.empty()) return Bad("a response that is neither tagged, untagged nor a continuation");
    MX_CHECK(Expect(' ', "a space after the tag"));
    r.name = AsciiUpper(MX_TRY(ReadAtom(false)));
    if (r.name != "OK" && r.name != "NO" && r.name != "BAD")
      return Bad("a tagged response with status '" + r.name + "' (only OK, NO and BAD exist)");
  }
  if (IsStatusName(r.name)) {
    MX_CHECK(ReadRespText(r));
    return r;
  }
  MX_CHECK(ReadValues(r.args, 0, 0));
  MX_CHECK(ExpectCrlf());
  current_ = nullptr;
  return r;
}

}  // namespace mx::imap
