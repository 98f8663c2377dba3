// Small byte helpers: hex, little-endian integers. Stateless, thread-safe.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mx {

using Bytes = std::vector<uint8_t>;

std::string ToHex(const uint8_t* data, size_t n);
inline std::string ToHex(const Bytes& b) { return ToHex(b.data(), b.size()); }
/// Lower- or upper-case hex of even length; nullopt otherwise.
std::optional<Bytes> FromHex(std::string_view hex);

std::string Base64Encode(const uint8_t* data, size_t n);
std::optional<Bytes> Base64Decode(std::string_view s);

inline uint32_t LoadLE32(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 |
         uint32_t(p[3]) << 24;
}
inline void StoreLE32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v); p[1] = uint8_t(v >> 8); p[2] = uint8_t(v >> 16); p[3] = uint8_t(v >> 24);
}

/// Human-readable size: "1.5 MiB".
std::string HumanBytes(uint64_t n);

}  // namespace mx
