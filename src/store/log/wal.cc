#include "store/log/wal.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "common/bytes.h"
#include "common/crc32c.h"
#include "common/fs.h"

namespace mx::store {
namespace {

// RocksDB log format (db/log_format.h): 32 KiB blocks; each physical record
// has a 7-byte header — masked CRC-32C (4, LE) over type+payload, length
// (2, LE), type (1) — and a block's last < 7 bytes are zero padding.
constexpr size_t kBlockSize = 32768;
constexpr size_t kHeaderSize = 7;
constexpr size_t kRecyclableHeaderSize = 11;
enum RecordType : uint8_t {
  kZeroType = 0,
  kFullType = 1,
  kFirstType = 2,
  kMiddleType = 3,
  kLastType = 4,
  kRecyclableFullType = 5,
  kRecyclableLastType = 8,
  kSetCompressionType = 9,
};
constexpr uint32_t kMaskDelta = 0xa282ead8u;

uint32_t Unmask(uint32_t masked) {
  uint32_t rot = masked - kMaskDelta;
  return (rot >> 17) | (rot << 15);
}

uint64_t LoadLE64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

bool ParseLogNumber(const std::string& name, uint64_t* number) {
  if (name.size() <= 4 || name.compare(name.size() - 4, 4, ".log") != 0) return false;
  uint64_t n = 0;
  for (size_t i = 0; i + 4 < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return false;
    n = n * 10 + (name[i] - '0');
  }
  *number = n;
  return true;
}

}  // namespace

Result<WalFileInfo> ReadWalFile(const std::string& path, uint64_t max_size) {
  Bytes data = MX_TRY(ReadFile(path));
  if (data.size() > max_size) data.resize(static_cast<size_t>(max_size));
  WalFileInfo info = ParseWal(data.data(), data.size());
  info.crc32c = Crc32c(data.data(), data.size());
  info.path = path;
  ParseLogNumber(path.substr(path.rfind('/') + 1), &info.number);
  return info;
}

WalFileInfo ParseWal(const uint8_t* bytes, size_t size) {
  WalFileInfo info;
  info.size = size;
  const uint8_t* end_ptr = bytes + size;
  struct View {
    const uint8_t* b;
    const uint8_t* e;
    const uint8_t* data() const { return b; }
    size_t size() const { return static_cast<size_t>(e - b); }
    const uint8_t* begin() const { return b; }
    const uint8_t* end() const { return e; }
  } data{bytes, end_ptr};

  std::string logical;  // a record assembled from First/Middle/Last fragments
  bool in_fragment = false;
  uint64_t expect_next = 0;
  auto take_batch = [&](const std::string& rec, uint64_t offset) {
    if (rec.size() < 12) {
      if (info.damage.empty())
        info.damage = "write batch of " + std::to_string(rec.size()) +
                      " bytes (shorter than its 12-byte header) at offset " + std::to_string(offset);
      return;
    }
    auto* p = reinterpret_cast<const uint8_t*>(rec.data());
    uint64_t seq = LoadLE64(p);
    uint32_t count = LoadLE32(p + 8);
    if (info.batches == 0) info.first_seq = seq;
    else if (seq != expect_next) info.gap_inside = true;
    ++info.batches;
    uint64_t last = count > 0 ? seq + count - 1 : seq;
    info.last_seq = std::max(info.last_seq, last);
    expect_next = seq + count;
    // A commit stamp, when the batch starts with one: tag 0x03 (LogData),
    // varint32 length, payload.
    if (rec.size() > 14 && p[12] == 0x03 && p[13] < 0x80) {
      size_t n = p[13];
      std::string id;
      int64_t t = 0;
      if (14 + n <= rec.size() && ParseCommitStamp(p + 14, n, &id, &t)) {
        if (info.identity.empty()) info.identity = id;
        else if (id != info.identity && info.foreign_identity.empty()) info.foreign_identity = id;
        if (info.first_time_us == 0) info.first_time_us = t;
        info.last_time_us = std::max(info.last_time_us, t);
      }
    }
  };

  size_t pos = 0;
  while (pos < data.size() && info.damage.empty()) {
    size_t left_in_block = kBlockSize - (pos % kBlockSize);
    if (left_in_block < kHeaderSize) {  // block trailer padding
      pos += left_in_block;
      continue;
    }
    if (data.size() - pos < kHeaderSize) {
      // A header cut short at the end of the file: an interrupted append.
      bool all_zero = std::all_of(data.begin() + pos, data.end(), [](uint8_t b) { return b == 0; });
      if (!all_zero) info.torn_tail = true;
      break;
    }
    const uint8_t* h = data.data() + pos;
    uint32_t stored = LoadLE32(h);
    uint32_t length = h[4] | (uint32_t(h[5]) << 8);
    uint8_t type = h[6];
    if (type == kZeroType && length == 0 && stored == 0) {
      // Preallocated space: the rest of the file must be zeros.
      bool all_zero = std::all_of(data.begin() + pos, data.end(), [](uint8_t b) { return b == 0; });
      if (!all_zero)
        info.damage = "non-zero bytes after the end of the log at offset " + std::to_string(pos);
      break;
    }
    size_t header = kHeaderSize;
    if (type >= kRecyclableFullType && type <= kRecyclableLastType) header = kRecyclableHeaderSize;
    if (pos + header + length > data.size()) {
      info.torn_tail = true;  // the record's payload runs past the end of the file
      break;
    }
    if (header + length > left_in_block) {
      info.damage = "record at offset " + std::to_string(pos) + " crosses its 32 KiB block";
      break;
    }
    uint32_t actual = Crc32cExtend(Crc32c(&h[6], 1), h + header, length);
    if (header == kRecyclableHeaderSize)
      actual = Crc32cExtend(Crc32c(&h[6], 1), h + 7, length + 4);
    if (actual != Unmask(stored)) {
      info.damage = "checksum mismatch in the record at offset " + std::to_string(pos);
      break;
    }
    std::string payload(reinterpret_cast<const char*>(h + header), length);
    switch (type) {
      case kFullType:
      case kRecyclableFullType:
        if (in_fragment) info.damage = "a record starts inside a fragmented record at offset " + std::to_string(pos);
        take_batch(payload, pos);
        break;
      case kFirstType:
      case kRecyclableFullType + 1:
        logical = std::move(payload);
        in_fragment = true;
        break;
      case kMiddleType:
      case kRecyclableFullType + 2:
        if (!in_fragment) info.damage = "a middle fragment without a first at offset " + std::to_string(pos);
        logical += payload;
        break;
      case kLastType:
      case kRecyclableLastType:
        if (!in_fragment) info.damage = "a last fragment without a first at offset " + std::to_string(pos);
        logical += payload;
        in_fragment = false;
        take_batch(logical, pos);
        logical.clear();
        break;
      case kSetCompressionType:
        break;  // metadata record; carries no batch
      default:
        if (type > 127) break;  // "ignorable" record types (RocksDB's kRecordTypeSafeIgnoreMask)
        info.damage = "unknown record type " + std::to_string(type) + " at offset " + std::to_string(pos);
        break;
    }
    pos += header + length;
  }
  if (in_fragment && info.damage.empty()) info.torn_tail = true;
  return info;
}

Result<std::vector<WalPath>> ListWalPaths(const std::string& db_dir) {
  std::vector<WalPath> out;
  for (bool archived : {false, true}) {
    std::string dir = archived ? db_dir + "/archive" : db_dir;
    DIR* d = opendir(dir.c_str());
    if (d == nullptr) {
      if (errno == ENOENT && archived) continue;
      return ErrnoError("cannot list the transaction logs", dir, errno);
    }
    while (dirent* e = readdir(d)) {
      uint64_t number;
      if (ParseLogNumber(e->d_name, &number)) out.push_back({number, dir + "/" + e->d_name, archived});
    }
    closedir(d);
  }
  std::sort(out.begin(), out.end(), [](const WalPath& a, const WalPath& b) { return a.number < b.number; });
  return out;
}

Result<std::vector<WalFileInfo>> ListWalFiles(const std::string& db_dir) {
  std::vector<WalFileInfo> out;
  auto paths = MX_TRY(ListWalPaths(db_dir));
  for (WalPath w : paths) {
    auto info = ReadWalFile(w.path);
    if (!info.ok() && !w.archived && access(w.path.c_str(), F_OK) != 0) {
      // Archived by RocksDB between listing and reading: read it there.
      w.path = db_dir + "/archive" + w.path.substr(w.path.rfind('/'));
      w.archived = true;
      info = ReadWalFile(w.path);
    }
    if (!info.ok()) {
      // Gone altogether (truncated by a backup, or deleted with circular
      // logging) is not an error; anything else is.
      if (access(w.path.c_str(), F_OK) != 0) continue;
      return std::move(info).error();
    }
    info->archived = w.archived;
    out.push_back(std::move(*info));
  }
  return out;
}

std::string FindChainGap(const std::vector<WalFileInfo>& logs) {
  const WalFileInfo* prev = nullptr;
  for (const auto& log : logs) {
    if (log.gap_inside)
      return "log " + std::to_string(log.number) + " has a gap between its own write batches";
    if (log.batches == 0) continue;
    if (prev != nullptr && log.first_seq != prev->last_seq + 1) {
      if (log.first_seq <= prev->last_seq) {
        // Overlap is harmless (a batch replayed into a new log after
        // recovery); only a hole loses data.
      } else {
        return "sequences " + std::to_string(prev->last_seq + 1) + ".." +
               std::to_string(log.first_seq - 1) + " are missing between log " +
               std::to_string(prev->number) + " and log " + std::to_string(log.number);
      }
    }
    if (prev == nullptr || log.last_seq > prev->last_seq) prev = &log;
  }
  return {};
}

std::string MakeCommitStamp(const std::string& identity_hex, int64_t time_us) {
  // On every commit: one hex decode of a 32-digit identity.
  std::string out = "MX\x01";
  auto id = FromHex(identity_hex);
  if (id) out.append(id->begin(), id->begin() + std::min<size_t>(id->size(), 16));
  out.resize(3 + 16, '\0');
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((uint64_t(time_us) >> (8 * i)) & 0xff));
  return out;
}

bool ParseCommitStamp(const uint8_t* data, size_t n, std::string* identity_hex, int64_t* time_us) {
  if (n != 27 || data[0] != 'M' || data[1] != 'X' || data[2] != 1) return false;
  static const char kHex[] = "0123456789abcdef";
  identity_hex->clear();
  for (size_t i = 3; i < 19; ++i) {
    identity_hex->push_back(kHex[data[i] >> 4]);
    identity_hex->push_back(kHex[data[i] & 15]);
  }
  *time_us = static_cast<int64_t>(LoadLE64(data + 19));
  return true;
}

}  // namespace mx::store
