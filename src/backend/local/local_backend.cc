#include "backend/local/local_backend.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "common/fs.h"
#include "repo/crypto.h"

namespace mx::backend {
using repo::FileType;
using repo::Handle;

std::string LocalBackend::DirOf(const Handle& h) const {
  if (h.type == FileType::kConfig) return root_;
  std::string dir = root_ + "/" + repo::FileTypeName(h.type);
  if (h.type == FileType::kPack) dir += "/" + h.name.substr(0, 2);
  return dir;
}

std::string LocalBackend::PathOf(const Handle& h) const {
  if (h.type == FileType::kConfig) return root_ + "/config";
  return DirOf(h) + "/" + h.name;
}

Status LocalBackend::Create() {
  struct stat st;
  if (::stat((root_ + "/config").c_str(), &st) == 0)
    return Error(Code::kRepoExists, "cannot create repository", root_,
                 "a config file already exists there");
  MX_CHECK(MakeDirs(root_, 0700));
  for (FileType t : {FileType::kKey, FileType::kLock, FileType::kSnapshot,
                     FileType::kIndex, FileType::kPack})
    MX_CHECK(MakeDirs(root_ + "/" + repo::FileTypeName(t), 0700));
  static const char kHex[] = "0123456789abcdef";
  for (int i = 0; i < 256; ++i) {
    std::string sub = root_ + "/data/" + kHex[i >> 4] + kHex[i & 15];
    if (::mkdir(sub.c_str(), 0700) != 0 && errno != EEXIST)
      return ErrnoError("cannot create directory", sub, errno);
  }
  return Ok();
}

Status LocalBackend::Save(const Handle& h, const uint8_t* data, size_t n) {
  std::string dir = DirOf(h);
  std::string final_path = PathOf(h);
  uint8_t rnd[8];
  repo::RandomBytes(rnd, sizeof(rnd));
  std::string tmp = dir + "/.tmp-" + ToHex(rnd, sizeof(rnd));
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd.valid() && errno == ENOENT) {
    // the directory may be missing (a repository created by another tool
    // without data/XX subdirectories)
    MX_CHECK(MakeDirs(dir, 0700));
    fd = Fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  }
  if (!fd.valid()) return ErrnoError("cannot create file", tmp, errno);
  Status s = WriteFull(fd.get(), data, n, 0, tmp);
  if (s.ok() && ::fsync(fd.get()) != 0) s = ErrnoError("cannot sync file", tmp, errno);
  if (s.ok() && ::close(fd.release()) != 0) s = ErrnoError("cannot close file", tmp, errno);
  if (s.ok() && ::rename(tmp.c_str(), final_path.c_str()) != 0)
    s = ErrnoError("cannot rename file into place", final_path, errno);
  if (!s.ok()) {
    ::unlink(tmp.c_str());
    return s;
  }
  // Repository files are read-only once written, as restic makes them.
  ::chmod(final_path.c_str(), 0400);
  return SyncDir(dir);
}

Result<Bytes> LocalBackend::Load(const Handle& h, uint64_t offset, uint64_t length) {
  Bytes out;
  MX_CHECK(LoadInto(h, offset, length, &out));
  return out;
}

Status LocalBackend::LoadInto(const Handle& h, uint64_t offset, uint64_t length, Bytes* out) {
  std::string path = PathOf(h);
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    int e = errno;
    return ErrnoError("cannot open", path, e, e == ENOENT ? Code::kNotFound : Code::kIo);
  }
  if (length == 0) {
    struct stat st;
    if (fstat(fd.get(), &st) != 0) return ErrnoError("cannot stat", path, errno);
    if (uint64_t(st.st_size) < offset)
      return Error(Code::kIo, "cannot read", path,
                   "offset " + std::to_string(offset) + " is past the end (" +
                       std::to_string(st.st_size) + " bytes)");
    length = uint64_t(st.st_size) - offset;
  }
  out->resize(length);
  return PreadFull(fd.get(), out->data(), length, offset, path);
}

Result<repo::FileInfo> LocalBackend::Stat(const Handle& h) {
  std::string path = PathOf(h);
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    int e = errno;
    return ErrnoError("cannot stat", path, e, e == ENOENT ? Code::kNotFound : Code::kIo);
  }
  return repo::FileInfo{h.name, uint64_t(st.st_size)};
}

Status LocalBackend::List(FileType t, const std::function<Status(const repo::FileInfo&)>& fn) {
  return Walk(t, false, fn);
}

Result<uint64_t> LocalBackend::RemoveLeftovers(FileType t) {
  uint64_t bytes = 0;
  MX_CHECK(Walk(t, true, [&](const repo::FileInfo& fi) -> Status {
    bytes += fi.size;
    return Ok();
  }));
  return bytes;
}

// Calls `fn` for the files of type `t`, or with `leftovers` removes the
// temporary files of interrupted saves (".tmp-*") and calls `fn` for each.
Status LocalBackend::Walk(FileType t, bool leftovers, const std::function<Status(const repo::FileInfo&)>& fn) {
  auto list_dir = [&](const std::string& dir) -> Status {
    DIR* d = ::opendir(dir.c_str());
    if (!d) {
      if (errno == ENOENT) return Ok();
      return ErrnoError("cannot list directory", dir, errno);
    }
    Status s;
    while (struct dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      bool temp = name.rfind(".tmp-", 0) == 0;
      if (leftovers ? !temp : !repo::IsObjectName(name)) continue;
      struct stat st;
      std::string path = dir + "/" + name;
      if (::stat(path.c_str(), &st) != 0) continue;  // removed meanwhile
      if (!S_ISREG(st.st_mode)) continue;
      if (leftovers && ::unlink(path.c_str()) != 0 && errno != ENOENT) {
        s = ErrnoError("cannot remove the leftover of an interrupted save", path, errno);
        break;
      }
      s = fn(repo::FileInfo{name, uint64_t(st.st_size)});
      if (!s.ok()) break;
    }
    ::closedir(d);
    return s;
  };
  if (t == FileType::kConfig) return Ok();
  std::string dir = root_ + "/" + repo::FileTypeName(t);
  if (t != FileType::kPack) return list_dir(dir);
  static const char kHex[] = "0123456789abcdef";
  for (int i = 0; i < 256; ++i) MX_CHECK(list_dir(dir + "/" + kHex[i >> 4] + kHex[i & 15]));
  return Ok();
}

Status LocalBackend::Remove(const Handle& h) {
  std::string path = PathOf(h);
  if (::unlink(path.c_str()) != 0) {
    int e = errno;
    return ErrnoError("cannot remove", path, e, e == ENOENT ? Code::kNotFound : Code::kIo);
  }
  return Ok();
}

}  // namespace mx::backend
