#include "imap/command.h"

#include <algorithm>
#include <charconv>

#include "imap/utf7.h"

namespace mx::imap {

bool IsAtom(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7F || c == '(' || c == ')' || c == '{' || c == '%' || c == '*' || c == '"' || c == '\\' ||
        c == ']')
      return false;
  }
  return !(s.size() == 3 && (s[0] | 0x20) == 'n' && (s[1] | 0x20) == 'i' && (s[2] | 0x20) == 'l');
}

Command& Command::Raw(std::string_view s) {
  text_ += ' ';
  text_ += s;
  return *this;
}

Command& Command::AString(std::string_view s) {
  if (IsAtom(s)) return Raw(s);
  return String(s);
}

Command& Command::String(std::string_view s) {
  bool quotable = s.size() <= 1024 && std::none_of(s.begin(), s.end(), [](char c) {
                    auto u = static_cast<unsigned char>(c);
                    return u == 0 || c == '\r' || c == '\n' || u >= 0x80;
                  });
  if (!quotable) return Literal(s);
  text_ += " \"";
  for (char c : s) {
    if (c == '"' || c == '\\') text_ += '\\';
    text_ += c;
  }
  text_ += '"';
  return *this;
}

Command& Command::Literal(std::string_view data) {
  text_ += ' ';
  literals_.push_back(Lit{text_.size(), std::string(data)});
  return *this;
}

Command& Command::Mailbox(std::string_view utf8) {
  if (utf8.size() == 5 && std::equal(utf8.begin(), utf8.end(), "INBOX", [](char a, char b) { return (a & ~0x20) == b; }))
    return Raw("INBOX");
  return AString(EncodeMailboxName(utf8));
}

std::vector<Command::Segment> Command::Serialize(std::string_view tag, bool literal_plus, bool literal_minus) const {
  std::vector<Segment> out(1);
  out[0].bytes.append(tag).append(" ");
  size_t from = 0;
  for (const auto& lit : literals_) {
    out.back().bytes.append(text_, from, lit.at - from);
    from = lit.at;
    bool plus = literal_plus || (literal_minus && lit.data.size() <= 4096);
    out.back().bytes += "{" + std::to_string(lit.data.size()) + (plus ? "+}\r\n" : "}\r\n");
    if (!plus) {
      out.back().wait_for_continuation = true;
      out.emplace_back();
    }
    out.back().bytes += lit.data;
  }
  out.back().bytes.append(text_, from, std::string::npos);
  out.back().bytes += "\r\n";
  return out;
}

std::string Command::Debug() const {
  std::string out;
  size_t from = 0;
  for (const auto& lit : literals_) {
    out.append(text_, from, lit.at - from);
    from = lit.at;
    out += "{" + std::to_string(lit.data.size()) + "}";
  }
  out.append(text_, from, std::string::npos);
  return out;
}

std::string SequenceSet(const std::vector<uint32_t>& v) {
  std::string out;
  for (size_t i = 0; i < v.size();) {
    size_t j = i;
    while (j + 1 < v.size() && v[j + 1] == v[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += std::to_string(v[i]);
    if (j > i) out += ":" + std::to_string(v[j]);
    i = j + 1;
  }
  return out;
}

bool ParseSequenceRanges(std::string_view s, uint32_t star, std::vector<std::pair<uint32_t, uint32_t>>* out) {
  auto num = [star](std::string_view t, uint32_t* v) {
    if (t == "*") {
      *v = star;
      return star > 0;
    }
    if (t.empty()) return false;
    auto r = std::from_chars(t.data(), t.data() + t.size(), *v);
    return r.ec == std::errc() && r.ptr == t.data() + t.size() && *v > 0;
  };
  if (s.empty()) return false;
  while (!s.empty()) {
    size_t comma = s.find(',');
    std::string_view part = s.substr(0, comma);
    s = comma == std::string_view::npos ? std::string_view() : s.substr(comma + 1);
    if (comma != std::string_view::npos && s.empty()) return false;
    size_t colon = part.find(':');
    uint32_t a, b;
    if (colon == std::string_view::npos) {
      if (!num(part, &a)) return false;
      b = a;
    } else if (!num(part.substr(0, colon), &a) || !num(part.substr(colon + 1), &b)) {
      return false;
    }
    out->emplace_back(std::min(a, b), std::max(a, b));
  }
  return true;
}

bool InRanges(const std::vector<std::pair<uint32_t, uint32_t>>& ranges, uint32_t v) {
  for (const auto& [a, b] : ranges)
    if (v >= a && v <= b) return true;
  return false;
}

bool ParseSequenceSet(std::string_view s, std::vector<uint32_t>* out, size_t limit) {
  std::vector<std::pair<uint32_t, uint32_t>> ranges;
  if (s.empty()) return true;  // as before: an empty set is no UIDs
  if (!ParseSequenceRanges(s, 0, &ranges)) return false;
  for (const auto& [a, b] : ranges) {
    if (out->size() + (uint64_t(b) - a + 1) > limit) return false;
    for (uint64_t x = a; x <= b; ++x) out->push_back(uint32_t(x));
  }
  return true;
}

}  // namespace mx::imap
