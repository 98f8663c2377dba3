// IMAP responses as the client side reads them (RFC 3501 §7, RFC 9051 §7):
// a server's greeting, untagged data, status replies and continuation
// requests, parsed from a byte stream with bounded memory.
//
// Literals a caller wants to stream (message bodies) go to a LiteralSink piece
// by piece as they arrive, so a 50 MB body never sits whole in memory; every
// other literal is held, up to ParserLimits::max_literal. A response that
// breaks the grammar or a limit is a PROTOCOL error naming what was received.
//
// The store's IMAP server (issue 7) reads commands with the same lexer rules;
// keep both sides here.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace mx::imap {

/// One token of IMAP data.
struct Value {
  enum class Kind : uint8_t { kAtom, kNumber, kString, kNil, kList, kStreamed };
  Kind kind = Kind::kAtom;
  std::string text;          // atom, number or string contents
  uint64_t number = 0;       // kNumber
  uint64_t size = 0;         // kStreamed: the literal's size
  size_t stream = 0;         // kStreamed: index into Response::streams
  std::vector<Value> items;  // kList
  bool literal = false;      // kString: sent as a literal ({N}), not quoted

  bool is_list() const { return kind == Kind::kList; }
  bool is_number() const { return kind == Kind::kNumber; }
  /// An atom equal to `upper` ignoring ASCII case.
  bool Is(std::string_view upper) const;
  /// Atom, number or string text; "" for NIL.
  const std::string& str() const { return text; }
  /// For tests and error messages: IMAP-like text, strings quoted, long
  /// strings abbreviated.
  std::string Debug() const;
};

/// Streamed literal contents go here (one sink per literal).
class LiteralSink {
 public:
  virtual ~LiteralSink() = default;
  virtual Status Write(const char* data, size_t n) = 0;
  /// The whole literal arrived.
  virtual Status Finish() { return Ok(); }
};

struct Response {
  enum class Type : uint8_t { kTagged, kUntagged, kContinuation };
  Type type = Type::kUntagged;
  std::string tag;           // kTagged
  bool has_number = false;   // "* 12 EXISTS": number 12, name EXISTS
  uint64_t number = 0;
  std::string name;          // upper case: OK NO BAD BYE PREAUTH CAPABILITY FETCH LIST ...
  // Status responses (OK/NO/BAD/BYE/PREAUTH) and continuations:
  std::string code;              // resp-text-code atom, upper case ("UIDVALIDITY"); "" when none
  std::vector<Value> code_args;  // its arguments ("[COPYUID 38505 304,319 3956:3957]")
  std::string text;              // human-readable text
  // Data responses: everything after the name.
  std::vector<Value> args;
  // Streamed literals of this response, in order (Value::stream indexes them).
  std::vector<std::shared_ptr<LiteralSink>> streams;

  bool is_status() const;
  /// "a12 NO [TRYCREATE] Mailbox doesn't exist" — for error messages.
  std::string Summary() const;
};

/// Where the parser reads from: a socket, a TLS stream, a buffer in a test.
class Input {
 public:
  virtual ~Input() = default;
  /// Up to `n` bytes; 0 at the end of the stream. Timeouts are errors.
  virtual Result<size_t> Read(char* buf, size_t n) = 0;
};

struct ParserLimits {
  size_t max_line = 16 << 20;     // bytes of one response outside literals
  size_t max_literal = 64 << 20;  // a literal held in memory
  uint64_t max_streamed = uint64_t(4) << 30;  // a literal streamed to a sink
  int max_depth = 32;             // nested parenthesised lists
};

/// Decides whether a literal is streamed: called with the response read so
/// far (its number is the message sequence number of a FETCH), the atom just
/// before the literal ("BODY[]", "BINARY[1]") and the literal's size. Return a
/// sink to stream it, or null to hold it as a string.
using StreamDecider = std::function<std::unique_ptr<LiteralSink>(const Response& partial,
                                                                std::string_view key, uint64_t size)>;

/// The lexer both sides share (RFC 3501 §4, §9): atoms, numbers, quoted
/// strings, literals ({N}, {N+}, ~{N}), NIL and nested lists, read from an
/// Input with bounded memory. ResponseParser (the client side) and
/// CommandParser (the server side, command_parser.h) add their framing and
/// decide what a literal announcement means.
class Lexer {
 public:
  virtual ~Lexer() = default;
  /// Bytes consumed so far (for traces and tests).
  uint64_t consumed() const { return consumed_; }
  /// Bytes read from the input but not yet parsed (STARTTLS must see none).
  size_t buffered() const { return end_ - pos_; }

 protected:
  Lexer(Input& in, ParserLimits limits) : in_(in), limits_(limits) {}
  /// A grammar error or a broken limit, with the line so far for context.
  virtual Error Bad(const std::string& why) = 0;
  /// The stream ended (mid-line when line_bytes_ > 0).
  virtual Error Closed() = 0;
  /// A literal of `size` bytes was announced after the values in `out`
  /// ({N}: `sync`; {N+}: not). Reads it (or refuses it) and appends its value.
  virtual Status OnLiteral(std::vector<Value>& out, uint64_t size, bool sync) = 0;

  Status Fill();
  Result<char> Peek();
  Result<char> Get();
  Status Skip();
  Status Expect(char c, const char* what);
  Status ExpectCrlf();
  Result<std::string> ReadAtom(bool brackets);
  Result<std::string> ReadQuoted();
  Result<std::string> ReadTextToEol();
  Status ReadValues(std::vector<Value>& out, int depth, char close);
  /// The literal's bytes: held in `out`, or written to `sink`.
  Status ReadLiteralInto(uint64_t size, std::string* out);
  Status ReadLiteralTo(uint64_t size, LiteralSink& sink);
  /// Drops `size` bytes of input (a refused literal the client sends anyway).
  Status DiscardLiteral(uint64_t size);
  void StartLine() {
    line_bytes_ = 0;
    context_.clear();
  }

  Input& in_;
  ParserLimits limits_;
  std::vector<char> buf_ = std::vector<char>(64 << 10);
  size_t pos_ = 0, end_ = 0;
  uint64_t consumed_ = 0;
  size_t line_bytes_ = 0;   // bytes of the current line outside literals
  std::string context_;     // the start of the current line, for errors

 private:
  Status ReadLiteral(std::vector<Value>& out);
};

class ResponseParser : public Lexer {
 public:
  explicit ResponseParser(Input& in, ParserLimits limits = {}) : Lexer(in, limits) {}
  /// Reads the next complete response. PROTOCOL error for bad grammar or a
  /// limit; the input's own error (e.g. a timeout) as it is; NETWORK error
  /// "connection closed" when the stream ends, also mid-response.
  Result<Response> Next(const StreamDecider& stream = nullptr);

 protected:
  Error Bad(const std::string& why) override;
  Error Closed() override;
  Status OnLiteral(std::vector<Value>& out, uint64_t size, bool sync) override;

 private:
  Status ReadRespText(Response& r);

  Response* current_ = nullptr;  // the response being read (streaming decisions see it)
  StreamDecider stream_;         // for the response being read
};

/// An Input over a fixed buffer (tests, fuzzing).
class StringInput : public Input {
 public:
  explicit StringInput(std::string data, size_t max_read = 0) : data_(std::move(data)), max_read_(max_read) {}
  Result<size_t> Read(char* buf, size_t n) override;

 private:
  std::string data_;
  size_t pos_ = 0;
  size_t max_read_;
};

/// A LiteralSink collecting into a string (tests).
class StringSink : public LiteralSink {
 public:
  explicit StringSink(std::string* out) : out_(out) {}
  Status Write(const char* data, size_t n) override {
    out_->append(data, n);
    return Ok();
  }

 private:
  std::string* out_;
};

/// Upper-cases ASCII letters.
std::string AsciiUpper(std::string_view s);
/// Equal ignoring the case of ASCII letters (atoms, flags, header names).
bool AsciiIEquals(std::string_view a, std::string_view b);

}  // namespace mx::imap
