// Fuzzes the LMTP session (RFC 2033 state machine): any bytes, split into
// chunks at places the input chooses, must never crash, and the replies must
// not depend on how the bytes were split.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "store_server/lmtp/session.h"

namespace {

class Handler : public mx::lmtp::Handler {
 public:
  std::string CheckRecipient(const std::string& a) override {
    return a.size() % 3 == 0 ? "550 5.1.1 no such mailbox" : "";
  }
  std::vector<std::string> Deliver(const std::string&, const std::vector<std::string>& r,
                                   const std::string& data) override {
    delivered += data;
    return std::vector<std::string>(r.size(), "250 2.0.0 OK");
  }
  std::string delivered;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  mx::lmtp::Limits limits;
  limits.max_line = 64;
  limits.max_message_size = 512;
  limits.max_recipients = 8;
  size_t step = 1 + data[0] % 17;
  std::string input(reinterpret_cast<const char*>(data + 1), size - 1);

  Handler h1, h2;
  mx::lmtp::Session whole(&h1, limits, "fuzz"), pieces(&h2, limits, "fuzz");
  std::string out1, out2;
  whole.Feed(input, &out1);
  for (size_t pos = 0; pos < input.size() && !pieces.done(); pos += step)
    pieces.Feed(std::string_view(input).substr(pos, step), &out2);
  if (out1 != out2 || h1.delivered != h2.delivered) std::abort();
  return 0;
}
