// Configuration files (TOML, via toml++). A Config is an immutable, parsed
// document; lookups take dotted paths ("repository.path"). Thread-safe for
// concurrent reads. Every error names the file, and for parse errors the line.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"

namespace mx {

class Config {
 public:
  /// Parses `path`. Errors: CONFIG (syntax, with file:line:column), IO_ERROR.
  static Result<Config> Load(const std::string& path);
  /// Parses `text`; `name` is used in messages.
  static Result<Config> Parse(const std::string& text, const std::string& name);

  /// The string at `key`; nullopt when absent; CONFIG error when not a string.
  Result<std::optional<std::string>> GetString(const std::string& key) const;
  Result<std::optional<int64_t>> GetInt(const std::string& key) const;
  Result<std::optional<bool>> GetBool(const std::string& key) const;
  Result<std::vector<std::string>> GetStrings(const std::string& key) const;
  /// The tables of an array of tables ([[key]]), each as a Config named
  /// "file:line:column" of its header; CONFIG error when `key` is not one.
  Result<std::vector<Config>> GetTables(const std::string& key) const;
  /// The table at `key` ([key] or an inline table) as a Config; nullopt when
  /// absent; CONFIG error when not a table.
  Result<std::optional<Config>> GetTable(const std::string& key) const;
  /// Keys of this table that are not in `known` (for "unknown setting" errors),
  /// each as "key (file:line:column)".
  std::vector<std::string> UnknownKeys(const std::vector<std::string>& known) const;

  /// "file:line:column" of the value at `key` (the table's name when absent).
  std::string Where(const std::string& key) const;
  /// The TOML type at `key`: "string", "integer", "float", "boolean", "array",
  /// "tables" (an array of tables), "table", "date-time", or "" when absent.
  std::string TypeOf(const std::string& key) const;

  const std::string& name() const { return name_; }

 private:
  struct Doc;
  std::shared_ptr<const Doc> doc_;
  std::string name_;
};

}  // namespace mx
