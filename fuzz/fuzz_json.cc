// The other repository JSON documents: config, key files, snapshots, locks.
#include <cstdint>

#include "repo/format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mx::repo;
  mx::Bytes b(data, data + size);
  (void)ParseConfig(b);
  (void)ParseKeyFile(b, "fuzz");
  (void)ParseLock(b, "fuzz");
  auto s = ParseSnapshot(b, "fuzz");
  if (s.ok()) {
    std::string again = SerializeSnapshot(*s);
    if (!ParseSnapshot(mx::Bytes(again.begin(), again.end()), "fuzz").ok()) __builtin_trap();
  }
  return 0;
}
