#include "store/mime/mime_tree.h"

#include <gtest/gtest.h>

namespace mx::store {
namespace {

std::string_view Body(std::string_view m, const MimePart& p) { return m.substr(p.body_begin, p.body_end - p.body_begin); }
std::string_view Header(std::string_view m, const MimePart& p) {
  return m.substr(p.header_begin, p.header_end - p.header_begin);
}

const std::string kNested =
    "From: a@example.org\r\nSubject: nested\r\nMIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n"
    "preamble\r\n"
    "--outer\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nfirst line\r\nsecond line\r\n"
    "--outer\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\n"
    "--inner\r\nContent-Type: text/plain\r\n\r\nplain\r\n"
    "--inner\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<p>html</p>\r\n"
    "--inner--\r\n"
    "--outer\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment; filename=\"fwd.eml\"\r\n\r\n"
    "From: b@example.org\r\nSubject: inside\r\nContent-Type: text/plain\r\n\r\nembedded body\r\n"
    "--outer--\r\nepilogue\r\n";

TEST(MimeTree, NestedMultipartsAndAnEmbeddedMessage) {
  MimePart root = ParseMimeTree(kNested);
  ASSERT_TRUE(root.multipart());
  EXPECT_EQ(root.subtype, "mixed");
  ASSERT_EQ(root.children.size(), 3u);
  EXPECT_EQ(Body(kNested, root.children[0]), "first line\r\nsecond line");
  EXPECT_EQ(root.children[0].param("charset"), "utf-8");
  EXPECT_EQ(root.children[0].body_lines, 2u);
  const MimePart& alt = root.children[1];
  ASSERT_EQ(alt.children.size(), 2u);
  EXPECT_EQ(Body(kNested, alt.children[1]), "<p>html</p>");
  EXPECT_EQ(alt.children[1].encoding, "quoted-printable");
  const MimePart& fwd = root.children[2];
  EXPECT_EQ(fwd.type, "message");
  EXPECT_EQ(fwd.disposition, "attachment");
  ASSERT_EQ(fwd.disposition_params.size(), 1u);
  EXPECT_EQ(fwd.disposition_params[0].second, "fwd.eml");
  ASSERT_EQ(fwd.message.size(), 1u);
  EXPECT_EQ(Body(kNested, fwd.message[0]), "embedded body");

  // Section paths (RFC 3501 §6.4.5).
  EXPECT_EQ(Body(kNested, *FindMimePart(root, {1})), "first line\r\nsecond line");
  EXPECT_EQ(Body(kNested, *FindMimePart(root, {2, 1})), "plain");
  EXPECT_EQ(Header(kNested, *FindMimePart(root, {2, 2})),
            "Content-Type: text/html\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n");
  EXPECT_EQ(Body(kNested, *FindMimePart(root, {3, 1})), "embedded body");  // part 1 of the embedded single-part message
  EXPECT_EQ(FindMimePart(root, {4}), nullptr);
  EXPECT_EQ(FindMimePart(root, {1, 1}), nullptr);
  EXPECT_EQ(FindMimePart(root, {0}), nullptr);
}

TEST(MimeTree, SinglePartMessagesAndDamage) {
  std::string plain = "Subject: x\r\n\r\nbody\r\n";
  MimePart root = ParseMimeTree(plain);
  EXPECT_EQ(root.type, "text");
  EXPECT_EQ(Body(plain, *FindMimePart(root, {1})), "body\r\n");
  EXPECT_EQ(FindMimePart(root, {2}), nullptr);

  // A multipart whose boundary never appears is read as text, whole.
  std::string broken = "Content-Type: multipart/mixed; boundary=zzz\r\n\r\nno parts here\r\n";
  root = ParseMimeTree(broken);
  EXPECT_EQ(root.type, "text");
  EXPECT_EQ(Body(broken, root), "no parts here\r\n");

  // No closing delimiter: the last part runs to the end.
  std::string open = "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\none\r\n--b\r\n\r\ntwo";
  root = ParseMimeTree(open);
  ASSERT_EQ(root.children.size(), 2u);
  EXPECT_EQ(Body(open, root.children[0]), "one");
  EXPECT_EQ(Body(open, root.children[1]), "two");

  // No blank line: everything is header.
  std::string headonly = "Subject: only\r\nFrom: a@b";
  root = ParseMimeTree(headonly);
  EXPECT_EQ(root.body_begin, headonly.size());

  // Hostile nesting stops at the depth bound without failing.
  std::string deep;
  for (int i = 0; i < 100; ++i) deep += "Content-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\r\n\r\n--b" + std::to_string(i) + "\r\n";
  deep += "\r\nleaf\r\n";
  root = ParseMimeTree(deep);
  int depth = 0;
  for (const MimePart* p = &root; p->multipart() && !p->children.empty(); p = &p->children[0]) ++depth;
  EXPECT_LE(depth, kMaxMimeDepth);
}

TEST(MimeTree, HeaderFieldsUnfold) {
  auto f = ParseHeaderFields("Subject: a\r\n long\r\n\tsubject\r\nX-Empty:\r\nbroken line\r\n\r\nbody: no\r\n");
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].first, "Subject");
  EXPECT_EQ(f[0].second, "a long\tsubject");
  EXPECT_EQ(f[1].second, "");
}

}  // namespace
}  // namespace mx::store
