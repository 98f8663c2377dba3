// S3Backend: repository files as objects in an S3-compatible bucket (AWS S3,
// Ceph RGW, MinIO), in restic's layout: PREFIX/config, PREFIX/keys/ID,
// PREFIX/data/XX/ID, PREFIX/index/ID, PREFIX/snapshots/ID, PREFIX/locks/ID.
//
// Built on libcurl: requests are signed with its AWS SigV4 support
// (CURLOPT_AWS_SIGV4), plus the x-amz-content-sha256 header that Ceph RGW
// insists on. At most `connections` requests run at once, each on a reused
// easy handle (keep-alive). Errors: NETWORK for transport failures, 5xx and
// throttling (the retry wrapper retries those), AUTH_FAILED for refused
// credentials, NOT_FOUND, REPO_NOT_FOUND for a missing bucket.
//
// Thread-safe.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "repo/backend.h"

namespace mx::backend {

struct S3Options {
  std::string scheme = "https";  // or "http" (loopback test servers)
  std::string host;              // host[:port]
  std::string bucket;
  std::string prefix;            // without leading or trailing '/'
  std::string access_key, secret_key, session_token;
  std::string region;            // default: AWS_DEFAULT_REGION, AWS_REGION, the profile's, or us-east-1
  std::string bucket_lookup = "auto";  // auto, path or dns
  std::string ca_file;
  int connections = 5;
  int timeout_seconds = 120;     // a request that moves no byte for this long fails
};

/// Parses restic's syntax: "s3:https://HOST[:PORT]/BUCKET[/PREFIX]",
/// "s3:http://..." and "s3:HOST/BUCKET[/PREFIX]" (https). USAGE on errors.
Result<S3Options> ParseS3Location(const std::string& location);

/// Fills credentials and region from the environment (AWS_ACCESS_KEY_ID,
/// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_DEFAULT_REGION/AWS_REGION)
/// or the AWS profile (AWS_PROFILE or "default" in
/// AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials, region from ~/.aws/config).
/// AUTH_FAILED when no credentials are found.
Status ResolveS3Credentials(S3Options* o);

/// Applies one "-o s3.KEY=VALUE" option (connections, region, bucket-lookup,
/// ca-file, timeout). USAGE for an unknown key or a bad value.
Status ApplyS3Option(S3Options* o, const std::string& key, const std::string& value);

class S3Backend : public repo::Backend {
 public:
  explicit S3Backend(S3Options o);
  ~S3Backend() override;

  std::string Location() const override;
  unsigned Concurrency() const override { return unsigned(o_.connections); }
  Status Create() override;
  Status Save(const repo::Handle& h, const uint8_t* data, size_t n) override;
  Result<Bytes> Load(const repo::Handle& h, uint64_t offset, uint64_t length) override;
  Status LoadInto(const repo::Handle& h, uint64_t offset, uint64_t length, Bytes* out) override;
  Result<repo::FileInfo> Stat(const repo::Handle& h) override;
  Status List(repo::FileType t, const std::function<Status(const repo::FileInfo&)>& fn) override;
  Status Remove(const repo::Handle& h) override;

  struct Response {
    long status = 0;
    Bytes body;
    uint64_t content_length = 0;
  };
  struct Request;

 private:
  std::string Key(const repo::Handle& h) const;
  /// URL of `key` ("" = the bucket itself) with an optional query string.
  std::string Url(const std::string& key, const std::string& query = "") const;
  Result<Response> Do(Request& req);
  Error HttpError(const std::string& what, const std::string& object, const Response& r) const;

  void* Acquire();
  void Release(void* handle);

  S3Options o_;
  bool virtual_host_ = false;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<void*> idle_;  // GUARDED_BY(mu_) CURL* handles
  int busy_ = 0;             // GUARDED_BY(mu_)
};

}  // namespace mx::backend
