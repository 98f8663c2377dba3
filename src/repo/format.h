// The JSON documents of the restic repository format, version 1 and 2
// (docs/formats/repository.md): config, key files, snapshots, trees, index
// files and locks. Parsers reject malformed input with BAD_FORMAT naming the
// object; they never abort. Value types, thread-compatible.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/clock.h"
#include "common/error.h"
#include "repo/chunker.h"
#include "repo/id.h"

namespace mx::repo {

enum class BlobType : uint8_t { kData = 0, kTree = 1 };
const char* BlobTypeName(BlobType t);

struct RepoConfig {
  int version = 2;
  std::string id;  // 64 hex digits
  Pol chunker_polynomial = 0;
};
Result<RepoConfig> ParseConfig(const Bytes& json);
std::string SerializeConfig(const RepoConfig& c);

struct KeyFile {
  std::string created;
  std::string username;
  std::string hostname;
  std::string kdf = "scrypt";
  uint64_t n = 0;
  uint32_t r = 0, p = 0;
  Bytes salt;
  Bytes data;  // encrypted master key JSON
};
Result<KeyFile> ParseKeyFile(const Bytes& json, const std::string& object);
std::string SerializeKeyFile(const KeyFile& k);

struct Snapshot {
  Timestamp time;
  /// The zone offset `time` was recorded with (seconds east of UTC): restic's
  /// retention buckets (day, week, ...) are counted in that zone. Not written
  /// back: SerializeSnapshot uses the local zone, as restic does.
  int32_t time_offset = 0;
  std::optional<Id> parent;
  Id tree;
  std::vector<std::string> paths;
  std::string hostname;
  std::string username;
  uint32_t uid = 0, gid = 0;
  std::vector<std::string> excludes;
  std::vector<std::string> tags;
  std::optional<Id> original;
  std::string program_version;
};
Result<Snapshot> ParseSnapshot(const Bytes& json, const std::string& object);
std::string SerializeSnapshot(const Snapshot& s);

// Go's os.FileMode bits, as restic stores node modes.
constexpr uint32_t kGoModeDir = 1u << 31;
constexpr uint32_t kGoModeSymlink = 1u << 27;
constexpr uint32_t kGoModeDevice = 1u << 26;
constexpr uint32_t kGoModeNamedPipe = 1u << 25;
constexpr uint32_t kGoModeSocket = 1u << 24;
constexpr uint32_t kGoModeSetuid = 1u << 23;
constexpr uint32_t kGoModeSetgid = 1u << 22;
constexpr uint32_t kGoModeCharDevice = 1u << 21;
constexpr uint32_t kGoModeSticky = 1u << 20;
uint32_t GoModeFromPosix(uint32_t st_mode);
/// Permission bits plus setuid/setgid/sticky, for chmod.
uint32_t PosixPermFromGoMode(uint32_t go_mode);

struct Node {
  std::string name;
  std::string type;  // file, dir, symlink, dev, chardev, fifo, socket
  uint32_t mode = 0;
  Timestamp mtime, atime, ctime;
  uint32_t uid = 0, gid = 0;
  std::string user, group;
  uint64_t inode = 0;
  uint64_t device_id = 0;
  uint64_t size = 0;
  uint64_t links = 0;
  std::string linktarget;
  uint64_t device = 0;
  std::vector<Id> content;
  std::optional<Id> subtree;
  std::string error;
};

struct Tree {
  std::vector<Node> nodes;  // sorted by name, names unique
};
Result<Tree> ParseTree(const Bytes& json, const std::string& object);
/// restic's encoding: compact JSON of {"nodes":[...]} plus a newline.
std::string SerializeTree(const Tree& t);
/// Empty when `name` is safe to create inside a directory; else why not
/// (empty, ".", "..", contains '/' or NUL).
std::string UnsafeNameReason(const std::string& name);

struct IndexBlob {
  Id id;
  BlobType type = BlobType::kData;
  uint32_t offset = 0;
  uint32_t length = 0;
  uint32_t uncompressed_length = 0;  // 0: stored uncompressed
};
struct IndexPack {
  Id id;
  std::vector<IndexBlob> blobs;
};
struct IndexFile {
  std::vector<Id> supersedes;
  std::vector<IndexPack> packs;
};
Result<IndexFile> ParseIndex(const Bytes& json, const std::string& object);
std::string SerializeIndex(const IndexFile& idx);

struct LockInfo {
  Timestamp time;
  bool exclusive = false;
  std::string hostname;
  std::string username;
  int64_t pid = 0;
  uint32_t uid = 0, gid = 0;
};
Result<LockInfo> ParseLock(const Bytes& json, const std::string& object);
std::string SerializeLock(const LockInfo& l);

/// restic stores node names quoted as by Go's strconv.Quote (without the outer
/// quotes) inside the JSON string, so that any byte string survives. These
/// are that encoding and its inverse; GoUnquote returns nullopt on a syntax
/// error.
std::string GoQuote(const std::string& raw);
std::optional<std::string> GoUnquote(const std::string& quoted);

/// Writes `s` as a JSON string literal the way Go's encoding/json does
/// (escaping <, >, &, U+2028/9; invalid UTF-8 becomes U+FFFD).
void AppendJsonString(std::string* out, const std::string& s);

}  // namespace mx::repo
