// Fuzzes SEARCH as the store's IMAP server runs it: the first line is a
// client's SEARCH arguments (through the command parser), the rest a
// message. Parsing the criteria must succeed or give a BAD/NO reply, and
// matching must never crash, whatever the criteria's nesting or the
// message's MIME (decoded by GMime for the text keys).
#include <cstdint>
#include <string>

#include "imap/command_parser.h"
#include "imap/search_text.h"
#include "store_server/imapd/search_program.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string all(reinterpret_cast<const char*>(data), size);
  size_t nl = all.find('\n');
  std::string line = "a SEARCH " + all.substr(0, nl == std::string::npos ? all.size() : nl) + "\r\n";
  std::string message = nl == std::string::npos ? "" : all.substr(nl + 1);
  mx::imap::StringInput in(line, 0);
  mx::imap::CommandLimits lim;
  lim.max_line = 4096;
  lim.max_literal = 2048;
  lim.max_literal_total = 4096;
  lim.max_discard = 8192;
  lim.max_depth = 16;
  mx::imap::CommandParser p(in, lim);
  auto c = p.Next([]() -> mx::Status { return mx::Ok(); });
  if (!c.ok() || !c->bad.empty()) return 0;
  mx::imapd::SearchProgram program;
  std::string err = program.Parse(c->args, 0, 5, 40);
  if (!err.empty()) {
    if (err.rfind("BAD ", 0) != 0 && err.rfind("NO ", 0) != 0) __builtin_trap();  // always a reply with a reason
    return 0;
  }
  mx::imap::SearchText text(message, !program.needs_body());
  mx::store::MessageRecord m;
  m.uid = 7;
  m.modseq = 9;
  m.flags = mx::store::kSeen;
  m.keywords = {"$Work"};
  m.internal_date = 1700000000;
  m.internal_zone = 60;
  m.size = message.size();
  for (uint32_t seq = 1; seq <= 5; ++seq) (void)program.Matches(m, seq, &text);
  return 0;
}
