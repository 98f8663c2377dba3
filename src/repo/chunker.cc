#include "repo/chunker.h"

#include <cstring>
#include <map>
#include <memory>
#include <mutex>

#include "repo/crypto.h"

namespace mx::repo {
namespace {

constexpr size_t kWindow = 64;
constexpr uint64_t kSplitMask = (1u << 20) - 1;

Pol PolMod(Pol x, Pol d) {
  int dd = PolDeg(d);
  for (int xd = PolDeg(x); xd >= dd; xd = PolDeg(x)) x ^= d << (xd - dd);
  return x;
}

// Carry-less product of two polynomials of degree < 64, reduced mod g.
Pol PolMulMod(Pol a, Pol b, Pol g) {
  unsigned __int128 prod = 0;
  for (int i = 0; i < 64; ++i)
    if (b >> i & 1) prod ^= (unsigned __int128)a << i;
  // reduce the 128-bit product
  int dg = PolDeg(g);
  for (int i = 127; i >= dg; --i)
    if ((prod >> i) & 1) prod ^= (unsigned __int128)g << (i - dg);
  return Pol(prod);
}

Pol PolGcd(Pol a, Pol b) {
  while (b) {
    Pol r = PolMod(a, b);
    a = b;
    b = r;
  }
  return a;
}

uint64_t AppendByte(uint64_t hash, uint8_t b, Pol pol) {
  // hash has degree < 53, so shifting by 8 stays inside 64 bits
  return PolMod(hash << 8 | b, pol);
}

std::shared_ptr<const Chunker::Tables> MakeTables(Pol pol) {
  auto t = std::make_shared<Chunker::Tables>();
  for (int b = 0; b < 256; ++b) {
    uint64_t h = AppendByte(0, uint8_t(b), pol);
    for (size_t i = 0; i < kWindow - 1; ++i) h = AppendByte(h, 0, pol);
    t->out[b] = h;
  }
  int k = PolDeg(pol);
  for (int b = 0; b < 256; ++b)
    t->mod[b] = PolMod(uint64_t(b) << k, pol) | (uint64_t(b) << k);
  return t;
}

const Chunker::Tables* TablesFor(Pol pol) {
  static std::mutex mu;
  static std::map<Pol, std::shared_ptr<const Chunker::Tables>> cache;
  std::lock_guard<std::mutex> l(mu);
  auto& slot = cache[pol];
  if (!slot) slot = MakeTables(pol);
  return slot.get();
}

}  // namespace

int PolDeg(Pol p) { return p ? 63 - __builtin_clzll(p) : -1; }

bool PolIrreducible(Pol f) {
  int deg = PolDeg(f);
  if (deg < 1) return false;
  // Ben-Or: f is irreducible iff gcd(x^(2^i) - x mod f, f) == 1 for i <= deg/2.
  Pol xp = 2;  // x
  for (int i = 1; i <= deg / 2; ++i) {
    xp = PolMulMod(xp, xp, f);  // x^(2^i) mod f
    if (PolGcd(f, xp ^ 2) != 1) return false;
  }
  return true;
}

Pol RandomPolynomial() {
  for (int tries = 0; tries < 1000000; ++tries) {
    uint64_t r;
    RandomBytes(reinterpret_cast<uint8_t*>(&r), sizeof(r));
    Pol f = (r & ((1ull << 53) - 1)) | (1ull << 53) | 1;  // degree 53, x^0 set
    if (PolIrreducible(f)) return f;
  }
  return 0x3DA3358B4DC173ull;  // restic's test polynomial; never reached in practice
}

Chunker::Chunker(Pol pol) : tables_(TablesFor(pol)), pol_shift_(unsigned(PolDeg(pol) - 8)) {
  Reset();
}

void Chunker::Reset() { ResetChunk(); }

void Chunker::ResetChunk() {
  std::memset(window_, 0, sizeof(window_));
  count_ = 0;
  // slide in a byte of value 1, exactly as restic does
  window_[0] = 1;
  uint64_t d = tables_->out[0];
  uint64_t index = d >> pol_shift_;
  d = (d << 8 | 1) ^ tables_->mod[index];
  digest_ = d;
  wpos_ = 1;
  pre_ = kChunkMinSize - kWindow;
}

size_t Chunker::Next(const uint8_t* buf, size_t n) {
  size_t idx = 0;
  if (pre_ > 0) {
    if (pre_ >= n) {
      pre_ -= n;
      count_ += n;
      return 0;
    }
    idx = pre_;
    count_ += pre_;
    pre_ = 0;
  }
  const Tables& tab = *tables_;
  const unsigned shift = pol_shift_;
  uint64_t digest = digest_;
  size_t wpos = wpos_;
  size_t add = count_;
  for (size_t i = idx; i < n; ++i) {
    uint8_t b = buf[i];
    uint8_t out = window_[wpos];
    window_[wpos] = b;
    digest ^= tab.out[out];
    wpos = (wpos + 1) & (kWindow - 1);
    uint64_t index = digest >> shift;
    digest = ((digest << 8) | b) ^ tab.mod[index];
    ++add;
    if ((digest & kSplitMask) == 0 || add >= kChunkMaxSize) {
      if (add < kChunkMinSize) continue;
      ResetChunk();
      return i + 1;
    }
  }
  digest_ = digest;
  wpos_ = wpos;
  count_ = add;
  return 0;
}

}  // namespace mx::repo
