// Tree JSON: parse; a parsed tree serializes and parses back with the same
// node count, names (valid UTF-8 ones) and content ids.
#include <cstdint>

#include "repo/format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mx::repo;
  auto r = ParseTree(mx::Bytes(data, data + size), "fuzz");
  if (!r.ok()) return 0;
  for (const Node& n : r->nodes) (void)UnsafeNameReason(n.name);
  std::string again = SerializeTree(*r);
  auto r2 = ParseTree(mx::Bytes(again.begin(), again.end()), "fuzz");
  if (!r2.ok() || r2->nodes.size() != r->nodes.size()) __builtin_trap();
  for (size_t i = 0; i < r->nodes.size(); ++i)
    if (r2->nodes[i].content != r->nodes[i].content) __builtin_trap();
  return 0;
}
