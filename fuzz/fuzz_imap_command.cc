// Fuzzes the IMAP codec's server side: any bytes as a client's commands must
// parse or end in BAD/BYE with a reason (never crash, never read a refused
// literal, never grow past a limit), and the result must not depend on how
// the bytes arrive (one read vs. byte by byte).
#include <cstdint>
#include <string>

#include "imap/command_parser.h"

namespace {

std::string ParseAll(const std::string& text, size_t max_read) {
  mx::imap::StringInput in(text, max_read);
  mx::imap::CommandLimits lim;
  lim.max_line = 4096;
  lim.max_literal = 2048;
  lim.max_literal_total = 4096;
  lim.max_discard = 8192;
  lim.max_depth = 16;
  mx::imap::CommandParser p(in, lim);
  std::string out;
  for (int i = 0; i < 64; ++i) {
    int continuations = 0;
    auto c = p.Next([&]() -> mx::Status {
      ++continuations;
      return mx::Ok();
    });
    if (!c.ok()) {
      out += "END " + std::string(mx::Describe(c.error().code()).symbol) + "\n";
      break;
    }
    if (c->tag.empty() || (c->bad.empty() && c->name.empty())) __builtin_trap();
    if (!c->bad.empty() && !c->args.empty()) __builtin_trap();  // a bad command carries no values
    out += c->tag + " " + c->name + " +" + std::to_string(continuations);
    for (const auto& a : c->args) out += " " + a.Debug();
    out += " |" + c->bad + "|" + c->bad_code + (c->fatal ? "|FATAL" : "") + "\n";
    if (c->fatal) break;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  if (ParseAll(text, 0) != ParseAll(text, 1)) __builtin_trap();
  return 0;
}
