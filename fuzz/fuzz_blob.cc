// zstd frames as stored in packs and v2 repository files.
#include <cstdint>

#include "repo/compress.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mx::repo;
  (void)Decompress(data, size, 0, "fuzz");
  if (size > 4) (void)Decompress(data + 4, size - 4, data[0] | data[1] << 8, "fuzz");
  return 0;
}
