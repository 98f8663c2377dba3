#include "backend/local/local_backend.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>

#include "tests/support/backend_suite.h"
#include "tests/support/temp_dir.h"

namespace mx::test {
namespace {

repo::BackendPtr MakeLocal() {
  static std::vector<std::unique_ptr<TempDir>> dirs;  // live until exit
  dirs.push_back(std::make_unique<TempDir>());
  auto be = std::make_shared<backend::LocalBackend>(dirs.back()->path() + "/repo");
  EXPECT_TRUE(be->Create().ok());
  return be;
}

INSTANTIATE_TEST_SUITE_P(Local, BackendSuite, testing::Values(BackendFactory(MakeLocal)),
                         [](const auto&) { return std::string("LocalBackend"); });

TEST(LocalBackend, LeftoverTemporaryFilesAreNotListed) {
  TempDir dir;
  backend::LocalBackend be(dir.path() + "/repo");
  ASSERT_TRUE(be.Create().ok());
  // What a crash between create and rename leaves behind.
  std::string tmp = dir.path() + "/repo/data/ab/.tmp-0123456789abcdef";
  int fd = open(tmp.c_str(), O_CREAT | O_WRONLY, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "partial", 7), 7);
  close(fd);
  int n = 0;
  ASSERT_TRUE(be.List(repo::FileType::kPack, [&](const repo::FileInfo&) {
    ++n;
    return Ok();
  }).ok());
  EXPECT_EQ(n, 0);
}

TEST(LocalBackend, CreateRefusesAnExistingRepository) {
  TempDir dir;
  backend::LocalBackend be(dir.path() + "/repo");
  ASSERT_TRUE(be.Create().ok());
  Bytes cfg{1, 2, 3};
  ASSERT_TRUE(be.Save(repo::Handle{repo::FileType::kConfig, ""}, cfg.data(), cfg.size()).ok());
  auto s = be.Create();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), Code::kRepoExists);
}

}  // namespace
}  // namespace mx::test
