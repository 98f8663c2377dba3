// Id: a SHA-256 value naming a blob or a repository file. Value type.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace mx::repo {

struct Id {
  std::array<uint8_t, 32> bytes{};

  static std::optional<Id> FromHex(std::string_view hex);
  /// SHA-256 of `data`.
  static Id Hash(const uint8_t* data, size_t n);
  std::string Hex() const;
  /// The first 8 hex digits, as restic shows ids.
  std::string Short() const { return Hex().substr(0, 8); }
  bool IsZero() const;

  auto operator<=>(const Id&) const = default;
  bool operator==(const Id&) const = default;
};

struct IdHash {
  size_t operator()(const Id& id) const {
    size_t h;
    std::memcpy(&h, id.bytes.data(), sizeof(h));  // already uniformly random
    return h;
  }
};

}  // namespace mx::repo
