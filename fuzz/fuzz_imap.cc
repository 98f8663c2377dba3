// Fuzzes the IMAP codec's client side: any bytes as a server's responses must
// parse or fail with a named error (never crash, never read past a limit), the
// result must not depend on how the bytes arrive (one read vs. byte by byte),
// and modified UTF-7 must decode only canonical names (decode then encode
// gives the input back) while every encoding decodes.
#include <cstdint>
#include <string>

#include "imap/response.h"
#include "imap/utf7.h"

namespace {

std::string ParseAll(const std::string& text, size_t max_read) {
  mx::imap::StringInput in(text, max_read);
  mx::imap::ParserLimits lim;
  lim.max_line = 4096;
  lim.max_literal = 2048;
  lim.max_streamed = 1 << 20;
  lim.max_depth = 16;
  mx::imap::ResponseParser p(in, lim);
  std::string out;
  for (int i = 0; i < 64; ++i) {
    std::string streamed;
    auto r = p.Next([&](const mx::imap::Response&, std::string_view key, uint64_t) -> std::unique_ptr<mx::imap::LiteralSink> {
      if (key.size() >= 4 && key.substr(0, 4) == "BODY") return std::make_unique<mx::imap::StringSink>(&streamed);
      return nullptr;
    });
    if (!r.ok()) {
      out += "ERR " + std::string(mx::Describe(r.error().code()).symbol) + "\n";
      break;
    }
    out += r->Summary() + "|" + streamed + "\n";
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  if (ParseAll(text, 0) != ParseAll(text, 1)) __builtin_trap();

  std::string name = text.substr(0, 200);
  auto d = mx::imap::DecodeMailboxName(name);
  if (d.ok() && mx::imap::EncodeMailboxName(*d) != name) __builtin_trap();
  if (!mx::imap::DecodeMailboxName(mx::imap::EncodeMailboxName(name)).ok()) __builtin_trap();
  return 0;
}
