// Restores of hostile snapshots: every unsafe name fails before anything is
// written, and nothing ever appears outside the target.
#include "vault/restore/restorer.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>

#include "backend/local/local_backend.h"
#include "repo/blob_saver.h"
#include "tests/support/temp_dir.h"
#include "vault/source/dir/dir_backup.h"

namespace mx::vault {
namespace {
using repo::BlobType;
using repo::Id;
using repo::Node;
using repo::Tree;

// Every test runs twice: reading blob by blob (a local disk) and pack by pack
// (what object storage gets).
class RestoreTest : public testing::TestWithParam<RestoreOptions::Read> {
 protected:
  void SetUp() override {
    auto be = std::make_shared<backend::LocalBackend>(dir_.path() + "/repo");
    auto r = repo::Repository::Init(be, "pw", 2, repo::KdfParams{1024, 8, 1});
    ASSERT_TRUE(r.ok()) << r.error().Message();
    repo_ = std::move(*r);
  }

  // Writes `tree` (with one data blob "hello") and a snapshot of it.
  repo::Snapshot SnapshotOf(std::vector<Node> nodes) {
    repo::BlobSaver saver(*repo_);
    std::string hello = "hello";
    Id data = Id::Hash(reinterpret_cast<const uint8_t*>(hello.data()), hello.size());
    EXPECT_TRUE(saver.Save(BlobType::kData, data, reinterpret_cast<const uint8_t*>(hello.data()), 5).ok());
    for (Node& n : nodes)
      if (n.type == "file") {
        n.content = {data};
        n.size = 5;
      }
    Tree t;
    t.nodes = std::move(nodes);
    std::string json = repo::SerializeTree(t);
    Id tid = Id::Hash(reinterpret_cast<const uint8_t*>(json.data()), json.size());
    EXPECT_TRUE(saver.Save(BlobType::kTree, tid, reinterpret_cast<const uint8_t*>(json.data()), json.size()).ok());
    EXPECT_TRUE(saver.Finish().ok());
    repo::Snapshot s;
    s.tree = tid;
    return s;
  }

  static Node File(const std::string& name) {
    Node n;
    n.name = name;
    n.type = "file";
    n.mode = 0644;
    return n;
  }

  size_t CountEntries(const std::string& path) {
    size_t n = 0;
    for (auto it = std::filesystem::recursive_directory_iterator(path);
         it != std::filesystem::recursive_directory_iterator(); ++it)
      ++n;
    return n;
  }

  mx::test::TempDir dir_;
  std::unique_ptr<repo::Repository> repo_;
};

TEST_P(RestoreTest, RejectsTraversalAbsoluteAndNulNamesWithoutWriting) {
  for (std::string evil : {std::string("../x"), std::string("/etc/x"), std::string(".."),
                           std::string("a\0b", 3), std::string("")}) {
    repo::Snapshot snap = SnapshotOf({File("aaa-good"), File(evil)});
    std::string target = dir_.path() + "/out";
    std::filesystem::remove_all(target);
    RestoreOptions opts;
    opts.read = GetParam();
    opts.target = target;
    auto r = Restore(*repo_, snap, opts, nullptr);
    ASSERT_FALSE(r.ok()) << "accepted name of length " << evil.size();
    EXPECT_EQ(r.error().code(), Code::kUnsafePath);
    EXPECT_NE(r.error().Message().find(snap.tree.Short()), std::string::npos) << r.error().Message();
    // Nothing written: not even the good file, and nothing beside the target.
    EXPECT_FALSE(std::filesystem::exists(target + "/aaa-good"));
    EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/x"));
  }
}

TEST_P(RestoreTest, NeverWritesThroughASymlinkInTheTarget) {
  // A pre-existing symlink in the target where the snapshot has a directory.
  repo::BlobSaver saver(*repo_);
  Tree inner;
  inner.nodes = {File("f")};
  (void)saver;
  repo::Snapshot s = SnapshotOf({File("f")});
  Tree outer;
  Node d;
  d.name = "sub";
  d.type = "dir";
  d.mode = repo::kGoModeDir | 0755;
  d.subtree = s.tree;
  outer.nodes = {d};
  std::string json = repo::SerializeTree(outer);
  Id tid = Id::Hash(reinterpret_cast<const uint8_t*>(json.data()), json.size());
  repo::BlobSaver saver2(*repo_);
  ASSERT_TRUE(saver2.Save(BlobType::kTree, tid, reinterpret_cast<const uint8_t*>(json.data()), json.size()).ok());
  ASSERT_TRUE(saver2.Finish().ok());
  repo::Snapshot snap;
  snap.tree = tid;

  std::string target = dir_.path() + "/out2", elsewhere = dir_.path() + "/elsewhere";
  std::filesystem::create_directories(target);
  std::filesystem::create_directories(elsewhere);
  ASSERT_EQ(symlink(elsewhere.c_str(), (target + "/sub").c_str()), 0);
  RestoreOptions opts;
  opts.read = GetParam();
  opts.target = target;
  auto r = Restore(*repo_, snap, opts, nullptr);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(CountEntries(elsewhere), 0u);
}

TEST_P(RestoreTest, BackupThenRestoreIsByteExact) {
  std::string src = dir_.path() + "/src";
  std::filesystem::create_directories(src + "/d/e");
  std::ofstream(src + "/d/a.txt") << "alpha";
  std::ofstream(src + "/d/e/b.bin") << std::string(3 << 20, 'b');
  std::ofstream(src + "/empty");
  // Blobs shared between files and repeated within one file.
  Bytes r3 = repo::RandomBytes(3u << 20);
  std::string thrice(reinterpret_cast<const char*>(r3.data()), r3.size());
  thrice = thrice + thrice + thrice;
  std::ofstream(src + "/d/thrice.bin", std::ios::binary) << thrice;
  std::ofstream(src + "/d/e/copy.bin") << std::string(3 << 20, 'b');
  ASSERT_EQ(symlink("d/a.txt", (src + "/link").c_str()), 0);
  ASSERT_EQ(link((src + "/d/a.txt").c_str(), (src + "/hard").c_str()), 0);
  ASSERT_TRUE(repo_->LoadIndex().ok());
  BackupOptions bo;
  bo.paths = {src};
  bo.hostname = "h";
  auto b = Backup(*repo_, bo, nullptr);
  ASSERT_TRUE(b.ok()) << b.error().Message();
  EXPECT_EQ(b->file_errors.size(), 0u);

  RestoreOptions ro;
  ro.read = GetParam();
  ro.target = dir_.path() + "/out";
  auto r = Restore(*repo_, b->snapshot, ro, nullptr);
  ASSERT_TRUE(r.ok()) << r.error().Message();
  std::string out = ro.target + src;
  auto read = [](const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  EXPECT_EQ(read(out + "/d/a.txt"), "alpha");
  EXPECT_EQ(read(out + "/d/e/b.bin"), std::string(3 << 20, 'b'));
  EXPECT_EQ(read(out + "/d/e/copy.bin"), std::string(3 << 20, 'b'));
  EXPECT_TRUE(read(out + "/d/thrice.bin") == thrice);
  EXPECT_EQ(read(out + "/empty"), "");
  EXPECT_EQ(r->files, 6u);
  EXPECT_TRUE(r->errors.empty());
  EXPECT_TRUE(std::filesystem::is_symlink(out + "/link"));
  struct stat s1, s2;
  ASSERT_EQ(stat((out + "/hard").c_str(), &s1), 0);
  ASSERT_EQ(stat((out + "/d/a.txt").c_str(), &s2), 0);
  EXPECT_EQ(s1.st_ino, s2.st_ino);  // hard link restored as a hard link

  // A second backup reads nothing and adds no data.
  auto b2 = Backup(*repo_, bo, nullptr);
  ASSERT_TRUE(b2.ok());
  EXPECT_EQ(b2->data_blobs, 0u);
  EXPECT_EQ(b2->files_unmodified, 6u);
}

TEST_P(RestoreTest, LargeFilesRestoreInSegmentsAndAFailedSegmentRemovesTheFile) {
  std::string src = dir_.path() + "/big";
  std::filesystem::create_directories(src);
  Bytes data = repo::RandomBytes(80u << 20);  // > 2 segments of 32 MiB
  {
    std::ofstream out(src + "/f.bin", std::ios::binary);
    out.write(reinterpret_cast<const char*>(data.data()), std::streamsize(data.size()));
  }
  ASSERT_TRUE(repo_->LoadIndex().ok());
  BackupOptions bo;
  bo.paths = {src};
  auto b = Backup(*repo_, bo, nullptr);
  ASSERT_TRUE(b.ok()) << b.error().Message();

  RestoreOptions ro;
  ro.read = GetParam();
  ro.target = dir_.path() + "/out";
  ASSERT_TRUE(Restore(*repo_, b->snapshot, ro, nullptr).ok());
  std::ifstream in(ro.target + src + "/f.bin", std::ios::binary);
  std::string got((std::istreambuf_iterator<char>(in)), {});
  ASSERT_EQ(got.size(), data.size());
  EXPECT_EQ(std::memcmp(got.data(), data.data(), data.size()), 0);

  // Remove the pack holding a blob in the middle of the file.
  Tree top = *repo_->LoadTree(b->snapshot.tree);
  Id cur = *top.nodes[0].subtree;  // walk down to the file node
  Node file;
  for (;;) {
    Tree t = *repo_->LoadTree(cur);
    if (t.nodes[0].type == "file") { file = t.nodes[0]; break; }
    cur = *t.nodes[0].subtree;
  }
  ASSERT_GT(file.content.size(), 40u);
  auto loc = repo_->index().Lookup(BlobType::kData, file.content[file.content.size() / 2]);
  ASSERT_TRUE(loc.has_value());
  std::string pack = loc->pack.Hex();
  std::filesystem::remove(dir_.path() + "/repo/data/" + pack.substr(0, 2) + "/" + pack);
  ro.target = dir_.path() + "/out2";
  auto r = Restore(*repo_, b->snapshot, ro, nullptr);
  ASSERT_TRUE(r.ok());
  ASSERT_FALSE(r->errors.empty());
  EXPECT_NE(r->errors[0].Message().find("f.bin"), std::string::npos) << r->errors[0].Message();
  EXPECT_FALSE(std::filesystem::exists(ro.target + src + "/f.bin"));  // removed, not partial
}

INSTANTIATE_TEST_SUITE_P(ReadModes, RestoreTest,
                         testing::Values(RestoreOptions::Read::kByBlob, RestoreOptions::Read::kByPack),
                         [](const testing::TestParamInfo<RestoreOptions::Read>& i) {
                           return std::string(i.param == RestoreOptions::Read::kByPack ? "ByPack" : "ByBlob");
                         });

TEST(TargetComponents, DropsDotsLikeRestic) {
  EXPECT_EQ(TargetComponents("src"), (std::vector<std::string>{"src"}));
  EXPECT_EQ(TargetComponents("./a//b/"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(TargetComponents("../../x/y"), (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(TargetComponents("/srv/mail"), (std::vector<std::string>{"srv", "mail"}));
  EXPECT_TRUE(TargetComponents(".").empty());
}

}  // namespace
}  // namespace mx::vault
