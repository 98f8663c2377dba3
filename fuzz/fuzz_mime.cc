// Fuzzes the store's MIME tree (store/mime/mime_tree.h): any bytes give a
// tree (never a crash) whose every offset lies inside the message, whose
// parts nest inside their parents, and whose section lookups stay in bounds.
#include <cstdint>
#include <string>

#include "store/mime/mime_tree.h"

namespace {

void Walk(const mx::store::MimePart& p, size_t lo, size_t hi, size_t* count) {
  if (++*count > 3 * mx::store::kMaxMimeParts) __builtin_trap();
  if (!(lo <= p.header_begin && p.header_begin <= p.header_end && p.header_end <= p.body_begin &&
        p.body_begin <= p.body_end && p.body_end <= hi))
    __builtin_trap();
  for (const auto& c : p.children) Walk(c, p.body_begin, p.body_end, count);
  for (const auto& m : p.message) Walk(m, p.body_begin, p.body_end, count);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  mx::store::MimePart root = mx::store::ParseMimeTree(text);
  size_t count = 0;
  Walk(root, 0, text.size(), &count);
  for (int a = 0; a < 4; ++a)
    for (int b = 0; b < 4; ++b) {
      const mx::store::MimePart* p = mx::store::FindMimePart(root, {a, b});
      if (p && p->body_end > text.size()) __builtin_trap();
    }
  (void)mx::store::ParseHeaderFields(text.substr(0, root.header_end));
  return 0;
}
