#include "common/fs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <vector>

#include "common/crc32c.h"

namespace mx {

Fd& Fd::operator=(Fd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

Result<Bytes> ReadFile(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoError("cannot open", path, errno);
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return ErrnoError("cannot stat", path, errno);
  Bytes out;
  out.reserve(size_t(st.st_size));
  uint8_t buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("cannot read", path, errno);
    }
    if (n == 0) break;
    out.insert(out.end(), buf, buf + n);
  }
  return out;
}

Status PreadFull(int fd, uint8_t* buf, size_t n, uint64_t offset, const std::string& path) {
  size_t done = 0;
  while (done < n) {
    ssize_t r = ::pread(fd, buf + done, n - done, off_t(offset + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("cannot read", path, errno);
    }
    if (r == 0)
      return Error(Code::kIo, "cannot read", path,
                   "file ended at offset " + std::to_string(offset + done) +
                       ", expected " + std::to_string(n - done) + " more bytes");
    done += size_t(r);
  }
  return Ok();
}

Status WriteFull(int fd, const uint8_t* buf, size_t n, int64_t offset, const std::string& path) {
  size_t done = 0;
  while (done < n) {
    ssize_t r = offset >= 0 ? ::pwrite(fd, buf + done, n - done, off_t(offset + done))
                            : ::write(fd, buf + done, n - done);
    if (r < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("cannot write", path, errno);
    }
    done += size_t(r);
  }
  return Ok();
}

Status WriteFileAtomic(const std::string& path, std::string_view data, int mode) {
  std::string tmp = path + ".tmp";
  {
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
    if (!fd.valid()) return ErrnoError("cannot write", tmp, errno);
    MX_CHECK(WriteFull(fd.get(), reinterpret_cast<const uint8_t*>(data.data()), data.size(), -1, tmp));
    if (::fsync(fd.get()) != 0) return ErrnoError("cannot sync", tmp, errno);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) return ErrnoError("cannot replace", path, errno);
  size_t slash = path.rfind('/');
  return SyncDir(slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash)));
}

Result<uint32_t> FileCrc32c(const std::string& path, uint64_t limit, uint64_t* size) {
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoError("cannot open", path, errno);
  std::vector<uint8_t> buf(1 << 20);
  uint32_t crc = 0;
  uint64_t done = 0;
  while (done < limit) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), limit - done));
    ssize_t n = read(fd.get(), buf.data(), want);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("cannot read", path, errno);
    }
    if (n == 0) break;
    crc = Crc32cExtend(crc, buf.data(), size_t(n));
    done += uint64_t(n);
  }
  if (limit != UINT64_MAX && done < limit)
    return Error(Code::kIo, "cannot read", path,
                 "the file has " + std::to_string(done) + " bytes, " + std::to_string(limit) + " were expected",
                 "the file was cut short; check the disk");
  if (size) *size = done;
  return crc;
}

Status SyncDir(const std::string& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoError("cannot open directory", dir, errno);
  if (::fsync(fd.get()) != 0 && errno != EINVAL)
    return ErrnoError("cannot sync directory", dir, errno);
  return Ok();
}

Status MakeDirs(const std::string& path, int mode) {
  if (path.empty()) return Ok();
  std::string cur;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t next = path.find('/', pos);
    if (next == std::string::npos) next = path.size();
    cur = path.substr(0, next);
    pos = next + 1;
    if (cur.empty()) continue;
    if (::mkdir(cur.c_str(), mode) != 0 && errno != EEXIST)
      return ErrnoError("cannot create directory", cur, errno);
  }
  return Ok();
}

bool IsTerminal(int fd) { return ::isatty(fd) == 1; }

}  // namespace mx
