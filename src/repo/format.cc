#include "repo/format.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace mx::repo {
using json = nlohmann::json;

const char* BlobTypeName(BlobType t) { return t == BlobType::kTree ? "tree" : "data"; }

namespace {

Error Bad(const std::string& what, const std::string& object, const std::string& cause) {
  return Error(Code::kBadFormat, what, object, cause);
}

// Parses JSON, turning nlohmann's exceptions into BAD_FORMAT.
Result<json> ParseJson(const Bytes& data, const std::string& what, const std::string& object) {
  json j = json::parse(data.begin(), data.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Bad(what, object, "not valid JSON");
  if (!j.is_object()) return Bad(what, object, "JSON value is not an object");
  return j;
}

std::string Str(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return {};
  if (!it->is_string()) throw std::runtime_error(std::string("field '") + key + "' is not a string");
  return it->get<std::string>();
}

template <class T>
T Num(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return T{};
  if (!it->is_number_integer() && !it->is_number_unsigned())
    throw std::runtime_error(std::string("field '") + key + "' is not an integer");
  if (it->is_number_unsigned()) return T(it->get<uint64_t>());
  int64_t v = it->get<int64_t>();
  if (v < 0 && std::is_unsigned_v<T>)
    throw std::runtime_error(std::string("field '") + key + "' is negative");
  return T(v);
}

Id ParseIdField(const json& v, const char* key) {
  if (!v.is_string()) throw std::runtime_error(std::string("field '") + key + "' is not a string");
  auto id = Id::FromHex(v.get<std::string>());
  if (!id) throw std::runtime_error(std::string("field '") + key + "' is not a 64-digit hex id");
  return *id;
}

Timestamp TimeField(const json& j, const char* key) {
  std::string s = Str(j, key);
  if (s.empty()) return {};
  auto t = ParseRfc3339(s);
  if (!t) throw std::runtime_error(std::string("field '") + key + "' is not an RFC 3339 time: " + s);
  return *t;
}

std::vector<std::string> Strings(const json& j, const char* key) {
  std::vector<std::string> out;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return out;
  if (!it->is_array()) throw std::runtime_error(std::string("field '") + key + "' is not an array");
  for (auto& v : *it) {
    if (!v.is_string()) throw std::runtime_error(std::string("field '") + key + "' has a non-string");
    out.push_back(v.get<std::string>());
  }
  return out;
}

template <class F>
auto Guard(const std::string& what, const std::string& object, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const std::exception& e) {
    return Bad(what, object, e.what());
  }
}

}  // namespace

Result<RepoConfig> ParseConfig(const Bytes& data) {
  auto j = MX_TRY(ParseJson(data, "invalid repository config", "config"));
  return Guard("invalid repository config", "config", [&]() -> Result<RepoConfig> {
    RepoConfig c;
    c.version = Num<int>(j, "version");
    c.id = Str(j, "id");
    std::string pol = Str(j, "chunker_polynomial");
    if (pol.empty()) throw std::runtime_error("chunker_polynomial is missing");
    c.chunker_polynomial = std::stoull(pol, nullptr, 16);
    if (PolDeg(c.chunker_polynomial) != 53)
      throw std::runtime_error("chunker_polynomial " + pol + " does not have degree 53");
    return c;
  });
}

std::string SerializeConfig(const RepoConfig& c) {
  char pol[32];
  std::snprintf(pol, sizeof(pol), "%llx", (unsigned long long)c.chunker_polynomial);
  json j = {{"version", c.version}, {"id", c.id}, {"chunker_polynomial", pol}};
  return j.dump();
}

Result<KeyFile> ParseKeyFile(const Bytes& data, const std::string& object) {
  auto j = MX_TRY(ParseJson(data, "invalid key file", object));
  return Guard("invalid key file", object, [&]() -> Result<KeyFile> {
    KeyFile k;
    k.created = Str(j, "created");
    k.username = Str(j, "username");
    k.hostname = Str(j, "hostname");
    k.kdf = Str(j, "kdf");
    if (k.kdf != "scrypt") throw std::runtime_error("unknown kdf '" + k.kdf + "'");
    k.n = Num<uint64_t>(j, "N");
    k.r = Num<uint32_t>(j, "r");
    k.p = Num<uint32_t>(j, "p");
    auto salt = Base64Decode(Str(j, "salt"));
    auto d = Base64Decode(Str(j, "data"));
    if (!salt || salt->empty()) throw std::runtime_error("salt is not base64");
    if (!d || d->empty()) throw std::runtime_error("data is not base64");
    k.salt = *salt;
    k.data = *d;
    return k;
  });
}

std::string SerializeKeyFile(const KeyFile& k) {
  json j = {{"created", k.created}, {"username", k.username}, {"hostname", k.hostname},
            {"kdf", k.kdf}, {"N", k.n}, {"r", k.r}, {"p", k.p},
            {"salt", Base64Encode(k.salt.data(), k.salt.size())},
            {"data", Base64Encode(k.data.data(), k.data.size())}};
  return j.dump();
}

Result<Snapshot> ParseSnapshot(const Bytes& data, const std::string& object) {
  auto j = MX_TRY(ParseJson(data, "invalid snapshot", object));
  return Guard("invalid snapshot", object, [&]() -> Result<Snapshot> {
    Snapshot s;
    s.time = TimeField(j, "time");
    (void)ParseRfc3339(Str(j, "time"), &s.time_offset);
    if (j.contains("parent") && !j["parent"].is_null()) s.parent = ParseIdField(j["parent"], "parent");
    if (!j.contains("tree") || j["tree"].is_null()) throw std::runtime_error("field 'tree' is missing");
    s.tree = ParseIdField(j["tree"], "tree");
    s.paths = Strings(j, "paths");
    s.hostname = Str(j, "hostname");
    s.username = Str(j, "username");
    s.uid = Num<uint32_t>(j, "uid");
    s.gid = Num<uint32_t>(j, "gid");
    s.excludes = Strings(j, "excludes");
    s.tags = Strings(j, "tags");
    if (j.contains("original") && !j["original"].is_null())
      s.original = ParseIdField(j["original"], "original");
    s.program_version = Str(j, "program_version");
    return s;
  });
}

std::string SerializeSnapshot(const Snapshot& s) {
  json j;
  j["time"] = FormatRfc3339(s.time);
  if (s.parent) j["parent"] = s.parent->Hex();
  j["tree"] = s.tree.Hex();
  j["paths"] = s.paths;
  j["hostname"] = s.hostname;
  j["username"] = s.username;
  j["uid"] = s.uid;
  j["gid"] = s.gid;
  if (!s.excludes.empty()) j["excludes"] = s.excludes;
  if (!s.tags.empty()) j["tags"] = s.tags;
  if (s.original) j["original"] = s.original->Hex();
  if (!s.program_version.empty()) j["program_version"] = s.program_version;
  return j.dump();
}

uint32_t GoModeFromPosix(uint32_t m) {
  uint32_t g = m & 0777;
  if (m & S_ISUID) g |= kGoModeSetuid;
  if (m & S_ISGID) g |= kGoModeSetgid;
  if (m & S_ISVTX) g |= kGoModeSticky;
  switch (m & S_IFMT) {
    case S_IFDIR: g |= kGoModeDir; break;
    case S_IFLNK: g |= kGoModeSymlink; break;
    case S_IFBLK: g |= kGoModeDevice; break;
    case S_IFCHR: g |= kGoModeDevice | kGoModeCharDevice; break;
    case S_IFIFO: g |= kGoModeNamedPipe; break;
    case S_IFSOCK: g |= kGoModeSocket; break;
  }
  return g;
}

uint32_t PosixPermFromGoMode(uint32_t g) {
  uint32_t m = g & 0777;
  if (g & kGoModeSetuid) m |= S_ISUID;
  if (g & kGoModeSetgid) m |= S_ISGID;
  if (g & kGoModeSticky) m |= S_ISVTX;
  return m;
}

std::string UnsafeNameReason(const std::string& name) {
  if (name.empty()) return "empty name";
  if (name == "." || name == "..") return "name '" + name + "' refers to a directory itself";
  if (name.find('/') != std::string::npos) return "name contains '/'";
  if (name.find('\0') != std::string::npos) return "name contains a NUL byte";
  return {};
}

namespace {
// Decodes one UTF-8 sequence at s[i]; returns its length (0 if invalid).
size_t Utf8Seq(const std::string& s, size_t i, uint32_t* cp) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  unsigned char c = p[i];
  size_t len = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
  if (len == 0 || i + len > s.size() || c > 0xF4) return 0;
  uint32_t v = len == 1 ? c : c & (0xFF >> (len + 1));
  for (size_t k = 1; k < len; ++k) {
    if ((p[i + k] & 0xC0) != 0x80) return 0;
    v = v << 6 | (p[i + k] & 0x3F);
  }
  if ((len == 2 && v < 0x80) || (len == 3 && v < 0x800) || (len == 4 && (v < 0x10000 || v > 0x10FFFF)) ||
      (v >= 0xD800 && v <= 0xDFFF))
    return 0;
  *cp = v;
  return len;
}

// Go's unicode.IsPrint is false for controls, separators other than ASCII
// space, format characters, private use and unassigned code points. We escape
// the common non-printable ranges; anything else is written literally, which
// strconv.Unquote accepts all the same (only tree-blob byte identity with
// restic could differ, for exotic code points).
bool GoPrintable(uint32_t cp) {
  if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0xA0) || cp == 0xAD) return false;
  if (cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200F) || (cp >= 0x2028 && cp <= 0x202F) ||
      (cp >= 0x205F && cp <= 0x206F) || cp == 0x3000 || cp == 0xFEFF || (cp >= 0xFFF9 && cp <= 0xFFFB))
    return false;
  if ((cp >= 0xE000 && cp <= 0xF8FF) || cp >= 0xF0000 || cp == 0xFFFE || cp == 0xFFFF) return false;
  return true;
}
}  // namespace

std::string GoQuote(const std::string& s) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    uint32_t cp = 0;
    size_t len = Utf8Seq(s, i, &cp);
    if (len == 0) {  // invalid UTF-8 byte
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
      ++i;
      continue;
    }
    if (cp == '"' || cp == '\\') {
      out.push_back('\\');
      out.push_back(char(cp));
    } else if (GoPrintable(cp)) {
      out.append(s, i, len);
    } else {
      switch (cp) {
        case '\a': out += "\\a"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\v': out += "\\v"; break;
        default: {
          char buf[16];
          if (cp < 0x20 || cp == 0x7F) std::snprintf(buf, sizeof(buf), "\\x%02x", cp);
          else if (cp < 0x10000) std::snprintf(buf, sizeof(buf), "\\u%04x", cp);
          else std::snprintf(buf, sizeof(buf), "\\U%08x", cp);
          out += buf;
        }
      }
    }
    i += len;
  }
  return out;
}

std::optional<std::string> GoUnquote(const std::string& q) {
  auto hexval = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  auto put_utf8 = [](std::string* o, uint32_t cp) {
    if (cp < 0x80) { o->push_back(char(cp)); }
    else if (cp < 0x800) { o->push_back(char(0xC0 | cp >> 6)); o->push_back(char(0x80 | (cp & 0x3F))); }
    else if (cp < 0x10000) { o->push_back(char(0xE0 | cp >> 12)); o->push_back(char(0x80 | ((cp >> 6) & 0x3F))); o->push_back(char(0x80 | (cp & 0x3F))); }
    else { o->push_back(char(0xF0 | cp >> 18)); o->push_back(char(0x80 | ((cp >> 12) & 0x3F))); o->push_back(char(0x80 | ((cp >> 6) & 0x3F))); o->push_back(char(0x80 | (cp & 0x3F))); }
  };
  std::string out;
  out.reserve(q.size());
  for (size_t i = 0; i < q.size(); ++i) {
    char c = q[i];
    if (c == '"' || c == '\n') return std::nullopt;  // must have been escaped
    if (c != '\\') { out.push_back(c); continue; }
    if (++i >= q.size()) return std::nullopt;
    switch (q[i]) {
      case 'a': out.push_back('\a'); break;
      case 'b': out.push_back('\b'); break;
      case 'f': out.push_back('\f'); break;
      case 'n': out.push_back('\n'); break;
      case 'r': out.push_back('\r'); break;
      case 't': out.push_back('\t'); break;
      case 'v': out.push_back('\v'); break;
      case '\\': out.push_back('\\'); break;
      case '"': out.push_back('"'); break;
      case '\'': return std::nullopt;  // only valid in single-quoted literals
      case 'x': {
        if (i + 2 >= q.size()) return std::nullopt;
        int h = hexval(q[i + 1]), l = hexval(q[i + 2]);
        if (h < 0 || l < 0) return std::nullopt;
        out.push_back(char(h << 4 | l));
        i += 2;
        break;
      }
      case 'u': case 'U': {
        size_t n = q[i] == 'u' ? 4 : 8;
        if (i + n >= q.size()) return std::nullopt;
        uint32_t cp = 0;
        for (size_t k = 1; k <= n; ++k) {
          int v = hexval(q[i + k]);
          if (v < 0) return std::nullopt;
          cp = cp << 4 | uint32_t(v);
        }
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return std::nullopt;
        put_utf8(&out, cp);
        i += n;
        break;
      }
      default: {
        if (q[i] >= '0' && q[i] <= '7') {  // \NNN octal byte
          if (i + 2 >= q.size()) return std::nullopt;
          int v = 0;
          for (size_t k = 0; k < 3; ++k) {
            char d = q[i + k];
            if (d < '0' || d > '7') return std::nullopt;
            v = v * 8 + (d - '0');
          }
          if (v > 255) return std::nullopt;
          out.push_back(char(v));
          i += 2;
          break;
        }
        return std::nullopt;
      }
    }
  }
  return out;
}

Result<Tree> ParseTree(const Bytes& data, const std::string& object) {
  auto j = MX_TRY(ParseJson(data, "invalid tree", object));
  return Guard("invalid tree", object, [&]() -> Result<Tree> {
    Tree t;
    auto it = j.find("nodes");
    if (it == j.end() || it->is_null()) return t;
    if (!it->is_array()) throw std::runtime_error("field 'nodes' is not an array");
    t.nodes.reserve(it->size());
    for (auto& n : *it) {
      if (!n.is_object()) throw std::runtime_error("a node is not an object");
      Node node;
      auto name = GoUnquote(Str(n, "name"));
      if (!name) throw std::runtime_error("a node name is not a valid Go-quoted string");
      node.name = std::move(*name);
      node.type = Str(n, "type");
      node.mode = Num<uint32_t>(n, "mode");
      node.mtime = TimeField(n, "mtime");
      node.atime = TimeField(n, "atime");
      node.ctime = TimeField(n, "ctime");
      node.uid = Num<uint32_t>(n, "uid");
      node.gid = Num<uint32_t>(n, "gid");
      node.user = Str(n, "user");
      node.group = Str(n, "group");
      node.inode = Num<uint64_t>(n, "inode");
      node.device_id = Num<uint64_t>(n, "device_id");
      node.size = Num<uint64_t>(n, "size");
      node.links = Num<uint64_t>(n, "links");
      node.linktarget = Str(n, "linktarget");
      node.device = Num<uint64_t>(n, "device");
      node.error = Str(n, "error");
      if (auto c = n.find("content"); c != n.end() && !c->is_null()) {
        if (!c->is_array()) throw std::runtime_error("field 'content' is not an array");
        node.content.reserve(c->size());
        for (auto& id : *c) node.content.push_back(ParseIdField(id, "content"));
      }
      if (auto s = n.find("subtree"); s != n.end() && !s->is_null())
        node.subtree = ParseIdField(*s, "subtree");
      t.nodes.push_back(std::move(node));
    }
    return t;
  });
}

void AppendJsonString(std::string* out, const std::string& s) {
  static const char kHex[] = "0123456789abcdef";
  out->push_back('"');
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size();
  for (size_t i = 0; i < n;) {
    unsigned char c = p[i];
    if (c < 0x80) {
      switch (c) {
        case '"': *out += "\\\""; break;
        case '\\': *out += "\\\\"; break;
        case '\n': *out += "\\n"; break;
        case '\r': *out += "\\r"; break;
        case '\t': *out += "\\t"; break;
        case '<': case '>': case '&':
          *out += "\\u00"; out->push_back(kHex[c >> 4]); out->push_back(kHex[c & 15]); break;
        default:
          if (c < 0x20) {
            *out += "\\u00"; out->push_back(kHex[c >> 4]); out->push_back(kHex[c & 15]);
          } else {
            out->push_back(char(c));
          }
      }
      ++i;
      continue;
    }
    // Validate one UTF-8 sequence.
    size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
    bool ok = len > 0 && i + len <= n && c <= 0xF4;
    uint32_t cp = 0;
    if (ok) {
      cp = c & (0xFF >> (len + 1));
      for (size_t k = 1; k < len; ++k) {
        if ((p[i + k] & 0xC0) != 0x80) { ok = false; break; }
        cp = cp << 6 | (p[i + k] & 0x3F);
      }
      if (ok && ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
                 (cp >= 0xD800 && cp <= 0xDFFF)))
        ok = false;
    }
    if (!ok) {
      *out += "\\ufffd";
      ++i;
      continue;
    }
    if (cp == 0x2028 || cp == 0x2029) {
      *out += cp == 0x2028 ? "\\u2028" : "\\u2029";
    } else {
      out->append(s, i, len);
    }
    i += len;
  }
  out->push_back('"');
}

namespace {
void AppendField(std::string* o, const char* key) {
  o->push_back(',');
  o->push_back('"');
  *o += key;
  *o += "\":";
}
}  // namespace

std::string SerializeTree(const Tree& t) {
  std::string o = "{\"nodes\":[";
  bool first = true;
  for (const Node& n : t.nodes) {
    if (!first) o.push_back(',');
    first = false;
    o += "{\"name\":";
    AppendJsonString(&o, GoQuote(n.name));
    AppendField(&o, "type");
    AppendJsonString(&o, n.type);
    if (n.mode) { AppendField(&o, "mode"); o += std::to_string(n.mode); }
    AppendField(&o, "mtime"); AppendJsonString(&o, FormatRfc3339Utc(n.mtime));
    AppendField(&o, "atime"); AppendJsonString(&o, FormatRfc3339Utc(n.atime));
    AppendField(&o, "ctime"); AppendJsonString(&o, FormatRfc3339Utc(n.ctime));
    AppendField(&o, "uid"); o += std::to_string(n.uid);
    AppendField(&o, "gid"); o += std::to_string(n.gid);
    if (!n.user.empty()) { AppendField(&o, "user"); AppendJsonString(&o, n.user); }
    if (!n.group.empty()) { AppendField(&o, "group"); AppendJsonString(&o, n.group); }
    if (n.inode) { AppendField(&o, "inode"); o += std::to_string(n.inode); }
    if (n.device_id) { AppendField(&o, "device_id"); o += std::to_string(n.device_id); }
    if (n.size) { AppendField(&o, "size"); o += std::to_string(n.size); }
    if (n.links) { AppendField(&o, "links"); o += std::to_string(n.links); }
    if (!n.linktarget.empty()) { AppendField(&o, "linktarget"); AppendJsonString(&o, n.linktarget); }
    if (n.device) { AppendField(&o, "device"); o += std::to_string(n.device); }
    AppendField(&o, "content");
    if (n.type == "file" || !n.content.empty()) {
      o.push_back('[');
      for (size_t i = 0; i < n.content.size(); ++i) {
        if (i) o.push_back(',');
        o.push_back('"');
        o += n.content[i].Hex();
        o.push_back('"');
      }
      o.push_back(']');
    } else {
      o += "null";
    }
    if (n.subtree) { AppendField(&o, "subtree"); o += "\"" + n.subtree->Hex() + "\""; }
    if (!n.error.empty()) { AppendField(&o, "error"); AppendJsonString(&o, n.error); }
    o.push_back('}');
  }
  o += "]}\n";
  return o;
}

Result<IndexFile> ParseIndex(const Bytes& data, const std::string& object) {
  auto j = MX_TRY(ParseJson(data, "invalid index", object));
  return Guard("invalid index", object, [&]() -> Result<IndexFile> {
    IndexFile idx;
    if (auto s = j.find("supersedes"); s != j.end() && !s->is_null()) {
      if (!s->is_array()) throw std::runtime_error("field 'supersedes' is not an array");
      for (auto& v : *s) idx.supersedes.push_back(ParseIdField(v, "supersedes"));
    }
    auto packs = j.find("packs");
    if (packs == j.end() || packs->is_null()) return idx;
    if (!packs->is_array()) throw std::runtime_error("field 'packs' is not an array");
    idx.packs.reserve(packs->size());
    for (auto& p : *packs) {
      if (!p.is_object() || !p.contains("id")) throw std::runtime_error("a pack entry has no id");
      IndexPack ip;
      ip.id = ParseIdField(p["id"], "id");
      auto blobs = p.find("blobs");
      if (blobs != p.end() && !blobs->is_null()) {
        if (!blobs->is_array()) throw std::runtime_error("field 'blobs' is not an array");
        ip.blobs.reserve(blobs->size());
        for (auto& b : *blobs) {
          if (!b.is_object() || !b.contains("id")) throw std::runtime_error("a blob entry has no id");
          IndexBlob ib;
          ib.id = ParseIdField(b["id"], "id");
          std::string type = Str(b, "type");
          if (type == "data") ib.type = BlobType::kData;
          else if (type == "tree") ib.type = BlobType::kTree;
          else throw std::runtime_error("blob " + ib.id.Short() + " has unknown type '" + type + "'");
          ib.offset = Num<uint32_t>(b, "offset");
          ib.length = Num<uint32_t>(b, "length");
          ib.uncompressed_length = Num<uint32_t>(b, "uncompressed_length");
          if (ib.length < 32u)
            throw std::runtime_error("blob " + ib.id.Short() + " has length " +
                                     std::to_string(ib.length) + ", less than the crypto overhead");
          ip.blobs.push_back(ib);
        }
      }
      idx.packs.push_back(std::move(ip));
    }
    return idx;
  });
}

std::string SerializeIndex(const IndexFile& idx) {
  std::string o = "{";
  if (!idx.supersedes.empty()) {
    o += "\"supersedes\":[";
    for (size_t i = 0; i < idx.supersedes.size(); ++i) {
      if (i) o.push_back(',');
      o += "\"" + idx.supersedes[i].Hex() + "\"";
    }
    o += "],";
  }
  o += "\"packs\":[";
  for (size_t p = 0; p < idx.packs.size(); ++p) {
    if (p) o.push_back(',');
    o += "{\"id\":\"" + idx.packs[p].id.Hex() + "\",\"blobs\":[";
    const auto& blobs = idx.packs[p].blobs;
    for (size_t i = 0; i < blobs.size(); ++i) {
      const IndexBlob& b = blobs[i];
      if (i) o.push_back(',');
      o += "{\"id\":\"" + b.id.Hex() + "\",\"type\":\"" + BlobTypeName(b.type) +
           "\",\"offset\":" + std::to_string(b.offset) + ",\"length\":" + std::to_string(b.length);
      if (b.uncompressed_length)
        o += ",\"uncompressed_length\":" + std::to_string(b.uncompressed_length);
      o.push_back('}');
    }
    o += "]}";
  }
  o += "]}";
  return o;
}

Result<LockInfo> ParseLock(const Bytes& data, const std::string& object) {
  auto j = MX_TRY(ParseJson(data, "invalid lock", object));
  return Guard("invalid lock", object, [&]() -> Result<LockInfo> {
    LockInfo l;
    l.time = TimeField(j, "time");
    if (auto e = j.find("exclusive"); e != j.end() && e->is_boolean()) l.exclusive = e->get<bool>();
    l.hostname = Str(j, "hostname");
    l.username = Str(j, "username");
    l.pid = Num<int64_t>(j, "pid");
    l.uid = Num<uint32_t>(j, "uid");
    l.gid = Num<uint32_t>(j, "gid");
    return l;
  });
}

std::string SerializeLock(const LockInfo& l) {
  json j = {{"time", FormatRfc3339(l.time)}, {"exclusive", l.exclusive},
            {"hostname", l.hostname}, {"username", l.username}, {"pid", l.pid},
            {"uid", l.uid}, {"gid", l.gid}};
  return j.dump();
}

}  // namespace mx::repo
