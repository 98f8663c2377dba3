#include "common/config.h"

#include <fstream>
#include <sstream>

#define TOML_EXCEPTIONS 1
#include <toml++/toml.h>

namespace mx {

struct Config::Doc {
  toml::table table;
};

Result<Config> Config::Parse(const std::string& text, const std::string& name) {
  Config c;
  c.name_ = name;
  try {
    auto doc = std::make_shared<Doc>();
    doc->table = toml::parse(text, name);
    c.doc_ = std::move(doc);
  } catch (const toml::parse_error& e) {
    const auto& src = e.source();
    std::string where = name + ":" + std::to_string(src.begin.line) + ":" +
                        std::to_string(src.begin.column);
    return Error(Code::kConfig, "cannot parse configuration", where,
                 std::string(e.description()));
  }
  return c;
}

Result<Config> Config::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return ErrnoError("cannot open configuration file", path, errno);
  std::stringstream ss;
  ss << in.rdbuf();
  return Parse(ss.str(), path);
}

namespace {
std::string NodeWhere(const std::string& name, const toml::node& n) {
  const auto& src = n.source();
  if (src.begin.line == 0) return name;
  std::string file = src.path ? std::string(*src.path) : name;
  return file + ":" + std::to_string(src.begin.line) + ":" + std::to_string(src.begin.column);
}

template <class T>
Result<std::optional<T>> Get(const toml::table& t, const std::string& key,
                             const std::string& name, const char* type) {
  auto node = t.at_path(key);
  if (!node) return std::optional<T>();
  if (auto v = node.value<T>()) return std::optional<T>(*v);
  return Error(Code::kConfig, "invalid configuration value", NodeWhere(name, *node.node()) + ": " + key,
               std::string("expected a ") + type);
}
}  // namespace

Result<std::optional<std::string>> Config::GetString(const std::string& key) const {
  return Get<std::string>(doc_->table, key, name_, "string");
}
Result<std::optional<int64_t>> Config::GetInt(const std::string& key) const {
  return Get<int64_t>(doc_->table, key, name_, "integer");
}
Result<std::optional<bool>> Config::GetBool(const std::string& key) const {
  return Get<bool>(doc_->table, key, name_, "boolean");
}
Result<std::vector<std::string>> Config::GetStrings(const std::string& key) const {
  std::vector<std::string> out;
  auto node = doc_->table.at_path(key);
  if (!node) return out;
  auto* arr = node.as_array();
  if (!arr)
    return Error(Code::kConfig, "invalid configuration value", NodeWhere(name_, *node.node()) + ": " + key,
                 "expected an array of strings");
  for (auto& el : *arr) {
    auto s = el.value<std::string>();
    if (!s)
      return Error(Code::kConfig, "invalid configuration value", NodeWhere(name_, el) + ": " + key,
                   "expected an array of strings");
    out.push_back(*s);
  }
  return out;
}

Result<std::vector<Config>> Config::GetTables(const std::string& key) const {
  std::vector<Config> out;
  auto node = doc_->table.at_path(key);
  if (!node) return out;
  auto* arr = node.as_array();
  if (!arr || !arr->is_array_of_tables())
    return Error(Code::kConfig, "invalid configuration value", NodeWhere(name_, *node.node()) + ": " + key,
                 "expected tables written [[" + key + "]]");
  for (auto& el : *arr) {
    Config c;
    auto doc = std::make_shared<Doc>();
    doc->table = *el.as_table();
    c.doc_ = std::move(doc);
    c.name_ = NodeWhere(name_, el);
    out.push_back(std::move(c));
  }
  return out;
}

Result<std::optional<Config>> Config::GetTable(const std::string& key) const {
  auto node = doc_->table.at_path(key);
  if (!node) return std::optional<Config>();
  if (!node.as_table())
    return Error(Code::kConfig, "invalid configuration value", NodeWhere(name_, *node.node()) + ": " + key,
                 "expected a table written [" + key + "] or " + key + " = { ... }");
  Config c;
  auto doc = std::make_shared<Doc>();
  doc->table = *node.as_table();
  c.doc_ = std::move(doc);
  c.name_ = NodeWhere(name_, *node.node());
  return std::optional<Config>(std::move(c));
}

std::string Config::Where(const std::string& key) const {
  auto node = doc_->table.at_path(key);
  return node ? NodeWhere(name_, *node.node()) : name_;
}

std::string Config::TypeOf(const std::string& key) const {
  auto node = doc_->table.at_path(key);
  if (!node) return "";
  if (auto* arr = node.as_array()) return !arr->empty() && arr->is_array_of_tables() ? "tables" : "array";
  if (node.is_string()) return "string";
  if (node.is_integer()) return "integer";
  if (node.is_floating_point()) return "float";
  if (node.is_boolean()) return "boolean";
  if (node.is_table()) return "table";
  return "date-time";
}

std::vector<std::string> Config::UnknownKeys(const std::vector<std::string>& known) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : doc_->table) {
    bool ok = false;
    for (const auto& n : known) ok = ok || n == k.str();
    if (ok) continue;
    const auto& src = k.source().begin.line ? k.source() : v.source();
    std::string file = src.path ? std::string(*src.path) : name_;
    out.push_back(std::string(k.str()) + " (" + file + ":" + std::to_string(src.begin.line) + ":" +
                  std::to_string(src.begin.column) + ")");
  }
  return out;
}

}  // namespace mx
