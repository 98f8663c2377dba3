#include "store/mime/mime_tree.h"

#include <algorithm>

namespace mx::store {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  return out;
}

std::string Trim(std::string_view s) {
  size_t a = s.find_first_not_of(" \t\r\n");
  if (a == std::string_view::npos) return "";
  size_t b = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(a, b - a + 1));
}

// End of the line starting at `p` (after its LF), within [p, end).
size_t LineEnd(std::string_view m, size_t p, size_t end) {
  size_t lf = m.find('\n', p);
  return lf == std::string_view::npos || lf >= end ? end : lf + 1;
}

// Where the header block that starts at `begin` ends (after its blank line).
size_t HeaderEnd(std::string_view m, size_t begin, size_t end) {
  for (size_t p = begin; p < end;) {
    size_t e = LineEnd(m, p, end);
    std::string_view line = m.substr(p, e - p);
    if (line == "\r\n" || line == "\n") return e;
    p = e;
  }
  return end;
}

// "value; a=b; c=\"d e\"" → value and parameters (names lower case).
std::string ParseParams(std::string_view v, std::vector<std::pair<std::string, std::string>>* params) {
  std::vector<std::string> pieces;
  std::string cur;
  bool quoted = false;
  int comment = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    char c = v[i];
    if (quoted) {
      if (c == '\\' && i + 1 < v.size()) {
        cur += v[++i];
        continue;
      }
      if (c == '"') quoted = false;
      cur += c;
    } else if (comment > 0) {
      if (c == '(') ++comment;
      if (c == ')') --comment;
    } else if (c == '(') {
      ++comment;
    } else if (c == '"') {
      quoted = true;
      cur += c;
    } else if (c == ';') {
      pieces.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  pieces.push_back(cur);
  for (size_t i = 1; i < pieces.size(); ++i) {
    size_t eq = pieces[i].find('=');
    if (eq == std::string::npos) continue;
    std::string name = Lower(Trim(pieces[i].substr(0, eq)));
    std::string value = Trim(pieces[i].substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    if (!name.empty()) params->emplace_back(name, value);
  }
  return Trim(pieces[0]);
}

void CountLines(std::string_view m, MimePart* p) {
  if (p->body_end <= p->body_begin) return;
  std::string_view body = m.substr(p->body_begin, p->body_end - p->body_begin);
  p->body_lines = size_t(std::count(body.begin(), body.end(), '\n')) + (body.back() == '\n' ? 0 : 1);
}

struct Budget {
  size_t parts = 0;
};

MimePart Parse(std::string_view m, size_t begin, size_t end, int depth, bool digest_child, Budget& budget) {
  ++budget.parts;
  MimePart p;
  p.header_begin = begin;
  p.header_end = HeaderEnd(m, begin, end);
  p.body_begin = p.header_end;
  p.body_end = end;
  if (digest_child) {
    p.type = "message";
    p.subtype = "rfc822";
  }
  for (const auto& [name, value] : ParseHeaderFields(m.substr(begin, p.header_end - begin))) {
    std::string n = Lower(name);
    if (n == "content-type") {
      std::vector<std::pair<std::string, std::string>> params;
      std::string t = Lower(ParseParams(value, &params));
      size_t slash = t.find('/');
      if (slash != std::string::npos && slash > 0 && slash + 1 < t.size() && t.find_first_of(" \t") == std::string::npos) {
        p.type = t.substr(0, slash);
        p.subtype = t.substr(slash + 1);
        p.params = std::move(params);
      }
    } else if (n == "content-transfer-encoding") {
      p.encoding = Trim(value);
    } else if (n == "content-id") {
      p.id = Trim(value);
    } else if (n == "content-description") {
      p.description = Trim(value);
    } else if (n == "content-md5") {
      p.md5 = Trim(value);
    } else if (n == "content-language") {
      p.language = Trim(value);
    } else if (n == "content-location") {
      p.location = Trim(value);
    } else if (n == "content-disposition") {
      p.disposition = Lower(ParseParams(value, &p.disposition_params));
    }
  }
  if (p.type == "multipart" && depth < kMaxMimeDepth) {
    std::string boundary = p.param("boundary");
    if (!boundary.empty()) {
      std::string delim = "--" + boundary;
      std::vector<std::pair<size_t, size_t>> ranges;  // (part start, part end)
      size_t part_start = std::string::npos;
      bool closed = false;
      for (size_t q = p.body_begin; q < end && !closed;) {
        size_t e = LineEnd(m, q, end);
        std::string_view line = m.substr(q, e - q);
        if (line.substr(0, delim.size()) == delim) {
          std::string_view rest = line.substr(delim.size());
          bool close = rest.substr(0, 2) == "--";
          if (close) rest.remove_prefix(2);
          if (Trim(rest).empty()) {
            // The line break before a delimiter belongs to the delimiter.
            size_t before = q;
            if (before > p.body_begin && m[before - 1] == '\n') --before;
            if (before > p.body_begin && m[before - 1] == '\r') --before;
            if (part_start != std::string::npos) ranges.emplace_back(part_start, std::max(part_start, before));
            part_start = e;
            closed = close;
          }
        }
        q = e;
      }
      if (!closed && part_start != std::string::npos && part_start < end) ranges.emplace_back(part_start, end);
      bool digest = p.subtype == "digest";
      for (const auto& [a, b] : ranges) {
        if (budget.parts >= kMaxMimeParts) break;
        p.children.push_back(Parse(m, a, b, depth + 1, digest, budget));
      }
    }
    if (p.children.empty()) {  // a multipart without parts: read it as text, as RFC 2046 §5.1.7 asks for unknown
      p.type = "text";
      p.subtype = "plain";
      p.params.clear();
    }
  } else if (p.type == "message" && (p.subtype == "rfc822" || p.subtype == "global") && depth < kMaxMimeDepth &&
             budget.parts < kMaxMimeParts) {
    p.message.push_back(Parse(m, p.body_begin, p.body_end, depth + 1, false, budget));
  } else if (p.type == "multipart") {
    p.type = "text";
    p.subtype = "plain";
    p.params.clear();
  }
  CountLines(m, &p);
  return p;
}

}  // namespace

size_t HeaderBlockEnd(std::string_view message) { return HeaderEnd(message, 0, message.size()); }

std::string MimePart::param(const std::string& name) const {
  for (const auto& [n, v] : params)
    if (n == name) return v;
  return "";
}

std::vector<std::pair<std::string, std::string>> ParseHeaderFields(std::string_view header) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t p = 0;
  while (p < header.size()) {
    size_t e = LineEnd(header, p, header.size());
    std::string_view line = header.substr(p, e - p);
    p = e;
    if (line == "\r\n" || line == "\n") break;
    if ((line[0] == ' ' || line[0] == '\t') && !out.empty()) {
      std::string cont(line);
      while (!cont.empty() && (cont.back() == '\n' || cont.back() == '\r')) cont.pop_back();
      out.back().second += cont;
      continue;
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string value(line.substr(colon + 1));
    while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) value.pop_back();
    out.emplace_back(Trim(line.substr(0, colon)), value);
  }
  for (auto& f : out) f.second = Trim(f.second);
  return out;
}

MimePart ParseMimeTree(std::string_view message) {
  Budget budget;
  return Parse(message, 0, message.size(), 0, false, budget);
}

const MimePart* FindMimePart(const MimePart& root, const std::vector<int>& path) {
  const MimePart* cur = &root;
  bool at_message = true;  // `cur` is a message (the root or an embedded one)
  for (size_t i = 0; i < path.size(); ++i) {
    int n = path[i];
    if (n < 1) return nullptr;
    if (cur->multipart()) {
      if (size_t(n) > cur->children.size()) return nullptr;
      cur = &cur->children[size_t(n) - 1];
    } else if (at_message) {
      if (n != 1) return nullptr;  // part 1 of a single-part message is its body
    } else {
      return nullptr;
    }
    at_message = false;
    if (i + 1 < path.size() && !cur->multipart()) {
      if (cur->message.empty()) return nullptr;
      cur = &cur->message[0];
      at_message = true;
    }
  }
  return cur;
}

}  // namespace mx::store
