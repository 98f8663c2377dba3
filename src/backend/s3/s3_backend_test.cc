// The backend conformance suite on a real S3 server. The server is started by
// tests/integration/s3_test.py (a one-node Ceph RADOS Gateway), which runs
// these cases with MX_TEST_S3 set to "s3:http://127.0.0.1:PORT/BUCKET" and
// the AWS_* credentials; without it they are skipped.
#include "backend/retry/retry_backend.h"
#include "backend/s3/s3_backend.h"

#include <atomic>
#include <cstdlib>

#include "tests/support/backend_suite.h"

namespace mx::test {
namespace {

repo::BackendPtr MakeS3() {
  const char* loc = std::getenv("MX_TEST_S3");
  if (!loc || !*loc) return nullptr;
  static std::atomic<int> n{0};
  auto o = backend::ParseS3Location(std::string(loc) + "/suite-" + std::to_string(getpid()) + "-" + std::to_string(n++));
  EXPECT_TRUE(o.ok());
  EXPECT_TRUE(backend::ResolveS3Credentials(&*o).ok());
  auto be = std::make_shared<backend::S3Backend>(*o);
  Status s = be->Create();
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().Full());
  return be;
}

INSTANTIATE_TEST_SUITE_P(S3, BackendSuite, testing::Values(BackendFactory(MakeS3)),
                         [](const auto&) { return std::string("S3Backend"); });

TEST(S3Location, ParsesResticSyntax) {
  auto o = backend::ParseS3Location("s3:http://127.0.0.1:7480/bucket/some/prefix/");
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->scheme, "http");
  EXPECT_EQ(o->host, "127.0.0.1:7480");
  EXPECT_EQ(o->bucket, "bucket");
  EXPECT_EQ(o->prefix, "some/prefix");
  o = backend::ParseS3Location("s3:s3.eu-west-1.amazonaws.com/backups");
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->scheme, "https");
  EXPECT_EQ(o->prefix, "");
  for (const char* bad : {"s3:", "s3:http://host", "s3:http://host/", "s3:host/UPPER", "s3:host/ab", "local:/x"})
    EXPECT_EQ(backend::ParseS3Location(bad).error().code(), Code::kUsage) << bad;
}

TEST(S3Options, RejectsUnknownKeysAndBadValues) {
  backend::S3Options o;
  EXPECT_TRUE(backend::ApplyS3Option(&o, "connections", "8").ok());
  EXPECT_EQ(o.connections, 8);
  EXPECT_FALSE(backend::ApplyS3Option(&o, "connections", "0").ok());
  EXPECT_FALSE(backend::ApplyS3Option(&o, "bucket-lookup", "sideways").ok());
  EXPECT_FALSE(backend::ApplyS3Option(&o, "colour", "blue").ok());
}

TEST(S3Credentials, MissingCredentialsAreNamed) {
  if (std::getenv("MX_TEST_S3")) GTEST_SKIP() << "credentials are set for the live suite";
  backend::S3Options o = *backend::ParseS3Location("s3:http://127.0.0.1:1/bucket");
  setenv("HOME", "/nonexistent", 1);
  unsetenv("AWS_ACCESS_KEY_ID");
  unsetenv("AWS_SECRET_ACCESS_KEY");
  unsetenv("AWS_SHARED_CREDENTIALS_FILE");
  unsetenv("AWS_PROFILE");
  Status s = backend::ResolveS3Credentials(&o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), Code::kAuth);
}

// A server that is not there: NETWORK, retried the given number of times.
TEST(RetryBackend, RetriesNetworkErrorsThenNamesTheObject) {
  backend::S3Options o = *backend::ParseS3Location("s3:http://127.0.0.1:1/bucket");
  o.access_key = "a";
  o.secret_key = "b";
  o.region = "us-east-1";
  int retries = 0;
  backend::RetryPolicy p;
  p.attempts = 3;
  p.first_delay = 0.01;
  p.on_retry = [&](const Error&, int, double) { ++retries; };
  backend::RetryBackend be(std::make_shared<backend::S3Backend>(o), p);
  auto r = be.Load(repo::Handle{repo::FileType::kSnapshot, std::string(64, 'a')}, 0, 0);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Code::kNetwork);
  EXPECT_EQ(retries, 2);
  EXPECT_NE(r.error().Message().find("/bucket/snapshots/aaaa"), std::string::npos) << r.error().Message();
  EXPECT_NE(r.error().Message().find("3 attempts"), std::string::npos) << r.error().Message();
}

}  // namespace
}  // namespace mx::test
