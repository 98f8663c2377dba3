#include "repo/pack.h"

#include "repo/compress.h"

namespace mx::repo {

void PackWriter::Add(BlobType type, const Id& id, const uint8_t* sealed, size_t n,
                     uint32_t uncompressed_length) {
  blobs_.push_back(IndexBlob{id, type, uint32_t(data_.size()), uint32_t(n), uncompressed_length});
  data_.insert(data_.end(), sealed, sealed + n);
}

void PackWriter::AddSealing(const Key& key, BlobType type, const Id& id, const uint8_t* plain,
                            size_t n, uint32_t uncompressed_length) {
  size_t offset = data_.size();
  if (data_.capacity() < offset + n + kCryptoOverhead)
    data_.reserve(std::max(data_.capacity() * 2, offset + n + kCryptoOverhead));
  Seal(key, plain, n, &data_);
  blobs_.push_back(IndexBlob{id, type, uint32_t(offset), uint32_t(n + kCryptoOverhead),
                             uncompressed_length});
}

void PackWriter::Finish(const Key& key, Bytes* pack, std::vector<IndexBlob>* blobs) {
  Bytes header;
  header.reserve(blobs_.size() * kCompressedEntrySize);
  for (const IndexBlob& b : blobs_) {
    uint8_t type = uint8_t(b.type) + (b.uncompressed_length ? 2 : 0);
    header.push_back(type);
    uint8_t le[4];
    StoreLE32(le, b.length);
    header.insert(header.end(), le, le + 4);
    if (b.uncompressed_length) {
      StoreLE32(le, b.uncompressed_length);
      header.insert(header.end(), le, le + 4);
    }
    header.insert(header.end(), b.id.bytes.begin(), b.id.bytes.end());
  }
  size_t before = data_.size();
  Seal(key, header.data(), header.size(), &data_);
  uint8_t le[4];
  StoreLE32(le, uint32_t(data_.size() - before));
  data_.insert(data_.end(), le, le + 4);
  *pack = std::move(data_);
  *blobs = std::move(blobs_);
  data_ = Bytes();
  blobs_.clear();
}

Result<std::vector<IndexBlob>> ParsePackHeader(const Key& key, const uint8_t* tail,
                                               size_t tail_len, uint64_t file_size,
                                               const std::string& object, size_t* need) {
  *need = 0;
  auto bad = [&](const std::string& cause) {
    return Error(Code::kBadFormat, "invalid pack", object, cause);
  };
  if (file_size < kPlainEntrySize + kCryptoOverhead + 4)
    return bad("file of " + std::to_string(file_size) + " bytes is too short to be a pack");
  if (tail_len < 4 || tail_len > file_size) return bad("internal: bad tail length");
  uint32_t hlen = LoadLE32(tail + tail_len - 4);
  if (hlen < kCryptoOverhead + kPlainEntrySize) return bad("header length " + std::to_string(hlen) + " is too short");
  if (uint64_t(hlen) + 4 > file_size) return bad("header length " + std::to_string(hlen) + " is larger than the file");
  if (uint64_t(hlen) + 4 > kMaxPackHeaderSize) return bad("header length " + std::to_string(hlen) + " exceeds 16 MiB");
  if (size_t(hlen) + 4 > tail_len) {
    *need = size_t(hlen) + 4;
    return std::vector<IndexBlob>();
  }
  const uint8_t* sealed = tail + tail_len - 4 - hlen;
  auto plain = Unseal(key, sealed, hlen, object + " (pack header)");
  if (!plain.ok()) return std::move(plain).error();
  return ParseHeaderEntries(*plain, file_size - 4 - hlen, object);
}


Result<std::vector<IndexBlob>> ParseHeaderEntries(const Bytes& h, uint64_t data_end,
                                                  const std::string& object) {
  auto bad = [&](const std::string& cause) {
    return Error(Code::kBadFormat, "invalid pack", object, cause);
  };
  std::vector<IndexBlob> blobs;
  uint64_t offset = 0;
  for (size_t p = 0; p < h.size();) {
    uint8_t type = h[p];
    if (type > 3) return bad("header entry " + std::to_string(blobs.size()) + " has unknown type " + std::to_string(type));
    size_t esize = type >= 2 ? kCompressedEntrySize : kPlainEntrySize;
    if (p + esize > h.size()) return bad("header entry " + std::to_string(blobs.size()) + " is truncated");
    IndexBlob b;
    b.type = BlobType(type & 1);
    b.length = LoadLE32(&h[p + 1]);
    size_t idpos = p + 5;
    if (type >= 2) {
      b.uncompressed_length = LoadLE32(&h[p + 5]);
      idpos += 4;
    }
    std::copy(h.begin() + idpos, h.begin() + idpos + 32, b.id.bytes.begin());
    if (b.length < kCryptoOverhead) return bad("blob " + b.id.Short() + " is shorter than the crypto overhead");
    b.offset = uint32_t(offset);
    offset += b.length;
    if (offset > data_end) return bad("blobs extend past the header (" + std::to_string(offset) + " > " + std::to_string(data_end) + ")");
    blobs.push_back(b);
    p += esize;
  }
  if (blobs.empty()) return bad("pack header lists no blobs");
  return blobs;
}

Status OpenBlob(const Key& key, const uint8_t* sealed, size_t n, uint32_t uncompressed_length, const Id& id,
                const std::string& object, Bytes* scratch, Bytes* out) {
  if (uncompressed_length) {
    MX_CHECK(UnsealInto(key, sealed, n, object, scratch));
    MX_CHECK(DecompressInto(scratch->data(), scratch->size(), uncompressed_length, object, out));
  } else {
    MX_CHECK(UnsealInto(key, sealed, n, object, out));
  }
  if (Id::Hash(out->data(), out->size()) != id)
    return Error(Code::kCorrupt, "damaged blob", object, "the SHA-256 of its content does not match its id",
                 "run `mxvault check --read-data` to list every damaged object");
  return Ok();
}

}  // namespace mx::repo
