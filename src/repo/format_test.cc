#include "repo/format.h"

#include <gtest/gtest.h>

namespace mx::repo {
namespace {

Bytes B(const std::string& s) { return Bytes(s.begin(), s.end()); }

TEST(Format, TreeRoundTripsAndKeepsGoFieldOrder) {
  Tree t;
  Node f;
  f.name = "a <b> & \"c\"\n";
  f.type = "file";
  f.mode = 0644;
  f.mtime = {1700000000, 123456789};
  f.size = 3;
  f.content = {Id::Hash(reinterpret_cast<const uint8_t*>("abc"), 3)};
  Node d;
  d.name = "dir";
  d.type = "dir";
  d.mode = kGoModeDir | 0755;
  d.subtree = f.content[0];
  t.nodes = {f, d};
  std::string json = SerializeTree(t);
  EXPECT_EQ(json.back(), '\n');
  EXPECT_EQ(json.find("{\"nodes\":[{\"name\":"), 0u);
  EXPECT_NE(json.find("\\u003cb\\u003e \\u0026"), std::string::npos);  // Go escapes <, >, &
  EXPECT_NE(json.find("\"content\":null"), std::string::npos);
  auto back = ParseTree(B(json), "t");
  ASSERT_TRUE(back.ok()) << back.error().Message();
  ASSERT_EQ(back->nodes.size(), 2u);
  EXPECT_EQ(back->nodes[0].name, f.name);
  EXPECT_EQ(back->nodes[0].mtime, f.mtime);
  EXPECT_EQ(back->nodes[0].content, f.content);
  EXPECT_EQ(back->nodes[1].subtree, d.subtree);
  EXPECT_EQ(back->nodes[1].mode, d.mode);
}

TEST(Format, InvalidUtf8BecomesReplacementCharacter) {
  std::string out;
  AppendJsonString(&out, std::string("a\xff" "b\xe2\x82\xac", 6));
  EXPECT_EQ(out, "\"a\\ufffdb\xe2\x82\xac\"");
}

TEST(Format, ParsersRejectGarbageWithBadFormat) {
  for (const char* bad : {"", "nul", "[1,2]", "{\"nodes\":5}", "{\"nodes\":[{\"content\":[\"zz\"]}]}",
                          "{\"nodes\":[{\"mtime\":\"yesterday\"}]}", "{\"nodes\":[{\"uid\":-1}]}"}) {
    auto r = ParseTree(B(bad), "tree x");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code(), Code::kBadFormat);
    EXPECT_NE(r.error().Message().find("tree x"), std::string::npos);
  }
  EXPECT_FALSE(ParseSnapshot(B("{\"time\":\"2020-01-01T00:00:00Z\"}"), "s").ok());  // no tree
  EXPECT_FALSE(ParseIndex(B("{\"packs\":[{\"id\":\"00\"}]}"), "i").ok());
  EXPECT_FALSE(ParseConfig(B("{\"version\":2,\"id\":\"x\",\"chunker_polynomial\":\"zz\"}")).ok());
  EXPECT_FALSE(ParseConfig(B("{\"version\":2,\"id\":\"x\",\"chunker_polynomial\":\"3\"}")).ok());
}

// What restic 0.14 wrote for these names (read back from its trees).
TEST(Format, NamesAreGoQuotedAsResticDoes) {
  EXPECT_EQ(GoQuote("back\\slash"), "back\\\\slash");
  EXPECT_EQ(GoQuote("quote\"d"), "quote\\\"d");
  EXPECT_EQ(GoQuote(std::string("a\xff" "b")), "a\\xffb");
  EXPECT_EQ(GoQuote("new\nline\ttab"), "new\\nline\\ttab");
  EXPECT_EQ(GoQuote("ünï cödé 日本 😀"), "ünï cödé 日本 😀");
  for (std::string raw : {std::string("plain"), std::string("a\\b\"c\n\x01\x7f"),
                          std::string("\xc3\x28\xff\xfe"), std::string("nbsp\xc2\xa0x"),
                          std::string("\xe2\x80\xa8sep"), std::string(1, '\0')}) {
    auto back = GoUnquote(GoQuote(raw));
    ASSERT_TRUE(back.has_value()) << GoQuote(raw);
    EXPECT_EQ(*back, raw);
  }
  EXPECT_FALSE(GoUnquote("bad\\q").has_value());
  EXPECT_FALSE(GoUnquote("trailing\\").has_value());
  EXPECT_FALSE(GoUnquote("\\x4").has_value());
  EXPECT_FALSE(GoUnquote("raw\"quote").has_value());
  EXPECT_EQ(*GoUnquote("\\u00e9\\101"), "\xc3\xa9" "A");
}

TEST(Format, UnsafeNamesAreNamed) {
  EXPECT_EQ(UnsafeNameReason("ok name"), "");
  EXPECT_NE(UnsafeNameReason(""), "");
  EXPECT_NE(UnsafeNameReason(".."), "");
  EXPECT_NE(UnsafeNameReason("."), "");
  EXPECT_NE(UnsafeNameReason("../x"), "");
  EXPECT_NE(UnsafeNameReason("/etc/x"), "");
  EXPECT_NE(UnsafeNameReason(std::string("a\0b", 3)), "");
}

TEST(Format, IndexAndSnapshotRoundTrip) {
  IndexFile idx;
  IndexPack p;
  p.id = Id::Hash(reinterpret_cast<const uint8_t*>("p"), 1);
  p.blobs.push_back(IndexBlob{p.id, BlobType::kTree, 0, 100, 200});
  p.blobs.push_back(IndexBlob{p.id, BlobType::kData, 100, 50, 0});
  idx.packs.push_back(p);
  auto back = ParseIndex(B(SerializeIndex(idx)), "i");
  ASSERT_TRUE(back.ok());
  ASSERT_EQ(back->packs.size(), 1u);
  EXPECT_EQ(back->packs[0].blobs[0].uncompressed_length, 200u);
  EXPECT_EQ(back->packs[0].blobs[1].uncompressed_length, 0u);
  EXPECT_EQ(back->packs[0].blobs[1].type, BlobType::kData);

  Snapshot s;
  s.time = {1700000000, 5};
  s.tree = p.id;
  s.paths = {"/a"};
  s.tags = {"t1"};
  auto sb = ParseSnapshot(B(SerializeSnapshot(s)), "s");
  ASSERT_TRUE(sb.ok());
  EXPECT_EQ(sb->time, s.time);
  EXPECT_EQ(sb->tags, s.tags);
}

TEST(Format, GoModeConversion) {
  EXPECT_EQ(GoModeFromPosix(0040755), kGoModeDir | 0755);
  EXPECT_EQ(GoModeFromPosix(0104755), kGoModeSetuid | 0755);
  EXPECT_EQ(PosixPermFromGoMode(kGoModeSticky | kGoModeDir | 0777), 01777u);
}

}  // namespace
}  // namespace mx::repo
