#include "store/writer/freeze_provider.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "common/fs.h"

namespace mx::store {
namespace {

Status CopyPrefix(const std::string& from, const std::string& to, uint64_t size) {
  Fd in(open(from.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in.valid()) return ErrnoError("cannot open for the checkpoint", from, errno);
  Fd out(open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!out.valid()) return ErrnoError("cannot create in the checkpoint", to, errno);
  std::vector<uint8_t> buf(1 << 20);
  uint64_t done = 0;
  while (done < size) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), size - done));
    MX_CHECK(PreadFull(in.get(), buf.data(), n, done, from));
    MX_CHECK(WriteFull(out.get(), buf.data(), n, -1, to));
    done += n;
  }
  if (fsync(out.get()) != 0) return ErrnoError("cannot sync", to, errno);
  return Ok();
}

}  // namespace

Status MaterializeFileSet(const FileSet& set, const std::string& target) {
  MX_CHECK(MakeDirs(target, 0700));
  for (const auto& f : set.files) {
    std::string from = f.directory + "/" + f.name;
    std::string base = f.name.substr(f.name.rfind('/') + 1);
    std::string to = target + "/" + base;
    if (!f.replacement_contents.empty()) {
      Fd out(open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
      if (!out.valid()) return ErrnoError("cannot create in the checkpoint", to, errno);
      MX_CHECK(WriteFull(out.get(), reinterpret_cast<const uint8_t*>(f.replacement_contents.data()),
                         f.replacement_contents.size(), -1, to));
      continue;
    }
    bool immutable = (f.kind == "table" || f.kind == "blob") && !f.trim_to_size;
    if (immutable && link(from.c_str(), to.c_str()) == 0) continue;
    MX_CHECK(CopyPrefix(from, to, f.size));
  }
  return SyncDir(target);
}

Result<FrozenSet> CheckpointFreezeProvider::Prepare(Database& db, std::chrono::milliseconds deadline) {
  // 1. The log is durable before anything blocks (the field failure: a
  //    commit waiting for a flush the thaw never issued).
  MX_CHECK(db.SyncLog());
  MX_CHECK(db.PinFiles());
  pinned_ = true;
  auto fail = [&](Error e) -> Error {
    (void)Release(db);
    return e;
  };
  // 2. Close the gate, capture, reopen: commits are blocked only here.
  auto start = std::chrono::steady_clock::now();
  Status frozen = db.Freeze(deadline);
  if (!frozen.ok()) return fail(frozen.error());
  auto live = db.LiveFiles();
  Status thawed = db.Thaw();
  auto blocked = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start);
  if (!live.ok()) return fail(live.error());
  if (!thawed.ok()) return fail(thawed.error());
  // 3. The checkpoint, outside the freeze.
  Status m = MaterializeFileSet(*live, dir_);
  if (!m.ok()) return fail(m.error());
  FrozenSet out;
  out.files.sequence = live->sequence;
  out.commits_blocked = blocked;
  for (const auto& f : live->files) {
    LiveFile c = f;
    c.directory = dir_;
    c.name = f.name.substr(f.name.rfind('/') + 1);
    c.trim_to_size = false;
    if (!f.replacement_contents.empty()) c.size = f.replacement_contents.size();
    c.replacement_contents.clear();
    out.files.files.push_back(std::move(c));
  }
  return out;
}

Status CheckpointFreezeProvider::Release(Database& db) {
  Status s = Ok();
  if (pinned_) {
    s = db.UnpinFiles();
    pinned_ = false;
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
  return s;
}

Result<FrozenSet> PinnedFreezeProvider::Prepare(Database& db, std::chrono::milliseconds) {
  MX_CHECK(db.SyncLog());
  MX_CHECK(db.PinFiles());
  pinned_ = true;
  auto live = db.LiveFiles();
  if (!live.ok()) {
    (void)Release(db);
    return std::move(live).error();
  }
  FrozenSet out;
  out.files = std::move(*live);
  return out;
}

Status PinnedFreezeProvider::Release(Database& db) {
  if (!pinned_) return Ok();
  pinned_ = false;
  return db.UnpinFiles();
}

}  // namespace mx::store
