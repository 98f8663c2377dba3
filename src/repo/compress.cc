#include "repo/compress.h"

#include <zstd.h>

namespace mx::repo {
namespace {
struct ZCtx {
  ZSTD_CCtx* c = ZSTD_createCCtx();
  ZSTD_DCtx* d = ZSTD_createDCtx();
  ~ZCtx() {
    ZSTD_freeCCtx(c);
    ZSTD_freeDCtx(d);
  }
};
ZCtx& Ctx() {
  thread_local ZCtx ctx;
  return ctx;
}
// Repository files are small; a corrupt frame must not make us allocate GBs.
constexpr size_t kMaxUnknownSize = size_t(1) << 31;
}  // namespace

int ZstdLevel(Compression mode) {
  switch (mode) {
    case Compression::kMax: return 19;
    case Compression::kOff: return 0;
    case Compression::kAuto: default: return 1;
  }
}

void Compress(const uint8_t* data, size_t n, int level, Bytes* out) {
  out->resize(ZSTD_compressBound(n));
  size_t r = ZSTD_compressCCtx(Ctx().c, out->data(), out->size(), data, n, level);
  if (ZSTD_isError(r)) std::abort();  // only on a bug: the bound always fits
  out->resize(r);
}

Result<Bytes> Decompress(const uint8_t* data, size_t n, size_t expected_size,
                         const std::string& object) {
  Bytes out;
  MX_CHECK(DecompressInto(data, n, expected_size, object, &out));
  return out;
}

Status DecompressInto(const uint8_t* data, size_t n, size_t expected_size,
                      const std::string& object, Bytes* result) {
  unsigned long long frame = ZSTD_getFrameContentSize(data, n);
  if (frame == ZSTD_CONTENTSIZE_ERROR)
    return Error(Code::kBadFormat, "cannot decompress", object, "not a zstd frame");
  if (expected_size && frame != ZSTD_CONTENTSIZE_UNKNOWN && frame != expected_size)
    return Error(Code::kBadFormat, "cannot decompress", object,
                 "frame says " + std::to_string(frame) + " bytes, index says " +
                     std::to_string(expected_size));
  // Allocate up front only for modest sizes: a frame header can claim any
  // size, and memory should follow the bytes that actually come out.
  constexpr size_t kUpFront = 64 << 20;
  size_t claimed = expected_size ? expected_size : frame == ZSTD_CONTENTSIZE_UNKNOWN ? 0 : size_t(frame);
  if ((frame != ZSTD_CONTENTSIZE_UNKNOWN || expected_size) && claimed <= kUpFront) {
    size_t size = claimed;
    Bytes& out = *result;
    out.resize(size);
    size_t r = ZSTD_decompressDCtx(Ctx().d, out.data(), out.size(), data, n);
    if (ZSTD_isError(r))
      return Error(Code::kBadFormat, "cannot decompress", object, ZSTD_getErrorName(r));
    if (r != size)
      return Error(Code::kBadFormat, "cannot decompress", object,
                   "got " + std::to_string(r) + " bytes, expected " + std::to_string(size));
    return Ok();
  }
  // Unknown or large size (streaming frames, as Go's zstd writes for some files).
  if (claimed > kMaxUnknownSize)
    return Error(Code::kBadFormat, "cannot decompress", object, "frame claims more than 2 GiB");
  Bytes& out = *result;
  out.clear();
  ZSTD_DCtx* d = Ctx().d;
  ZSTD_DCtx_reset(d, ZSTD_reset_session_only);
  ZSTD_inBuffer in{data, n, 0};
  uint8_t buf[65536];
  for (;;) {
    ZSTD_outBuffer o{buf, sizeof(buf), 0};
    size_t r = ZSTD_decompressStream(d, &o, &in);
    if (ZSTD_isError(r))
      return Error(Code::kBadFormat, "cannot decompress", object, ZSTD_getErrorName(r));
    out.insert(out.end(), buf, buf + o.pos);
    if (out.size() > kMaxUnknownSize)
      return Error(Code::kBadFormat, "cannot decompress", object, "frame too large");
    if (r == 0) {
      if (expected_size && out.size() != expected_size)
        return Error(Code::kBadFormat, "cannot decompress", object,
                     "got " + std::to_string(out.size()) + " bytes, expected " + std::to_string(expected_size));
      break;
    }
    if (in.pos == in.size && o.pos == 0)
      return Error(Code::kBadFormat, "cannot decompress", object, "truncated zstd frame");
  }
  return Ok();
}

}  // namespace mx::repo
