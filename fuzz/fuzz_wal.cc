// Fuzzes the transaction-log reader (RocksDB WAL records and write-batch
// headers), which parses files a damaged or hostile disk may hold.
#include <cstdint>

#include "store/log/wal.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  mx::store::WalFileInfo info = mx::store::ParseWal(data, size);
  (void)info;
  return 0;
}
