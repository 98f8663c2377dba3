#include "vault/mail/layout.h"

#include <algorithm>
#include <set>

#include "imap/response.h"

namespace mx::vault::mail {

std::string EscapeLevel(const std::string& level) {
  static const std::set<std::string> kReserved = {"cur", "new", "tmp", ".", "..", "", kAccountFile, kFolderFile,
                                                  kKeywordsFile};
  std::string out;
  auto hex = [&](unsigned char c) {
    static const char* d = "0123456789ABCDEF";
    out += '%';
    out += d[c >> 4];
    out += d[c & 15];
  };
  if (kReserved.count(level)) {
    if (level.empty()) return "%";
    hex(static_cast<unsigned char>(level[0]));
    out += level.substr(1);
    return out;
  }
  for (size_t i = 0; i < level.size(); ++i) {
    char c = level[i];
    if (c == '%' || c == '/' || c == '\0' || (i == 0 && c == '.')) hex(static_cast<unsigned char>(c));
    else out += c;
  }
  return out;
}

std::string UnescapeLevel(const std::string& dir) {
  if (dir == "%") return "";
  std::string out;
  for (size_t i = 0; i < dir.size(); ++i) {
    if (dir[i] == '%' && i + 2 < dir.size()) {
      auto v = [](char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1; };
      int hi = v(dir[i + 1]), lo = v(dir[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += char(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += dir[i];
  }
  return out;
}

std::string FolderPath(const std::string& name, char delimiter) {
  if (!delimiter) return EscapeLevel(name);
  std::string out;
  size_t start = 0;
  while (true) {
    size_t at = name.find(delimiter, start);
    if (!out.empty() || start > 0) out += '/';
    out += EscapeLevel(name.substr(start, at == std::string::npos ? std::string::npos : at - start));
    if (at == std::string::npos) break;
    start = at + 1;
  }
  return out;
}

nlohmann::json FolderToJson(const FolderMeta& f) {
  nlohmann::json msgs = nlohmann::json::array();
  for (const auto& m : f.messages)
    msgs.push_back({{"uid", m.uid}, {"file", m.file}, {"size", m.size}, {"internaldate", m.internaldate},
                    {"flags", m.flags}, {"modseq", m.modseq}});
  return {{"format", 1},
          {"name", f.name},
          {"server_name", f.server_name},
          {"delimiter", f.delimiter ? std::string(1, f.delimiter) : std::string()},
          {"attributes", f.attributes},
          {"special_use", SpecialUse(f.attributes)},
          {"selectable", f.selectable},
          {"uidvalidity", f.uidvalidity},
          {"uidnext", f.uidnext},
          {"highestmodseq", f.highestmodseq},
          {"messages", msgs}};
}

Result<FolderMeta> FolderFromJson(const std::string& text, const std::string& object) {
  try {
    auto j = nlohmann::json::parse(text);
    FolderMeta f;
    if (j.value("format", 0) != 1)
      return Error(Code::kUnsupported, "unknown mailbox folder metadata format", object,
                   "format " + j.value("format", nlohmann::json(0)).dump());
    f.name = j.at("name").get<std::string>();
    f.server_name = j.value("server_name", f.name);
    std::string d = j.value("delimiter", std::string());
    f.delimiter = d.empty() ? 0 : d[0];
    f.attributes = j.value("attributes", std::vector<std::string>{});
    f.selectable = j.value("selectable", true);
    f.uidvalidity = j.value("uidvalidity", 0u);
    f.uidnext = j.value("uidnext", 0u);
    f.highestmodseq = j.value("highestmodseq", uint64_t(0));
    for (const auto& m : j.at("messages")) {
      MessageMeta mm;
      mm.uid = m.at("uid").get<uint32_t>();
      mm.file = m.at("file").get<std::string>();
      mm.size = m.value("size", uint64_t(0));
      mm.internaldate = m.value("internaldate", std::string());
      mm.flags = m.value("flags", std::vector<std::string>{});
      mm.modseq = m.value("modseq", uint64_t(0));
      f.messages.push_back(std::move(mm));
    }
    return f;
  } catch (const std::exception& e) {
    return Error(Code::kBadFormat, "mailbox folder metadata is not valid", object, e.what());
  }
}

std::map<std::string, char> KeywordLetters(const std::vector<MessageMeta>& messages) {
  std::set<std::string> kws;
  for (const auto& m : messages)
    for (const auto& f : m.flags)
      if (!f.empty() && f[0] != '\\') kws.insert(f);
  std::map<std::string, char> out;
  char next = 'a';
  for (const auto& k : kws) {
    if (next > 'z') break;
    out[k] = next++;
  }
  return out;
}

std::string KeywordsFile(const std::map<std::string, char>& letters) {
  std::string out;
  for (const auto& [k, c] : letters) out += std::to_string(c - 'a') + " " + k + "\n";
  return out;
}

std::string MessageFileName(uint32_t uidvalidity, const MessageMeta& m, const std::map<std::string, char>& letters) {
  std::string sys, kw;
  for (const auto& f : m.flags) {
    std::string u = imap::AsciiUpper(f);
    if (u == "\\DRAFT") sys += 'D';
    else if (u == "\\FLAGGED") sys += 'F';
    else if (u == "\\ANSWERED") sys += 'R';
    else if (u == "\\SEEN") sys += 'S';
    else if (u == "\\DELETED") sys += 'T';
    else if (auto it = letters.find(f); it != letters.end()) kw += it->second;
  }
  std::sort(sys.begin(), sys.end());
  std::sort(kw.begin(), kw.end());
  return std::to_string(uidvalidity) + "-" + std::to_string(m.uid) + ".mxvault,S=" + std::to_string(m.size) +
         ",W=" + std::to_string(m.size) + ":2," + sys + kw;
}

std::string SpecialUse(const std::vector<std::string>& attributes) {
  for (const auto& a : attributes) {
    std::string u = imap::AsciiUpper(a);
    for (const char* s : {"\\ALL", "\\ARCHIVE", "\\DRAFTS", "\\FLAGGED", "\\JUNK", "\\SENT", "\\TRASH", "\\IMPORTANT"})
      if (u == s) return a;
  }
  return "";
}

}  // namespace mx::vault::mail
