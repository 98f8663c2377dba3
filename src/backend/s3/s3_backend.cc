#include "backend/s3/s3_backend.h"

#include <curl/curl.h>

#include <cstdlib>
#include <fstream>
#include <mutex>

#include "repo/id.h"

namespace mx::backend {
using repo::FileType;
using repo::Handle;

namespace {

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// Percent-encodes all but RFC 3986's unreserved characters with upper-case
// hex, as SigV4 wants (curl_easy_escape), keeping '/' when `keep_slash`.
std::string UriEncode(const std::string& s, bool keep_slash) {
  std::string out;
  size_t start = 0;
  for (;;) {
    size_t slash = keep_slash ? s.find('/', start) : std::string::npos;
    std::string part = s.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    char* e = curl_easy_escape(nullptr, part.data(), int(part.size()));
    out += e ? e : "";
    curl_free(e);
    if (slash == std::string::npos) return out;
    out += '/';
    start = slash + 1;
  }
}

// The text of the first <tag>...</tag> at or after `from`, XML entities
// decoded; `*end` is set past the closing tag. S3 answers in a fixed schema
// and we read four of its elements (Key, Size, IsTruncated,
// NextContinuationToken) plus Code and Message of errors: a search serves,
// a general XML library is not needed for that.
bool XmlText(const std::string& doc, const std::string& tag, size_t from, std::string* out, size_t* end = nullptr) {
  std::string open = "<" + tag + ">", close = "</" + tag + ">";
  size_t a = doc.find(open, from);
  if (a == std::string::npos) return false;
  a += open.size();
  size_t b = doc.find(close, a);
  if (b == std::string::npos) return false;
  std::string raw = doc.substr(a, b - a);
  out->clear();
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '&') {
      *out += raw[i];
      continue;
    }
    static const std::pair<const char*, char> kEntities[] = {
        {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
    bool done = false;
    for (auto [ent, ch] : kEntities) {
      size_t n = strlen(ent);
      if (raw.compare(i, n, ent) == 0) {
        *out += ch;
        i += n - 1;
        done = true;
        break;
      }
    }
    if (!done) *out += raw[i];
  }
  if (end) *end = b + close.size();
  return true;
}


// "[section]" / "key = value" files of the AWS CLI.
std::string IniValue(const std::string& path, const std::string& section, const std::string& key) {
  std::ifstream in(path);
  std::string line, cur;
  while (std::getline(in, line)) {
    auto trim = [](std::string s) {
      size_t b = s.find_first_not_of(" \t\r"), e = s.find_last_not_of(" \t\r");
      return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
    };
    line = trim(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      cur = trim(line.substr(1, line.size() - 2));
      continue;
    }
    size_t eq = line.find('=');
    if (eq == std::string::npos || cur != section) continue;
    if (trim(line.substr(0, eq)) == key) return trim(line.substr(eq + 1));
  }
  return "";
}

size_t WriteBody(char* p, size_t size, size_t n, void* user) {
  auto* out = static_cast<Bytes*>(user);
  out->insert(out->end(), reinterpret_cast<uint8_t*>(p), reinterpret_cast<uint8_t*>(p) + size * n);
  return size * n;
}

}  // namespace

struct S3Backend::Request {
  const char* method = "GET";
  std::string key;    // "" = the bucket
  std::string query;  // already encoded, parameters sorted
  const uint8_t* body = nullptr;
  size_t body_len = 0;
  std::string range;  // "bytes=a-b"
  bool head = false;
  Bytes* sink = nullptr;  // where a successful body goes (capacity reused); null: the response
  std::string body_sha256;  // hex, when the caller knows it; else computed
};

Result<S3Options> ParseS3Location(const std::string& location) {
  auto bad = [&](const std::string& why) {
    return Error(Code::kUsage, "invalid S3 repository location", location, why,
                 "write s3:https://HOST[:PORT]/BUCKET[/PREFIX] (or s3:http://... for a loopback test server)");
  };
  if (location.rfind("s3:", 0) != 0) return bad("it does not start with s3:");
  std::string rest = location.substr(3);
  S3Options o;
  if (rest.rfind("https://", 0) == 0) {
    rest = rest.substr(8);
  } else if (rest.rfind("http://", 0) == 0) {
    o.scheme = "http";
    rest = rest.substr(7);
  }
  size_t slash = rest.find('/');
  if (slash == std::string::npos || slash == 0) return bad("it names no bucket");
  o.host = rest.substr(0, slash);
  std::string path = rest.substr(slash + 1);
  while (!path.empty() && path.back() == '/') path.pop_back();
  size_t s2 = path.find('/');
  o.bucket = path.substr(0, s2);
  if (s2 != std::string::npos) o.prefix = path.substr(s2 + 1);
  if (o.bucket.empty()) return bad("it names no bucket");
  if (o.bucket.size() < 3 || o.bucket.size() > 63) return bad("a bucket name has 3 to 63 characters");
  for (char c : o.bucket)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'))
      return bad("the bucket name \"" + o.bucket + "\" has a character S3 does not allow");
  return o;
}

Status ResolveS3Credentials(S3Options* o) {
  std::string home = Env("HOME");
  std::string profile = Env("AWS_PROFILE");
  if (profile.empty()) profile = "default";
  if (o->access_key.empty()) {
    o->access_key = Env("AWS_ACCESS_KEY_ID");
    o->secret_key = Env("AWS_SECRET_ACCESS_KEY");
    o->session_token = Env("AWS_SESSION_TOKEN");
  }
  std::string creds = Env("AWS_SHARED_CREDENTIALS_FILE");
  if (creds.empty() && !home.empty()) creds = home + "/.aws/credentials";
  if (o->access_key.empty() && !creds.empty()) {
    o->access_key = IniValue(creds, profile, "aws_access_key_id");
    o->secret_key = IniValue(creds, profile, "aws_secret_access_key");
    o->session_token = IniValue(creds, profile, "aws_session_token");
  }
  if (o->region.empty()) o->region = Env("AWS_DEFAULT_REGION");
  if (o->region.empty()) o->region = Env("AWS_REGION");
  if (o->region.empty() && !home.empty()) {
    std::string cfg = Env("AWS_CONFIG_FILE");
    if (cfg.empty()) cfg = home + "/.aws/config";
    o->region = IniValue(cfg, profile == "default" ? "default" : "profile " + profile, "region");
  }
  if (o->region.empty()) o->region = "us-east-1";
  if (o->access_key.empty() || o->secret_key.empty())
    return Error(Code::kAuth, "no S3 credentials", "s3:" + o->host + "/" + o->bucket,
                 "neither AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY nor the profile \"" + profile + "\" in " +
                     (creds.empty() ? "~/.aws/credentials" : creds) + " gives a key",
                 "export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or set AWS_PROFILE to a profile that has them");
  return Ok();
}

Status ApplyS3Option(S3Options* o, const std::string& key, const std::string& value) {
  auto number = [&](int lo, int hi, int* out) -> Status {
    char* end = nullptr;
    long v = strtol(value.c_str(), &end, 10);
    if (value.empty() || *end || v < lo || v > hi)
      return Error(Code::kUsage, "invalid value for -o s3." + key, value,
                   "expected a number from " + std::to_string(lo) + " to " + std::to_string(hi), "");
    *out = int(v);
    return Ok();
  };
  if (key == "connections") return number(1, 128, &o->connections);
  if (key == "timeout") return number(1, 3600, &o->timeout_seconds);
  if (key == "region") {
    o->region = value;
    return Ok();
  }
  if (key == "ca-file") {
    o->ca_file = value;
    return Ok();
  }
  if (key == "bucket-lookup") {
    if (value != "auto" && value != "path" && value != "dns")
      return Error(Code::kUsage, "invalid value for -o s3.bucket-lookup", value, "expected auto, path or dns", "");
    o->bucket_lookup = value;
    return Ok();
  }
  return Error(Code::kUsage, "unknown option", "s3." + key,
               "S3 options are s3.connections, s3.region, s3.bucket-lookup, s3.ca-file and s3.timeout", "");
}

S3Backend::S3Backend(S3Options o) : o_(std::move(o)) {
  GlobalInit();
  std::string host = o_.host.substr(0, o_.host.rfind(':') == std::string::npos ? o_.host.size() : o_.host.rfind(':'));
  bool aws = host.size() >= 13 && host.compare(host.size() - 13, 13, "amazonaws.com") == 0;
  virtual_host_ = o_.bucket_lookup == "dns" || (o_.bucket_lookup == "auto" && aws && o_.bucket.find('.') == std::string::npos);
}

S3Backend::~S3Backend() {
  for (void* h : idle_) curl_easy_cleanup(static_cast<CURL*>(h));
}

std::string S3Backend::Location() const {
  return "s3:" + o_.scheme + "://" + o_.host + "/" + o_.bucket + (o_.prefix.empty() ? "" : "/" + o_.prefix);
}

std::string S3Backend::Key(const Handle& h) const {
  std::string base = o_.prefix.empty() ? "" : o_.prefix + "/";
  if (h.type == FileType::kConfig) return base + "config";
  std::string dir = repo::FileTypeName(h.type);
  if (h.type == FileType::kPack) return base + dir + "/" + h.name.substr(0, 2) + "/" + h.name;
  return base + dir + "/" + h.name;
}

std::string S3Backend::Url(const std::string& key, const std::string& query) const {
  std::string url = o_.scheme + "://";
  if (virtual_host_) url += o_.bucket + "." + o_.host + "/" + UriEncode(key, true);
  else url += o_.host + "/" + o_.bucket + (key.empty() ? "" : "/" + UriEncode(key, true));
  if (!query.empty()) url += "?" + query;
  return url;
}

void* S3Backend::Acquire() {
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait(l, [&] { return busy_ < o_.connections; });
  ++busy_;
  if (!idle_.empty()) {
    void* h = idle_.back();
    idle_.pop_back();
    return h;
  }
  return curl_easy_init();
}

void S3Backend::Release(void* h) {
  std::lock_guard<std::mutex> l(mu_);
  --busy_;
  if (h) idle_.push_back(h);
  cv_.notify_one();
}

Result<S3Backend::Response> S3Backend::Do(Request& req) {
  CURL* c = static_cast<CURL*>(Acquire());
  if (!c) {
    Release(nullptr);
    return Error(Code::kInternal, "cannot create an HTTP handle", Location(), "curl_easy_init failed", "");
  }
  curl_easy_reset(c);  // keeps the connection cache: keep-alive across requests
  std::string url = Url(req.key, req.query);
  std::string sigv4 = "aws:amz:" + o_.region + ":s3";
  std::string userpwd = o_.access_key + ":" + o_.secret_key;
  curl_slist* headers = nullptr;
  std::string sha = req.body_sha256.empty() ? repo::Id::Hash(req.body, req.body_len).Hex() : req.body_sha256;
  headers = curl_slist_append(headers, ("x-amz-content-sha256: " + sha).c_str());
  if (!o_.session_token.empty()) headers = curl_slist_append(headers, ("x-amz-security-token: " + o_.session_token).c_str());
  if (!req.range.empty()) headers = curl_slist_append(headers, ("Range: " + req.range).c_str());
  Response resp;
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_AWS_SIGV4, sigv4.c_str());
  curl_easy_setopt(c, CURLOPT_USERPWD, userpwd.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, long(o_.timeout_seconds));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, WriteBody);
  // Only a success goes to the caller's buffer; an error document is read
  // into the response, to be quoted.
  Bytes* body = &resp.body;
  if (req.sink) {
    req.sink->clear();
    body = req.sink;
  }
  curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
  if (!o_.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, o_.ca_file.c_str());
  if (req.head) {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (std::string(req.method) == "PUT") {
    headers = curl_slist_append(headers, "Content-Type: application/octet-stream");
    // No "Expect:" override: curl would sign the header it then leaves out
    // (measured: radosgw answers SignatureDoesNotMatch).
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, req.body ? reinterpret_cast<const char*>(req.body) : "");
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(req.body_len));
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
  } else if (std::string(req.method) != "GET") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req.method);
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  CURLcode rc = curl_easy_perform(c);
  curl_slist_free_all(headers);
  if (rc != CURLE_OK) {
    std::string why = std::string(curl_easy_strerror(rc)) + (errbuf[0] ? std::string(": ") + errbuf : "");
    curl_easy_cleanup(c);  // a failed connection is not reused
    Release(nullptr);
    bool tls = rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_SSL_CACERT_BADFILE;
    if (tls)
      return Error(Code::kTls, std::string("TLS with the S3 server failed (") + req.method + ")", url, why,
                   "pass the CA that signed the server's certificate with -o s3.ca-file=FILE");
    return Error(Code::kNetwork, std::string("S3 request failed (") + req.method + ")", url, why,
                 "check that the S3 endpoint is reachable; transient failures are retried");
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp.status);
  curl_off_t cl = -1;
  curl_easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
  resp.content_length = cl < 0 ? 0 : uint64_t(cl);
  Release(c);
  return resp;
}

Error S3Backend::HttpError(const std::string& what, const std::string& object, const Response& r) const {
  std::string doc(r.body.begin(), r.body.end());
  std::string code, message;
  XmlText(doc, "Code", 0, &code);
  XmlText(doc, "Message", 0, &message);
  std::string why = "the server answered HTTP " + std::to_string(r.status) + (code.empty() ? "" : " " + code) +
                    (message.empty() ? "" : ": " + message);
  if (r.status == 401 || r.status == 403)
    return Error(Code::kAuth, what, object, why,
                 "check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or the AWS profile), the region "
                 "(-o s3.region) and the bucket's policy");
  if (r.status == 404 && code == "NoSuchBucket")
    return Error(Code::kRepoNotFound, what, object, "the bucket " + o_.bucket + " does not exist",
                 "create the repository with `mxvault init -r " + Location() + "`");
  if (r.status == 404) return Error(Code::kNotFound, what, object, why, "");
  if (r.status >= 500 || r.status == 429 || code == "SlowDown" || code == "RequestTimeout")
    return Error(Code::kNetwork, what, object, why, "the S3 server is failing or throttling; it was retried, run again later");
  return Error(Code::kIo, what, object, why,
               "the server's answer is quoted; check the endpoint, the bucket and the server's log");
}

Status S3Backend::Create() {
  Request req;
  req.method = "PUT";
  auto r = MX_TRY(Do(req));
  if (r.status != 200) {
    std::string doc(r.body.begin(), r.body.end()), code;
    XmlText(doc, "Code", 0, &code);
    if (!(r.status == 409 && (code == "BucketAlreadyOwnedByYou" || code == "BucketAlreadyExists")))
      return HttpError("cannot create bucket", Location(), r);
  }
  auto st = Stat(Handle{FileType::kConfig, ""});
  if (st.ok())
    return Error(Code::kRepoExists, "cannot create repository", Location(), "a config object already exists there");
  if (st.error().code() != Code::kNotFound) return std::move(st).error();
  return Ok();
}

Status S3Backend::Save(const Handle& h, const uint8_t* data, size_t n) {
  Request req;
  req.method = "PUT";
  req.key = Key(h);
  req.body = data;
  req.body_len = n;
  // Every repository file but the config is named by the SHA-256 of its
  // content: the name is the signed payload hash, and hashing a 4 MiB pack
  // again cost 8% of a backup's CPU. The server checks it, so a file saved
  // under a wrong name is refused rather than stored.
  if (h.type != FileType::kConfig && repo::IsObjectName(h.name)) req.body_sha256 = h.name;
  auto r = MX_TRY(Do(req));
  if (r.status != 200) return HttpError("cannot upload", o_.bucket + "/" + req.key, r);
  return Ok();
}

Result<Bytes> S3Backend::Load(const Handle& h, uint64_t offset, uint64_t length) {
  Bytes out;
  MX_CHECK(LoadInto(h, offset, length, &out));
  return out;
}

Status S3Backend::LoadInto(const Handle& h, uint64_t offset, uint64_t length, Bytes* out) {
  Request req;
  req.key = Key(h);
  if (offset || length)
    req.range = "bytes=" + std::to_string(offset) + "-" + (length ? std::to_string(offset + length - 1) : "");
  // The body lands in the caller's buffer: a restore reuses one per worker
  // instead of growing a fresh one per read (measured: page faults of
  // regrown buffers were 15% of a restore's CPU).
  out->clear();
  if (length) out->reserve(length);
  req.sink = out;
  auto r = MX_TRY(Do(req));
  if (r.status != 200 && r.status != 206) {
    r.body.swap(*out);  // the error document, to quote
    out->clear();
    if (r.status == 416)
      return Error(Code::kIo, "cannot read", req.key, "the object is shorter than the range " + req.range, "");
    return HttpError("cannot read", o_.bucket + "/" + req.key, r);
  }
  if (length && out->size() != length)  // a cut connection: worth retrying
    return Error(Code::kNetwork, "cannot read", req.key,
                 "got " + std::to_string(out->size()) + " bytes of the " + std::to_string(length) + " asked for", "");
  if (offset && !length && r.status == 200) out->erase(out->begin(), out->begin() + long(std::min<uint64_t>(offset, out->size())));
  return Ok();
}

Result<repo::FileInfo> S3Backend::Stat(const Handle& h) {
  Request req;
  req.method = "HEAD";
  req.head = true;
  req.key = Key(h);
  auto r = MX_TRY(Do(req));
  if (r.status != 200) return HttpError("cannot stat", o_.bucket + "/" + req.key, r);
  return repo::FileInfo{h.name, r.content_length};
}

Status S3Backend::List(FileType t, const std::function<Status(const repo::FileInfo&)>& fn) {
  if (t == FileType::kConfig) return Ok();
  std::string dir = (o_.prefix.empty() ? "" : o_.prefix + "/") + repo::FileTypeName(t) + "/";
  std::string token;
  for (;;) {
    Request req;
    // Parameters in sorted order: the SigV4 canonical query string.
    req.query = (token.empty() ? "" : "continuation-token=" + UriEncode(token, false) + "&") +
                "list-type=2&prefix=" + UriEncode(dir, false);
    auto r = MX_TRY(Do(req));
    if (r.status != 200) return HttpError("cannot list", o_.bucket + "/" + dir, r);
    std::string doc(r.body.begin(), r.body.end());
    size_t pos = 0, end = 0;
    std::string block;
    while (XmlText(doc, "Contents", pos, &block, &end)) {
      pos = end;
      std::string key, size;
      XmlText(block, "Key", 0, &key);
      XmlText(block, "Size", 0, &size);
      std::string name = key.substr(key.rfind('/') + 1);
      if (!repo::IsObjectName(name)) continue;
      MX_CHECK(fn(repo::FileInfo{name, strtoull(size.c_str(), nullptr, 10)}));
    }
    std::string truncated;
    XmlText(doc, "IsTruncated", 0, &truncated);
    if (truncated != "true") break;
    if (!XmlText(doc, "NextContinuationToken", 0, &token) || token.empty())
      return Error(Code::kIo, "cannot list", dir, "the server said the listing is truncated but gave no continuation token", "");
  }
  return Ok();
}

Status S3Backend::Remove(const Handle& h) {
  MX_CHECK(Stat(h));  // S3 deletes a missing key without complaint; the contract says NOT_FOUND
  Request req;
  req.method = "DELETE";
  req.key = Key(h);
  auto r = MX_TRY(Do(req));
  if (r.status != 204 && r.status != 200) return HttpError("cannot remove", o_.bucket + "/" + req.key, r);
  return Ok();
}

}  // namespace mx::backend
