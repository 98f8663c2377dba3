// Index JSON: parse, and if it parses, serialize and parse again to the same value.
#include <cstdint>

#include "repo/format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mx::repo;
  auto r = ParseIndex(mx::Bytes(data, data + size), "fuzz");
  if (!r.ok()) return 0;
  std::string again = SerializeIndex(*r);
  auto r2 = ParseIndex(mx::Bytes(again.begin(), again.end()), "fuzz");
  if (!r2.ok() || r2->packs.size() != r->packs.size()) __builtin_trap();
  return 0;
}
