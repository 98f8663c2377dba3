#include "vault/restore/restorer.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <map>
#include <mutex>
#include <thread>

#include "common/fs.h"
#include "common/queue.h"
#include "repo/pack.h"

namespace mx::vault {
using repo::BlobType;
using repo::Id;
using repo::Node;
using repo::Tree;

bool PatternMatches(const std::string& pattern, const std::string& path) {
  if (pattern.find('/') == std::string::npos) {
    size_t slash = path.rfind('/');
    std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
    return fnmatch(pattern.c_str(), name.c_str(), 0) == 0;
  }
  std::string pat = pattern[0] == '/' ? pattern : "/" + pattern;
  return fnmatch(pat.c_str(), path.c_str(), 0) == 0;
}

namespace {

// A large file restored in segments by several workers at once (each
// segment pwrites its blobs at their offsets). The last segment to finish
// sets the metadata, or removes the file if any segment failed.
struct SplitFile {
  std::atomic<int> remaining{0};
  std::atomic<bool> failed{false};
};

struct FileJob {
  std::string path;      // on disk
  std::string snap_path; // in the snapshot, for messages
  Node node;
  std::shared_ptr<SplitFile> split;  // null: the whole file in one job
  size_t first_blob = 0, end_blob = 0;
  uint64_t offset = 0;
};

constexpr uint64_t kSegmentBytes = 32ull << 20;

// Reading by pack: needed blobs less than kReadGap apart are fetched with one
// ranged read (skipping a gap costs less than another round trip); no read
// is larger than kMaxRead, which bounds memory to a read per worker.
constexpr uint64_t kReadGap = 1ull << 20;
constexpr uint64_t kMaxRead = 16ull << 20;

// A file of a pack-by-pack restore: created empty when planned, written blob
// by blob by whichever workers read its packs; the worker that writes its
// last blob sets its metadata (or removes it, if any blob failed).
struct PlannedFile {
  std::string path, snap_path;
  Node node;  // content cleared once planned
  std::atomic<uint32_t> remaining{0};
  std::atomic<bool> failed{false};
};

// One place a blob of a pack goes to.
struct BlobWrite {
  uint32_t offset, length, uncompressed;  // in the pack
  Id id;
  PlannedFile* file;
  uint64_t file_offset;
};

struct DirMeta {
  std::string path;
  Node node;
};

class Restorer {
 public:
  Restorer(repo::Repository& repo, const RestoreOptions& opts, RestoreProgress* p)
      : repo_(repo), opts_(opts), progress_(p ? p : &own_), jobs_(64) {}

  Result<RestoreSummary> Run(const repo::Snapshot& snap);

 private:
  Status Validate(const Id& tree, const std::string& snap_path);
  bool Selected(const std::string& snap_path, bool is_dir) const;
  bool AncestorIncluded(const std::string& snap_path) const;
  Status EnsureDir(const std::string& path);
  void RestoreNode(const Node& n, const std::string& disk_path, const std::string& snap_path);
  Status RestoreTree(const Id& tree, const std::string& disk_path, const std::string& snap_path);
  void WriteFile(const FileJob& job);
  void WriteSegment(const FileJob& job);
  bool QueueSegments(const Node& n, const std::string& path, const std::string& snap_path);
  void SetMeta(const std::string& path, const Node& n, bool symlink);
  // Reading by pack.
  void PlanFile(const FileJob& job);
  void RestorePack(const Id& pack, std::vector<BlobWrite>& writes);
  void FailPlanned(PlannedFile& f, const Error& e);
  void FinishPlanned(PlannedFile& f);
  void Report(Error e) {
    std::lock_guard<std::mutex> l(mu_);
    sum_.errors.push_back(std::move(e));
  }

  repo::Repository& repo_;
  const RestoreOptions& opts_;
  RestoreProgress own_;
  RestoreProgress* progress_;
  // Files are handed to workers a directory at a time: two threads creating
  // files in one directory contend on its inode lock (measured: 30% of a
  // restore's CPU spinning on it).
  BoundedQueue<std::vector<FileJob>> jobs_;
  std::vector<FileJob> batch_;  // the current directory's files (walker thread)
  uint64_t batch_bytes_ = 0;
  void FlushBatch() {
    if (batch_.empty()) return;
    jobs_.Push(std::move(batch_));
    batch_.clear();
    batch_bytes_ = 0;
  }
  std::mutex mu_;
  RestoreSummary sum_;
  std::vector<DirMeta> dirs_;  // set last, deepest first
  std::map<std::pair<uint64_t, uint64_t>, std::string> hardlinks_;  // (dev, inode) → first path
  struct PendingLink {
    std::string path, existing, snap_path;
    Node node;
  };
  std::vector<PendingLink> pending_links_;
  std::map<std::pair<uint64_t, uint64_t>, Node> link_meta_;
  bool by_pack_ = false;
  std::deque<PlannedFile> planned_;                 // stable addresses
  std::map<Id, std::vector<BlobWrite>> packs_;      // pack → what to write from it
};

Status Restorer::Validate(const Id& tree_id, const std::string& snap_path) {
  Tree t = MX_TRY(repo_.LoadTree(tree_id));
  for (const Node& n : t.nodes) {
    std::string why = repo::UnsafeNameReason(n.name);
    if (!why.empty())
      return Error(Code::kUnsafePath, "refusing to restore", snap_path + " (tree " + tree_id.Short() + ")",
                   why + ": " + n.name.substr(0, n.name.find('\0')));
    if (n.type == "dir") {
      if (!n.subtree)
        return Error(Code::kBadFormat, "refusing to restore", snap_path + "/" + n.name,
                     "directory node has no subtree");
      MX_CHECK(Validate(*n.subtree, snap_path + "/" + n.name));
    }
    progress_->files_total += n.type == "file" ? 1 : 0;
    progress_->bytes_total += n.type == "file" ? n.size : 0;
  }
  return Ok();
}

bool Restorer::AncestorIncluded(const std::string& snap_path) const {
  for (const std::string& pat : opts_.includes) {
    std::string p = snap_path;
    while (!p.empty()) {
      if (PatternMatches(pat, p)) return true;
      size_t slash = p.rfind('/');
      if (slash == std::string::npos || slash == 0) break;
      p.resize(slash);
    }
  }
  return false;
}

bool Restorer::Selected(const std::string& snap_path, bool is_dir) const {
  for (const std::string& pat : opts_.excludes)
    if (PatternMatches(pat, snap_path)) return false;
  if (opts_.includes.empty()) return true;
  if (AncestorIncluded(snap_path)) return true;
  return is_dir;  // descend: something inside may be included
}

Status Restorer::EnsureDir(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return Ok();
    return Error(Code::kUnsafePath, "cannot restore directory", path,
                 "a non-directory (possibly a symlink) exists there; refusing to write through it");
  }
  if (mkdir(path.c_str(), 0700) != 0 && errno != EEXIST)
    return ErrnoError("cannot create directory", path, errno);
  return Ok();
}

void Restorer::SetMeta(const std::string& path, const Node& n, bool symlink) {
  if (geteuid() == 0) {
    if (lchown(path.c_str(), n.uid, n.gid) != 0)
      Report(ErrnoError("cannot set owner of", path, errno));
  }
  if (!symlink && chmod(path.c_str(), repo::PosixPermFromGoMode(n.mode)) != 0)
    Report(ErrnoError("cannot set mode of", path, errno));
  struct timespec ts[2] = {{n.atime.sec, n.atime.nsec}, {n.mtime.sec, n.mtime.nsec}};
  if (utimensat(AT_FDCWD, path.c_str(), ts, AT_SYMLINK_NOFOLLOW) != 0)
    Report(ErrnoError("cannot set times of", path, errno));
}

void Restorer::WriteFile(const FileJob& job) {
  int fd = open(job.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    Report(ErrnoError("cannot create file", job.path, errno));
    return;
  }
  Fd guard(fd);
  uint64_t off = 0;
  thread_local Bytes data;
  for (const Id& c : job.node.content) {
    Status s = repo_.LoadBlobInto(BlobType::kData, c, &data);
    if (s.ok()) s = WriteFull(fd, data.data(), data.size(), int64_t(off), job.path);
    if (!s.ok()) {
      unlink(job.path.c_str());
      Report(s.error().Wrap("cannot restore file (removed, not left incomplete)", job.snap_path));
      return;
    }
    off += data.size();
    progress_->bytes_done += data.size();
  }
  if (off != job.node.size) {
    unlink(job.path.c_str());
    Report(Error(Code::kBadFormat, "cannot restore file (removed)", job.snap_path,
                 "its blobs hold " + std::to_string(off) + " bytes, the snapshot says " +
                     std::to_string(job.node.size)));
    return;
  }
  guard = Fd();
  SetMeta(job.path, job.node, false);
  progress_->files_done++;
  std::lock_guard<std::mutex> l(mu_);
  sum_.files++;
  sum_.bytes += off;
}

void Restorer::WriteSegment(const FileJob& job) {
  SplitFile& sf = *job.split;
  auto finish = [&] {
    if (--sf.remaining != 0) return;
    if (sf.failed) {
      unlink(job.path.c_str());
      return;
    }
    SetMeta(job.path, job.node, false);
    progress_->files_done++;
    std::lock_guard<std::mutex> l(mu_);
    sum_.files++;
    sum_.bytes += job.node.size;
  };
  if (sf.failed) return finish();
  Fd fd(open(job.path.c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC));
  Status s = fd.valid() ? Ok() : Status(ErrnoError("cannot open file", job.path, errno));
  thread_local Bytes data;
  uint64_t off = job.offset;
  for (size_t i = job.first_blob; s.ok() && i < job.end_blob && !sf.failed; ++i) {
    s = repo_.LoadBlobInto(BlobType::kData, job.node.content[i], &data);
    if (s.ok()) s = WriteFull(fd.get(), data.data(), data.size(), int64_t(off), job.path);
    off += data.size();
    progress_->bytes_done += data.size();
  }
  if (!s.ok() && !sf.failed.exchange(true))
    Report(s.error().Wrap("cannot restore file (removed, not left incomplete)", job.snap_path));
  fd = Fd();
  finish();
}

bool Restorer::QueueSegments(const Node& n, const std::string& path, const std::string& snap_path) {
  // Offsets come from the index; anything unexpected falls back to the
  // whole-file path, which reports it.
  std::vector<std::pair<size_t, uint64_t>> starts;  // (first blob, offset)
  uint64_t off = 0, seg = 0;
  for (size_t i = 0; i < n.content.size(); ++i) {
    auto loc = repo_.index().Lookup(BlobType::kData, n.content[i]);
    if (!loc) return false;
    if (i == 0 || seg >= kSegmentBytes) {
      starts.emplace_back(i, off);
      seg = 0;
    }
    off += loc->PlainSize();
    seg += loc->PlainSize();
  }
  if (off != n.size || starts.size() < 2) return false;
  Fd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd.valid()) return false;
  auto sf = std::make_shared<SplitFile>();
  sf->remaining = int(starts.size());
  FlushBatch();
  for (size_t k = 0; k < starts.size(); ++k) {
    FileJob job{path, snap_path, n, sf, starts[k].first,
                k + 1 < starts.size() ? starts[k + 1].first : n.content.size(), starts[k].second};
    jobs_.Push(std::vector<FileJob>{std::move(job)});
  }
  return true;
}

void Restorer::PlanFile(const FileJob& job) {
  // Every blob is looked up now, so a file that cannot be restored is
  // reported before anything is read and is never created.
  std::vector<repo::BlobLocation> locs;
  locs.reserve(job.node.content.size());
  uint64_t total = 0;
  for (const Id& c : job.node.content) {
    auto loc = repo_.index().Lookup(BlobType::kData, c);
    if (!loc) {
      Report(Error(Code::kNotFound, "cannot restore file (not written)", job.snap_path,
                   "its data blob " + c.Hex() + " is in no index of the repository; 'mxvault check' shows what is damaged"));
      return;
    }
    total += loc->PlainSize();
    locs.push_back(*loc);
  }
  if (total != job.node.size) {
    Report(Error(Code::kBadFormat, "cannot restore file (not written)", job.snap_path,
                 "its blobs hold " + std::to_string(total) + " bytes, the snapshot says " + std::to_string(job.node.size)));
    return;
  }
  Fd fd(open(job.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd.valid()) {
    Report(ErrnoError("cannot create file", job.path, errno));
    return;
  }
  fd = Fd();
  PlannedFile& f = planned_.emplace_back();
  f.path = job.path;
  f.snap_path = job.snap_path;
  f.node = job.node;
  f.node.content.clear();
  f.node.content.shrink_to_fit();
  f.remaining = uint32_t(locs.size());
  if (locs.empty()) return FinishPlanned(f);
  uint64_t off = 0;
  for (size_t i = 0; i < locs.size(); ++i) {
    packs_[locs[i].pack].push_back(
        BlobWrite{locs[i].offset, locs[i].length, locs[i].uncompressed_length, job.node.content[i], &f, off});
    off += locs[i].PlainSize();
  }
}

void Restorer::FailPlanned(PlannedFile& f, const Error& e) {
  if (!f.failed.exchange(true)) Report(e.Wrap("cannot restore file (removed, not left incomplete)", f.snap_path));
}

void Restorer::FinishPlanned(PlannedFile& f) {
  if (f.failed) {
    unlink(f.path.c_str());
    return;
  }
  SetMeta(f.path, f.node, false);
  progress_->files_done++;
  std::lock_guard<std::mutex> l(mu_);
  sum_.files++;
  sum_.bytes += f.node.size;
}

void Restorer::RestorePack(const Id& pack, std::vector<BlobWrite>& writes) {
  std::sort(writes.begin(), writes.end(), [](const BlobWrite& a, const BlobWrite& b) {
    return a.offset != b.offset ? a.offset < b.offset
                                : (a.file != b.file ? a.file < b.file : a.file_offset < b.file_offset);
  });
  const repo::Handle h{repo::FileType::kPack, pack.Hex()};
  const std::string object = repo::ObjectName(repo::FileType::kPack, pack);
  thread_local Bytes raw, scratch, plain;
  std::vector<PlannedFile*> done;
  // Consecutive blobs mostly go to one file: keep it open between them.
  PlannedFile* open_file = nullptr;
  Fd fd;
  auto write = [&](PlannedFile& f, uint64_t offset) -> Status {
    if (open_file != &f) {
      fd = Fd(open(f.path.c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC));
      open_file = fd.valid() ? &f : nullptr;
      if (!fd.valid()) return ErrnoError("cannot open file", f.path, errno);
    }
    return WriteFull(fd.get(), plain.data(), plain.size(), int64_t(offset), f.path);
  };
  for (size_t i = 0; i < writes.size();) {
    uint64_t start = writes[i].offset, end = start + writes[i].length;
    size_t j = i + 1;
    while (j < writes.size() && writes[j].offset <= end + kReadGap &&
           uint64_t(writes[j].offset) + writes[j].length - start <= kMaxRead) {
      end = std::max(end, uint64_t(writes[j].offset) + writes[j].length);
      ++j;
    }
    Status read = repo_.backend().LoadInto(h, start, end - start, &raw);
    if (!read.ok()) read = read.error().Wrap("cannot read", object);
    for (size_t k = i; k < j;) {
      size_t m = k;
      while (m < j && writes[m].offset == writes[k].offset) ++m;
      const BlobWrite& b = writes[k];
      Status opened = read;
      if (opened.ok())
        opened = repo::OpenBlob(repo_.key(), raw.data() + (b.offset - start), b.length, b.uncompressed, b.id,
                                "data blob " + b.id.Hex() + " in " + object, &scratch, &plain);
      for (size_t q = k; q < m; ++q) {
        PlannedFile& f = *writes[q].file;
        Status s = opened;
        if (s.ok() && !f.failed) {
          s = write(f, writes[q].file_offset);
          if (s.ok()) progress_->bytes_done += plain.size();
        }
        if (!s.ok()) FailPlanned(f, s.error());
        if (--f.remaining == 0) done.push_back(&f);
      }
      k = m;
    }
    i = j;
  }
  fd = Fd();
  for (PlannedFile* f : done) FinishPlanned(*f);
}

void Restorer::RestoreNode(const Node& n, const std::string& path, const std::string& snap_path) {
  if (n.type == "file") {
    if (n.links > 1) {
      auto key = std::make_pair(n.device_id, n.inode);
      auto it = hardlinks_.find(key);
      if (it != hardlinks_.end()) {
        pending_links_.push_back(PendingLink{path, it->second, snap_path, n});
        return;
      }
      hardlinks_[key] = path;
      link_meta_[key] = n;
    }
    if (by_pack_) return PlanFile(FileJob{path, snap_path, n});
    if (n.size > 2 * kSegmentBytes && QueueSegments(n, path, snap_path)) return;
    batch_bytes_ += n.size;
    batch_.push_back(FileJob{path, snap_path, n});
    // Large directories are split so that both workers stay busy.
    if (batch_bytes_ > (64u << 20) || batch_.size() >= 4096) FlushBatch();
  } else if (n.type == "symlink") {
    unlink(path.c_str());
    if (symlink(n.linktarget.c_str(), path.c_str()) != 0) {
      Report(ErrnoError("cannot create symlink", path, errno));
      return;
    }
    SetMeta(path, n, true);
    std::lock_guard<std::mutex> l(mu_);
    sum_.files++;
  } else if (n.type == "fifo") {
    if (mkfifo(path.c_str(), 0600) != 0 && errno != EEXIST) Report(ErrnoError("cannot create fifo", path, errno));
    else SetMeta(path, n, false);
  } else if (n.type == "dev" || n.type == "chardev") {
    mode_t kind = n.type == "dev" ? S_IFBLK : S_IFCHR;
    if (mknod(path.c_str(), kind | 0600, dev_t(n.device)) != 0) Report(ErrnoError("cannot create device", path, errno));
    else SetMeta(path, n, false);
  }
  // sockets are not restored (as restic)
}

Status Restorer::RestoreTree(const Id& tree_id, const std::string& disk, const std::string& snap) {
  Tree t = MX_TRY(repo_.LoadTree(tree_id));
  FlushBatch();  // the parent's files so far; this directory starts its own batch
  for (const Node& n : t.nodes) {
    std::string dpath = disk + "/" + n.name;
    std::string spath = snap + "/" + n.name;
    if (!Selected(spath, n.type == "dir")) continue;
    if (n.type == "dir") {
      bool whole = opts_.includes.empty() || AncestorIncluded(spath);
      if (whole) {
        MX_CHECK(EnsureDir(dpath));
        dirs_.push_back(DirMeta{dpath, n});
        sum_.dirs++;
      } else {
        // Only create it if something below is restored: try, remove if empty.
        MX_CHECK(EnsureDir(dpath));
      }
      MX_CHECK(RestoreTree(*n.subtree, dpath, spath));
      if (!whole) rmdir(dpath.c_str());  // fails (keeps it) when not empty
      continue;
    }
    RestoreNode(n, dpath, spath);
  }
  FlushBatch();
  return Ok();
}

Result<RestoreSummary> Restorer::Run(const repo::Snapshot& snap) {
  auto t0 = std::chrono::steady_clock::now();
  by_pack_ = opts_.read == RestoreOptions::Read::kByPack ||
             (opts_.read == RestoreOptions::Read::kAuto && repo_.backend().Concurrency() > 1);
  // Locate the subtree (or single node) to restore.
  Id root = snap.tree;
  std::optional<Node> single;
  std::string snap_prefix;
  if (!opts_.subpath.empty()) {
    std::vector<std::string> parts;
    size_t pos = 0;
    std::string sp = opts_.subpath;
    while (pos <= sp.size()) {
      size_t next = sp.find('/', pos);
      if (next == std::string::npos) next = sp.size();
      if (next > pos) parts.push_back(sp.substr(pos, next - pos));
      pos = next + 1;
    }
    Id cur = root;
    for (size_t k = 0; k < parts.size(); ++k) {
      Tree t = MX_TRY(repo_.LoadTree(cur));
      auto it = std::find_if(t.nodes.begin(), t.nodes.end(), [&](const Node& n) { return n.name == parts[k]; });
      if (it == t.nodes.end())
        return Error(Code::kNotFound, "cannot find path in snapshot", "/" + sp, "'" + parts[k] + "' does not exist there");
      snap_prefix += "/" + parts[k];
      if (it->type == "dir" && it->subtree) {
        cur = *it->subtree;
      } else if (k + 1 == parts.size()) {
        single = *it;
      } else {
        return Error(Code::kNotFound, "cannot find path in snapshot", "/" + sp, "'" + parts[k] + "' is not a directory");
      }
    }
    root = cur;
  }

  // 1. Validate everything before writing anything.
  if (single) {
    std::string why = repo::UnsafeNameReason(single->name);
    if (!why.empty()) return Error(Code::kUnsafePath, "refusing to restore", snap_prefix, why);
    progress_->files_total = 1;
    progress_->bytes_total = single->size;
  } else {
    MX_CHECK(Validate(root, snap_prefix.empty() ? "/" : snap_prefix));
  }

  // 2. Write.
  MX_CHECK(MakeDirs(opts_.target, 0755));
  struct stat st;
  if (lstat(opts_.target.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return Error(Code::kIo, "cannot restore into", opts_.target, "not a directory");
  unsigned n = opts_.threads ? opts_.threads : std::max(2u, std::thread::hardware_concurrency());
  std::vector<std::thread> workers;
  if (!by_pack_)
    for (unsigned i = 0; i < n; ++i)
      workers.emplace_back([this] {
        while (auto batch = jobs_.Pop())
          for (const FileJob& job : *batch) job.split ? WriteSegment(job) : WriteFile(job);
      });
  Status walk;
  if (single) {
    RestoreNode(*single, opts_.target + "/" + single->name, snap_prefix);
    FlushBatch();
  } else {
    walk = RestoreTree(root, opts_.target, snap_prefix);
  }
  jobs_.Close();
  for (auto& t : workers) t.join();
  if (!walk.ok()) {
    for (PlannedFile& f : planned_)
      if (f.remaining > 0) unlink(f.path.c_str());  // created empty, never written
    return walk.error();
  }
  if (by_pack_) {
    // Every file is planned: read each pack once, a read per worker at a time.
    std::vector<std::pair<const Id, std::vector<BlobWrite>>*> order;
    order.reserve(packs_.size());
    for (auto& p : packs_) order.push_back(&p);
    workers.clear();
    std::atomic<size_t> next{0};
    unsigned readers = std::max(n, repo_.backend().Concurrency());
    readers = unsigned(std::min<size_t>(readers, std::max<size_t>(1, order.size())));
    for (unsigned i = 0; i < readers; ++i)
      workers.emplace_back([&] {
        for (size_t k; (k = next++) < order.size();) {
          RestorePack(order[k]->first, order[k]->second);
          std::vector<BlobWrite>().swap(order[k]->second);  // done: free its plan
        }
      });
    for (auto& t : workers) t.join();
  }

  for (const PendingLink& pl : pending_links_) {
    struct stat est;
    if (lstat(pl.existing.c_str(), &est) != 0) {
      // The first name failed (reported) — write this one as its own copy.
      WriteFile(FileJob{pl.path, pl.snap_path, pl.node});
      continue;
    }
    unlink(pl.path.c_str());
    if (link(pl.existing.c_str(), pl.path.c_str()) != 0) Report(ErrnoError("cannot create hard link", pl.path, errno));
    else sum_.links++;
  }
  for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) SetMeta(it->path, it->node, false);
  sum_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return sum_;
}

}  // namespace

Result<RestoreSummary> Restore(repo::Repository& repo, const repo::Snapshot& snapshot,
                               const RestoreOptions& opts, RestoreProgress* progress) {
  Restorer r(repo, opts, progress);
  return r.Run(snapshot);
}

}  // namespace mx::vault
