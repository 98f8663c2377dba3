// Pack parsing: header entries (past the MAC) and whole sealed headers.
#include <cstdint>

#include "repo/pack.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mx::repo;
  mx::Bytes plain(data, data + size);
  auto r = ParseHeaderEntries(plain, size * 4, "fuzz");
  if (r.ok()) {
    for (const IndexBlob& b : *r)
      if (b.length < kCryptoOverhead) __builtin_trap();  // must have been rejected
  }
  // The sealed form: a fixed key, so most inputs fail the MAC; the length
  // checks before it are what this reaches.
  static const Key key = Key::Random();
  size_t need = 0;
  if (size >= 4) (void)ParsePackHeader(key, data, size, size, "fuzz", &need);
  return 0;
}
