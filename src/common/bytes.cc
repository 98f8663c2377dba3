#include "common/bytes.h"

#include <cstdio>

namespace mx {

std::string ToHex(const uint8_t* data, size_t n) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[data[i] >> 4];
    out[2 * i + 1] = kDigits[data[i] & 15];
  }
  return out;
}

static int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<Bytes> FromHex(std::string_view hex) {
  if (hex.size() % 2) return std::nullopt;
  Bytes out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = HexValue(hex[2 * i]), lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = uint8_t(hi << 4 | lo);
  }
  return out;
}

static const char kB64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string Base64Encode(const uint8_t* d, size_t n) {
  std::string out;
  out.reserve((n + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < n; i += 3) {
    uint32_t v = d[i] << 16 | d[i + 1] << 8 | d[i + 2];
    out += kB64[v >> 18]; out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63]; out += kB64[v & 63];
  }
  if (i + 1 == n) {
    uint32_t v = d[i] << 16;
    out += kB64[v >> 18]; out += kB64[(v >> 12) & 63]; out += "==";
  } else if (i + 2 == n) {
    uint32_t v = d[i] << 16 | d[i + 1] << 8;
    out += kB64[v >> 18]; out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63]; out += '=';
  }
  return out;
}

std::optional<Bytes> Base64Decode(std::string_view s) {
  int8_t table[256];
  std::memset(table, -1, sizeof(table));
  for (int i = 0; i < 64; ++i) table[uint8_t(kB64[i])] = int8_t(i);
  table[uint8_t('-')] = 62;  // accept the URL alphabet too
  table[uint8_t('_')] = 63;
  Bytes out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : s) {
    if (c == '=') break;
    int v = table[uint8_t(c)];
    if (v < 0) return std::nullopt;
    acc = acc << 6 | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(uint8_t(acc >> bits));
    }
  }
  return out;
}

std::string HumanBytes(uint64_t n) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = double(n);
  int u = 0;
  while (v >= 1024 && u < 5) { v /= 1024; ++u; }
  char buf[32];
  if (u == 0) std::snprintf(buf, sizeof(buf), "%llu B", (unsigned long long)n);
  else std::snprintf(buf, sizeof(buf), "%.3g %s", v, kUnits[u]);
  return buf;
}

}  // namespace mx
