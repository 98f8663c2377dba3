#include "imap/utf7.h"

#include <cstdint>
#include <cstdio>
#include <vector>

namespace mx::imap {
namespace {

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

int B64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == ',') return 63;
  return -1;
}

// Next code point of UTF-8 text at `i`; U+FFFD for a malformed sequence
// (consumes one byte).
char32_t NextCodePoint(std::string_view s, size_t& i) {
  auto b = static_cast<unsigned char>(s[i]);
  int len = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
  if (len == 0 || i + len > s.size()) {
    ++i;
    return 0xFFFD;
  }
  char32_t cp = len == 1 ? b : len == 2 ? (b & 0x1F) : len == 3 ? (b & 0x0F) : (b & 0x07);
  for (int k = 1; k < len; ++k) {
    auto c = static_cast<unsigned char>(s[i + k]);
    if ((c & 0xC0) != 0x80) {
      ++i;
      return 0xFFFD;
    }
    cp = (cp << 6) | (c & 0x3F);
  }
  static const char32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    ++i;
    return 0xFFFD;
  }
  i += len;
  return cp;
}

void AppendUtf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

void FlushRun(std::string& out, std::vector<uint16_t>& units) {
  if (units.empty()) return;
  out += '&';
  uint32_t bits = 0;
  int nbits = 0;
  for (uint16_t u : units) {
    bits = (bits << 16) | u;
    nbits += 16;
    while (nbits >= 6) {
      nbits -= 6;
      out += kB64[(bits >> nbits) & 0x3F];
    }
    bits &= (1u << nbits) - 1;
  }
  if (nbits > 0) out += kB64[(bits << (6 - nbits)) & 0x3F];
  out += '-';
  units.clear();
}

Error Bad(std::string_view name, size_t pos, std::string why) {
  return Error(Code::kProtocol, "invalid modified UTF-7 mailbox name", std::string(name),
               why + " at byte " + std::to_string(pos),
               "the server sent a name RFC 3501 §5.1.3 does not allow; rename the folder on the server");
}

}  // namespace

std::string EncodeMailboxName(std::string_view utf8) {
  std::string out;
  out.reserve(utf8.size() + 8);
  std::vector<uint16_t> units;
  size_t i = 0;
  while (i < utf8.size()) {
    char32_t cp = NextCodePoint(utf8, i);
    if (cp >= 0x20 && cp <= 0x7E) {
      FlushRun(out, units);
      out += char(cp);
      if (cp == '&') out += '-';
      continue;
    }
    if (cp >= 0x10000) {
      char32_t v = cp - 0x10000;
      units.push_back(uint16_t(0xD800 | (v >> 10)));
      units.push_back(uint16_t(0xDC00 | (v & 0x3FF)));
    } else {
      units.push_back(uint16_t(cp));
    }
  }
  FlushRun(out, units);
  return out;
}

Result<std::string> DecodeMailboxName(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  size_t last_run_end = std::string_view::npos;  // position just after the last "-" of a run
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c > 0x7E) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02x", unsigned(c));
      return Bad(s, i, std::string("a raw byte ") + hex);
    }
    if (c != '&') {
      out += char(c);
      ++i;
      continue;
    }
    size_t start = i;
    ++i;
    if (i < s.size() && s[i] == '-') {
      out += '&';
      ++i;
      continue;
    }
    if (last_run_end == start) return Bad(s, start, "two encoded runs back to back");
    uint32_t bits = 0;
    int nbits = 0;
    uint16_t high = 0;  // pending high surrogate
    size_t nunits = 0;
    while (true) {
      if (i >= s.size()) return Bad(s, start, "an encoded run without its closing '-'");
      if (s[i] == '-') break;
      int v = B64Value(s[i]);
      if (v < 0) return Bad(s, i, std::string("'") + s[i] + "' inside an encoded run");
      bits = (bits << 6) | uint32_t(v);
      nbits += 6;
      if (nbits >= 16) {
        nbits -= 16;
        auto u = uint16_t((bits >> nbits) & 0xFFFF);
        bits &= (1u << nbits) - 1;
        ++nunits;
        if (high) {
          if (u < 0xDC00 || u > 0xDFFF) return Bad(s, i, "a high surrogate without its low half");
          AppendUtf8(out, 0x10000 + ((char32_t(high - 0xD800) << 10) | (u - 0xDC00)));
          high = 0;
        } else if (u >= 0xD800 && u <= 0xDBFF) {
          high = u;
        } else if (u >= 0xDC00 && u <= 0xDFFF) {
          return Bad(s, i, "a lone low surrogate");
        } else if (u >= 0x20 && u <= 0x7E) {
          return Bad(s, i, "printable ASCII written encoded");
        } else {
          AppendUtf8(out, u);
        }
      }
      ++i;
    }
    if (nunits == 0) return Bad(s, start, "an empty encoded run");
    if (high) return Bad(s, i, "a high surrogate at the end of a run");
    if (nbits >= 6 || bits != 0) return Bad(s, i, "non-zero padding bits");
    ++i;  // the '-'
    last_run_end = i;
  }
  return out;
}

}  // namespace mx::imap
