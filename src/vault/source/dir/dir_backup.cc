#include "vault/source/dir/dir_backup.h"

#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "common/fs.h"
#include "common/host.h"
#include "common/log.h"
#include "common/queue.h"
#include "repo/blob_saver.h"
#include "repo/chunker.h"

namespace mx::vault {
using repo::BlobType;
using repo::Id;
using repo::Node;
using repo::Tree;

std::vector<std::string> TargetComponents(const std::string& target) {
  std::vector<std::string> out;
  bool absolute = !target.empty() && target[0] == '/';
  size_t pos = 0;
  while (pos <= target.size()) {
    size_t next = target.find('/', pos);
    if (next == std::string::npos) next = target.size();
    std::string part = target.substr(pos, next - pos);
    pos = next + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (absolute && !out.empty()) out.pop_back();
      else if (!absolute && !out.empty()) out.pop_back();
      continue;
    }
    out.push_back(part);
  }
  return out;
}

namespace {

std::string AbsolutePath(const std::string& p) {
  std::string base;
  if (p.empty() || p[0] != '/') {
    char cwd[4096];
    if (getcwd(cwd, sizeof(cwd))) base = cwd;
  }
  std::string joined = base.empty() ? p : base + "/" + p;
  std::string out;
  for (const std::string& c : TargetComponents(joined)) out += "/" + c;
  return out.empty() ? "/" : out;
}

class NameCache {
 public:
  std::string User(uint32_t uid) {
    std::lock_guard<std::mutex> l(mu_);
    auto it = users_.find(uid);
    if (it != users_.end()) return it->second;
    char buf[4096];
    struct passwd pw, *res = nullptr;
    std::string name;
    if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) == 0 && res) name = res->pw_name;
    return users_[uid] = name;
  }
  std::string Group(uint32_t gid) {
    std::lock_guard<std::mutex> l(mu_);
    auto it = groups_.find(gid);
    if (it != groups_.end()) return it->second;
    char buf[4096];
    struct group gr, *res = nullptr;
    std::string name;
    if (getgrgid_r(gid, &gr, buf, sizeof(buf), &res) == 0 && res) name = res->gr_name;
    return groups_[gid] = name;
  }

 private:
  std::mutex mu_;
  std::unordered_map<uint32_t, std::string> users_, groups_;
};

Timestamp Ts(const struct timespec& t) { return Timestamp{t.tv_sec, int32_t(t.tv_nsec)}; }

struct DirState;

struct FileState {
  DirState* dir;
  size_t node;
  std::string path;
  struct stat st;
  std::deque<Id> content;         // slots filled by blob workers
  std::atomic<int> pending{1};    // outstanding chunks + the reader's hold
  uint64_t size = 0;
  bool failed = false;
};

struct DirState {
  DirState* parent = nullptr;
  size_t node_in_parent = 0;
  std::string path;
  Tree tree;
  std::vector<bool> drop;  // nodes to leave out (unreadable files)
  std::optional<Id> previous;  // the parent snapshot's tree id for this directory
  std::atomic<int> pending{1};
};

struct ChunkJob {
  FileState* file;
  Id* slot;
  Bytes data;
};

class Archiver {
 public:
  Archiver(repo::Repository& repo, const BackupOptions& opts, BackupProgress* progress)
      : repo_(repo), opts_(opts), progress_(progress ? progress : &own_progress_),
        saver_(repo), budget_(24ull << 20), files_(256), chunks_(1 << 16), buffers_(8, 3 << 20) {}

  Result<BackupSummary> Run();

 private:
  struct VirtualDir {
    std::map<std::string, VirtualDir> children;
    std::string real_path;  // the directory this component names on disk
    std::string target;     // non-empty for a backup target
  };

  bool Excluded(const std::string& abs_path, const std::string& name) const;
  bool FillNode(const std::string& path, const std::string& name, Node* node, struct stat* st);
  void WalkDir(DirState* ds, const Tree* previous);
  void WalkVirtual(const VirtualDir& v, DirState* ds, const Tree* previous);
  void AddEntries(DirState* ds, std::vector<std::pair<std::string, std::string>> entries,
                  const Tree* previous);
  void Dispatch(DirState* ds, size_t i, const std::string& path, const struct stat& st,
                const Tree* previous);
  std::optional<Tree> LoadPrevious(const Tree* previous, const std::string& name);
  void ReaderLoop();
  void WorkerLoop();
  void ReadFile(FileState* f);
  void ChildDone(DirState* ds);
  void FileDone(FileState* f);
  void Fail(Error e);
  void FileError(Error e);
  void CountTotals(std::vector<std::string> roots);

  repo::Repository& repo_;
  const BackupOptions& opts_;
  BackupProgress own_progress_;
  BackupProgress* progress_;
  repo::BlobSaver saver_;
  ByteBudget budget_;
  BoundedQueue<FileState*> files_;
  BoundedQueue<ChunkJob> chunks_;
  BufferPool<Bytes> buffers_;  // chunk buffers, recycled by the blob workers
  NameCache names_;

  std::mutex mu_;
  std::condition_variable root_cv_;
  std::optional<Id> root_;                // GUARDED_BY(mu_)
  std::optional<Error> fatal_;            // GUARDED_BY(mu_)
  std::vector<Error> file_errors_;        // GUARDED_BY(mu_)
  std::atomic<bool> abort_{false};
  std::atomic<uint64_t> files_new_{0}, files_changed_{0}, files_unmodified_{0};
  std::atomic<uint64_t> dirs_new_{0}, dirs_changed_{0}, dirs_unmodified_{0};
  std::atomic<uint64_t> files_seen_{0}, bytes_seen_{0};
};

void Archiver::Fail(Error e) {
  std::lock_guard<std::mutex> l(mu_);
  if (!fatal_) fatal_ = std::move(e);
  abort_ = true;
  root_cv_.notify_all();
}

void Archiver::FileError(Error e) {
  log::Warn(e.Message());
  progress_->errors++;
  std::lock_guard<std::mutex> l(mu_);
  file_errors_.push_back(std::move(e));
}

bool Archiver::Excluded(const std::string& path, const std::string& name) const {
  if (opts_.excludes.empty()) return false;
  std::string abs_path;
  for (const std::string& pat : opts_.excludes) {
    if (pat.find('/') == std::string::npos) {
      if (fnmatch(pat.c_str(), name.c_str(), 0) == 0) return true;
      continue;
    }
    if (abs_path.empty()) abs_path = AbsolutePath(path);
    if (fnmatch(pat.c_str(), abs_path.c_str(), 0) == 0) return true;
    if (pat[0] != '/') {  // relative pattern: match any path suffix
      for (size_t p = abs_path.find('/'); p != std::string::npos; p = abs_path.find('/', p + 1))
        if (fnmatch(pat.c_str(), abs_path.c_str() + p + 1, 0) == 0) return true;
    }
  }
  return false;
}

bool Archiver::FillNode(const std::string& path, const std::string& name, Node* n, struct stat* st) {
  if (lstat(path.c_str(), st) != 0) {
    FileError(ErrnoError("cannot stat", path, errno));
    return false;
  }
  n->name = name;
  n->mode = repo::GoModeFromPosix(st->st_mode);
  n->mtime = Ts(st->st_mtim);
  n->atime = Ts(st->st_atim);
  n->ctime = Ts(st->st_ctim);
  n->uid = st->st_uid;
  n->gid = st->st_gid;
  n->user = names_.User(st->st_uid);
  n->group = names_.Group(st->st_gid);
  n->inode = st->st_ino;
  n->device_id = st->st_dev;
  n->links = st->st_nlink;
  switch (st->st_mode & S_IFMT) {
    case S_IFREG: n->type = "file"; n->size = uint64_t(st->st_size); break;
    case S_IFDIR: n->type = "dir"; break;
    case S_IFLNK: {
      n->type = "symlink";
      std::string target(size_t(st->st_size) + 1, '\0');
      for (;;) {
        ssize_t r = readlink(path.c_str(), target.data(), target.size());
        if (r < 0) {
          FileError(ErrnoError("cannot read symlink", path, errno));
          return false;
        }
        if (size_t(r) < target.size()) {
          target.resize(size_t(r));
          break;
        }
        target.resize(target.size() * 2);
      }
      n->linktarget = target;
      break;
    }
    case S_IFBLK: n->type = "dev"; n->device = st->st_rdev; break;
    case S_IFCHR: n->type = "chardev"; n->device = st->st_rdev; break;
    case S_IFIFO: n->type = "fifo"; break;
    case S_IFSOCK: n->type = "socket"; break;
    default: n->type = "file"; break;
  }
  return true;
}

std::optional<Tree> Archiver::LoadPrevious(const Tree* previous, const std::string& name) {
  if (!previous) return std::nullopt;
  auto it = std::lower_bound(previous->nodes.begin(), previous->nodes.end(), name,
                             [](const Node& n, const std::string& k) { return n.name < k; });
  if (it == previous->nodes.end() || it->name != name || it->type != "dir" || !it->subtree)
    return std::nullopt;
  auto t = repo_.LoadTree(*it->subtree);
  if (!t.ok()) {
    log::Warn("cannot use the parent snapshot's tree for " + name + ": " + t.error().Message());
    return std::nullopt;
  }
  return std::move(*t);
}

void Archiver::Dispatch(DirState* ds, size_t i, const std::string& path, const struct stat& st,
                        const Tree* previous) {
  Node& n = ds->tree.nodes[i];
  const Node* old = nullptr;
  if (previous) {
    auto it = std::lower_bound(previous->nodes.begin(), previous->nodes.end(), n.name,
                               [](const Node& x, const std::string& k) { return x.name < k; });
    if (it != previous->nodes.end() && it->name == n.name) old = &*it;
  }
  if (n.type == "dir") {
    auto* child = new DirState;
    child->parent = ds;
    child->node_in_parent = i;
    child->path = path;
    if (old && old->type == "dir") child->previous = old->subtree;
    else ++dirs_new_;
    std::optional<Tree> prev = LoadPrevious(previous, n.name);
    ds->pending++;
    WalkDir(child, prev ? &*prev : nullptr);
    return;
  }
  if (n.type != "file") return;
  files_seen_++;
  bytes_seen_ += n.size;
  if (old && !opts_.force && old->type == "file" && old->size == n.size && old->mtime == n.mtime &&
      old->ctime == n.ctime && old->inode == n.inode) {
    bool all_present = true;
    for (const Id& c : old->content)
      if (!repo_.index().Has(BlobType::kData, c)) { all_present = false; break; }
    if (all_present) {
      n.content = old->content;
      files_unmodified_++;
      progress_->files_done++;
      progress_->bytes_done += n.size;
      return;
    }
  }
  (old ? files_changed_ : files_new_)++;
  auto* f = new FileState;
  f->dir = ds;
  f->node = i;
  f->path = path;
  f->st = st;
  ds->pending++;
  files_.Push(f);
}

void Archiver::AddEntries(DirState* ds, std::vector<std::pair<std::string, std::string>> entries,
                          const Tree* previous) {
  std::sort(entries.begin(), entries.end());
  std::vector<struct stat> stats;
  std::vector<std::string> paths;
  for (auto& [name, path] : entries) {
    Node n;
    struct stat st;
    if (!FillNode(path, name, &n, &st)) continue;
    ds->tree.nodes.push_back(std::move(n));
    stats.push_back(st);
    paths.push_back(path);
  }
  ds->drop.assign(ds->tree.nodes.size(), false);
  for (size_t i = 0; i < ds->tree.nodes.size() && !abort_; ++i) Dispatch(ds, i, paths[i], stats[i], previous);
}

void Archiver::WalkDir(DirState* ds, const Tree* previous) {
  std::vector<std::pair<std::string, std::string>> entries;
  DIR* d = opendir(ds->path.c_str());
  if (!d) {
    FileError(ErrnoError("cannot read directory", ds->path, errno));
  } else {
    while (struct dirent* e = readdir(d)) {
      std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      std::string path = ds->path == "/" ? "/" + name : ds->path + "/" + name;
      if (Excluded(path, name)) continue;
      entries.emplace_back(name, std::move(path));
    }
    closedir(d);
  }
  AddEntries(ds, std::move(entries), previous);
  ChildDone(ds);
}

void Archiver::WalkVirtual(const VirtualDir& v, DirState* ds, const Tree* previous) {
  std::vector<std::pair<std::string, std::string>> leaves;
  std::vector<std::pair<std::string, const VirtualDir*>> inner;
  for (const auto& [name, child] : v.children) {
    if (!child.target.empty()) leaves.emplace_back(name, child.target);
    else inner.emplace_back(name, &child);
  }
  // Intermediate directories carry the metadata of the real directory.
  for (const auto& [name, child] : inner) leaves.emplace_back(name, child->real_path);
  std::sort(leaves.begin(), leaves.end());
  for (auto& [name, path] : leaves) {
    Node n;
    struct stat st;
    if (!FillNode(path, name, &n, &st)) continue;
    ds->tree.nodes.push_back(std::move(n));
  }
  ds->drop.assign(ds->tree.nodes.size(), false);
  for (size_t i = 0; i < ds->tree.nodes.size() && !abort_; ++i) {
    Node& n = ds->tree.nodes[i];
    auto vit = v.children.find(n.name);
    const VirtualDir& child = vit->second;
    if (!child.target.empty()) {
      struct stat st;
      lstat(child.target.c_str(), &st);
      Dispatch(ds, i, child.target, st, previous);
      continue;
    }
    auto* sub = new DirState;
    sub->parent = ds;
    sub->node_in_parent = i;
    sub->path = child.real_path;
    std::optional<Tree> prev = LoadPrevious(previous, n.name);
    ds->pending++;
    WalkVirtual(child, sub, prev ? &*prev : nullptr);
  }
  ChildDone(ds);
}

void Archiver::ChildDone(DirState* ds) {
  if (--ds->pending != 0) return;
  Tree out;
  out.nodes.reserve(ds->tree.nodes.size());
  for (size_t i = 0; i < ds->tree.nodes.size(); ++i)
    if (!ds->drop[i]) out.nodes.push_back(std::move(ds->tree.nodes[i]));
  std::string json = repo::SerializeTree(out);
  const auto* p = reinterpret_cast<const uint8_t*>(json.data());
  Id id = Id::Hash(p, json.size());
  if (!abort_) {
    auto r = saver_.Save(BlobType::kTree, id, p, json.size());
    if (!r.ok()) Fail(std::move(r).error());
  }
  if (ds->parent) {
    if (ds->previous) (*ds->previous == id ? dirs_unmodified_ : dirs_changed_)++;
    ds->parent->tree.nodes[ds->node_in_parent].subtree = id;
    DirState* parent = ds->parent;
    delete ds;
    ChildDone(parent);
  } else {
    delete ds;
    std::lock_guard<std::mutex> l(mu_);
    root_ = id;
    root_cv_.notify_all();
  }
}

void Archiver::FileDone(FileState* f) {
  if (--f->pending != 0) return;
  Node& n = f->dir->tree.nodes[f->node];
  if (f->failed) {
    f->dir->drop[f->node] = true;
  } else {
    n.content.assign(f->content.begin(), f->content.end());
    n.size = f->size;
  }
  progress_->files_done++;
  DirState* d = f->dir;
  delete f;
  ChildDone(d);
}

void Archiver::ReadFile(FileState* f) {
  auto emit = [&](Bytes&& data) {
    budget_.Acquire(data.size());
    f->content.emplace_back();
    f->pending++;
    f->size += data.size();
    chunks_.Push(ChunkJob{f, &f->content.back(), std::move(data)});
  };
  int fd = open(f->path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOATIME);
  if (fd < 0 && errno == EPERM) fd = open(f->path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    FileError(ErrnoError("cannot open", f->path, errno));
    f->failed = true;
    FileDone(f);
    return;
  }
  Fd guard(fd);
  posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  constexpr size_t kBlock = 512 * 1024;
  if (uint64_t(f->st.st_size) < repo::kChunkMinSize) {
    // Smaller than the minimum chunk: exactly one chunk, no chunker needed.
    Bytes data = buffers_.Get(size_t(f->st.st_size) + 1);
    data.resize(size_t(f->st.st_size) + 1);
    size_t got = 0;
    for (;;) {
      if (got == data.size()) data.resize(data.size() * 2);
      ssize_t r = read(fd, data.data() + got, data.size() - got);
      if (r < 0) {
        if (errno == EINTR) continue;
        FileError(ErrnoError("cannot read", f->path, errno));
        f->failed = true;
        break;
      }
      if (r == 0) break;
      got += size_t(r);
      progress_->bytes_done += uint64_t(r);
      if (got >= repo::kChunkMinSize) break;  // it grew: fall through to chunking
    }
    if (!f->failed && got < repo::kChunkMinSize) {
      data.resize(got);
      if (got) emit(std::move(data));
      FileDone(f);
      return;
    }
    if (f->failed) {
      FileDone(f);
      return;
    }
    lseek(fd, 0, SEEK_SET);
    progress_->bytes_done -= got;
  }
  repo::Chunker chunker(repo_.config().chunker_polynomial);
  constexpr size_t kChunkBuffer = 2 * 1024 * 1024;
  Bytes cur = buffers_.Get(kChunkBuffer);
  size_t scanned = 0;  // bytes of `cur` already fed to the chunker
  for (;;) {
    if (abort_) { f->failed = true; break; }
    size_t old = cur.size();
    if (cur.capacity() < old + kBlock)  // never beyond one maximal chunk
      cur.reserve(std::min(std::max(cur.capacity() * 2, old + kBlock), repo::kChunkMaxSize + kBlock));
    cur.resize(old + kBlock);
    ssize_t r = read(fd, cur.data() + old, kBlock);
    if (r < 0) {
      if (errno == EINTR) { cur.resize(old); continue; }
      FileError(ErrnoError("cannot read", f->path, errno));
      f->failed = true;
      break;
    }
    cur.resize(old + size_t(r));
    if (r == 0) {
      if (!cur.empty()) emit(std::move(cur));
      break;
    }
    progress_->bytes_done += uint64_t(r);
    while (scanned < cur.size()) {
      size_t split = chunker.Next(cur.data() + scanned, cur.size() - scanned);
      if (split == 0) {
        scanned = cur.size();
        break;
      }
      size_t end = scanned + split;
      Bytes rest = buffers_.Get(kChunkBuffer);
      rest.assign(cur.begin() + end, cur.end());
      cur.resize(end);
      emit(std::move(cur));
      cur = std::move(rest);
      scanned = 0;
    }
  }
  FileDone(f);
}

void Archiver::ReaderLoop() {
  while (auto f = files_.Pop()) ReadFile(*f);
}

void Archiver::WorkerLoop() {
  while (auto job = chunks_.Pop()) {
    size_t n = job->data.size();
    Id id = Id::Hash(job->data.data(), n);
    *job->slot = id;
    if (!abort_) {
      auto r = saver_.Save(BlobType::kData, id, job->data.data(), n);
      if (!r.ok()) Fail(std::move(r).error());
    }
    buffers_.Put(std::move(job->data));
    budget_.Release(n);
    FileDone(job->file);
  }
}

void Archiver::CountTotals(std::vector<std::string> roots) {
  std::vector<std::string> stack = std::move(roots);
  uint64_t files = 0, bytes = 0;
  while (!stack.empty() && !abort_) {
    std::string p = std::move(stack.back());
    stack.pop_back();
    struct stat st;
    if (lstat(p.c_str(), &st) != 0) continue;
    if (S_ISREG(st.st_mode)) {
      ++files;
      bytes += uint64_t(st.st_size);
      progress_->files_total = files;
      progress_->bytes_total = bytes;
    } else if (S_ISDIR(st.st_mode)) {
      DIR* d = opendir(p.c_str());
      if (!d) continue;
      while (struct dirent* e = readdir(d)) {
        std::string name = e->d_name;
        if (name == "." || name == "..") continue;
        std::string child = p == "/" ? "/" + name : p + "/" + name;
        if (!Excluded(child, name)) stack.push_back(child);
      }
      closedir(d);
    }
  }
  progress_->totals_known = true;
}

Result<BackupSummary> Archiver::Run() {
  auto t0 = std::chrono::steady_clock::now();
  BackupSummary sum;
  if (opts_.paths.empty())
    return Error(Code::kUsage, "nothing to back up", "", "no paths were given");

  // Targets → virtual root; "." and similar expand to their entries.
  VirtualDir root;
  std::vector<std::string> abs_paths, real_targets;
  for (const std::string& raw : opts_.paths) {
    struct stat st;
    if (lstat(raw.c_str(), &st) != 0)
      return ErrnoError("cannot back up", raw, errno);
    std::vector<std::string> targets{raw};
    if (TargetComponents(raw).empty()) {
      if (raw.size() && raw[0] == '/')
        return Error(Code::kUsage, "cannot back up", raw, "backing up '/' itself is not supported; name its directories");
      targets.clear();
      DIR* d = opendir(raw.c_str());
      if (!d) return ErrnoError("cannot read directory", raw, errno);
      while (struct dirent* e = readdir(d)) {
        std::string n = e->d_name;
        if (n != "." && n != "..") targets.push_back(raw + "/" + n);
      }
      closedir(d);
    }
    abs_paths.push_back(AbsolutePath(raw));
    for (const std::string& t : targets) {
      if (Excluded(t, TargetComponents(t).back())) continue;
      std::vector<std::string> comps = TargetComponents(t);
      VirtualDir* v = &root;
      // For relative targets with leading "..", intermediate metadata comes
      // from the real path; rebuild it from the absolute form.
      std::string abs = AbsolutePath(t);
      std::vector<std::string> abs_comps = TargetComponents(abs);
      size_t skip = abs_comps.size() - comps.size();
      std::string real = "";
      for (size_t k = 0; k < skip; ++k) real += "/" + abs_comps[k];
      for (size_t k = 0; k < comps.size(); ++k) {
        real += "/" + comps[k];
        v = &v->children[comps[k]];
        if (k + 1 == comps.size()) v->target = t;
        else if (v->real_path.empty()) v->real_path = real;
      }
      real_targets.push_back(t);
    }
  }
  std::sort(abs_paths.begin(), abs_paths.end());
  abs_paths.erase(std::unique(abs_paths.begin(), abs_paths.end()), abs_paths.end());

  // Parent snapshot.
  std::optional<Tree> previous;
  if (!opts_.force) {
    std::optional<Id> parent_id = opts_.parent;
    if (!parent_id) {
      auto snaps = MX_TRY(repo_.ListSnapshots());
      for (auto it = snaps.rbegin(); it != snaps.rend(); ++it) {
        std::vector<std::string> p = it->second.paths;
        std::sort(p.begin(), p.end());
        if (it->second.hostname == opts_.hostname && p == abs_paths) {
          parent_id = it->first;
          break;
        }
      }
    }
    if (parent_id) {
      auto raw = MX_TRY(repo_.LoadFile(repo::FileType::kSnapshot, *parent_id));
      auto snap = MX_TRY(repo::ParseSnapshot(raw, repo::ObjectName(repo::FileType::kSnapshot, *parent_id)));
      auto tree = repo_.LoadTree(snap.tree);
      if (tree.ok()) {
        previous = std::move(*tree);
        sum.parent = parent_id;
      } else {
        log::Warn("cannot read the parent snapshot's tree, reading every file: " + tree.error().Message());
      }
    }
  }

  unsigned n = opts_.threads ? opts_.threads : std::max(2u, std::thread::hardware_concurrency());
  std::vector<std::thread> readers, workers;
  for (unsigned i = 0; i < n; ++i) readers.emplace_back([this] { ReaderLoop(); });
  for (unsigned i = 0; i < n; ++i) workers.emplace_back([this] { WorkerLoop(); });
  std::thread counter;
  if (opts_.count_totals) counter = std::thread([this, real_targets] { CountTotals(real_targets); });

  auto* top = new DirState;
  top->path = "";
  WalkVirtual(root, top, previous ? &*previous : nullptr);

  files_.Close();
  for (auto& t : readers) t.join();
  chunks_.Close();
  for (auto& t : workers) t.join();
  if (counter.joinable()) counter.join();

  {
    std::unique_lock<std::mutex> l(mu_);
    root_cv_.wait(l, [&] { return root_.has_value() || fatal_.has_value(); });
    if (fatal_) return *fatal_;
  }
  MX_CHECK(saver_.Finish());

  repo::Snapshot snap;
  snap.time = Now();
  snap.parent = sum.parent;
  snap.tree = *root_;
  snap.paths = abs_paths;
  snap.hostname = opts_.hostname;
  snap.username = Username();
  snap.uid = getuid();
  snap.gid = getgid();
  snap.excludes = opts_.excludes;
  snap.tags = opts_.tags;
  snap.program_version = opts_.program_version;
  sum.snapshot_id = MX_TRY(repo_.SaveFile(repo::FileType::kSnapshot, repo::SerializeSnapshot(snap)));
  sum.snapshot = snap;
  sum.files_new = files_new_;
  sum.files_changed = files_changed_;
  sum.files_unmodified = files_unmodified_;
  sum.dirs_new = dirs_new_;
  sum.dirs_changed = dirs_changed_;
  sum.dirs_unmodified = dirs_unmodified_;
  sum.data_blobs = saver_.stats().data_blobs;
  sum.tree_blobs = saver_.stats().tree_blobs;
  sum.data_added = saver_.stats().bytes_added;
  sum.data_added_packed = saver_.stats().bytes_added_packed;
  sum.total_files_processed = files_seen_;
  sum.total_bytes_processed = bytes_seen_;
  sum.file_errors = file_errors_;
  sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return sum;
}

}  // namespace

Result<BackupSummary> Backup(repo::Repository& repo, const BackupOptions& opts,
                             BackupProgress* progress) {
  Archiver a(repo, opts, progress);
  return a.Run();
}

}  // namespace mx::vault
