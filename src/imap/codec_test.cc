#include <gtest/gtest.h>

#include "imap/command.h"
#include "imap/response.h"
#include "imap/utf7.h"

namespace mx::imap {
namespace {

TEST(Utf7Test, RfcExampleAndRoundTrips) {
  // RFC 3501 §5.1.3's example.
  EXPECT_EQ(EncodeMailboxName("~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"),
            "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
  EXPECT_EQ(*DecodeMailboxName("~peter/mail/&U,BTFw-/&ZeVnLIqe-"),
            "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e");
  for (std::string s : {"INBOX", "A&B", "&", "Entw\xc3\xbcrfe", "\xf0\x9f\x93\xa7 mail", "x\xc3\xa9y\xc3\xa9z", "&&-", ""}) {
    auto d = DecodeMailboxName(EncodeMailboxName(s));
    ASSERT_TRUE(d.ok()) << s << ": " << d.error().Message();
    EXPECT_EQ(*d, s);
  }
  EXPECT_EQ(EncodeMailboxName("A&B"), "A&-B");
}

TEST(Utf7Test, RefusesWhatTheRfcForbids) {
  for (std::string bad : {"&AGE", "&-&", "&AGE-&AGI-", "&AEE-", "&2D0-", "&3gA-", "caf\xc3\xa9", "a\tb", "&!-", "&-&AOk",
                          "&AOl-"}) {
    auto d = DecodeMailboxName(bad);
    if (bad == "&-&") {  // "&-" then a lone '&' at the end
      EXPECT_FALSE(d.ok()) << bad;
      continue;
    }
    EXPECT_FALSE(d.ok()) << bad << " decoded as " << (d.ok() ? *d : "");
    if (!d.ok()) {
      EXPECT_EQ(d.error().code(), Code::kProtocol);
    }
  }
}

Result<Response> ParseOne(const std::string& text, const StreamDecider& s = nullptr, ParserLimits lim = {}) {
  StringInput in(text, 7);  // small reads: every token crosses buffer refills
  ResponseParser p(in, lim);
  return p.Next(s);
}

TEST(ResponseParserTest, GreetingCapabilityAndCodes) {
  auto r = ParseOne("* OK [CAPABILITY IMAP4rev1 LITERAL+ SASL-IR AUTH=PLAIN] Dovecot ready.\r\n");
  ASSERT_TRUE(r.ok()) << r.error().Message();
  EXPECT_EQ(r->name, "OK");
  EXPECT_EQ(r->code, "CAPABILITY");
  ASSERT_EQ(r->code_args.size(), 4u);
  EXPECT_TRUE(r->code_args[1].Is("LITERAL+"));
  EXPECT_EQ(r->text, "Dovecot ready.");

  r = ParseOne("a1 OK [COPYUID 38505 304,319:320 3956:3958] Done\r\n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->type, Response::Type::kTagged);
  EXPECT_EQ(r->tag, "a1");
  ASSERT_EQ(r->code_args.size(), 3u);
  EXPECT_EQ(r->code_args[0].number, 38505u);
  EXPECT_EQ(r->code_args[1].str(), "304,319:320");

  r = ParseOne("* OK [PERMANENTFLAGS (\\Answered \\Seen $Forwarded \\*)] Flags permitted.\r\n");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->code_args.size(), 1u);
  ASSERT_TRUE(r->code_args[0].is_list());
  EXPECT_EQ(r->code_args[0].items[3].str(), "\\*");

  // A free-form code keeps its text; a status without text is fine.
  r = ParseOne("* NO [WEIRD stuff \"unbalanced] whatever\r\n");
  ASSERT_TRUE(r.ok()) << r.error().Message();
  EXPECT_EQ(r->code, "WEIRD");
  r = ParseOne("* OK\r\n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->text, "");
}

TEST(ResponseParserTest, DataResponses) {
  auto r = ParseOne("* LIST (\\HasChildren \\Sent) \"/\" \"Sent Items\"\r\n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->name, "LIST");
  ASSERT_EQ(r->args.size(), 3u);
  EXPECT_EQ(r->args[2].str(), "Sent Items");
  r = ParseOne("* LIST () NIL [Gmail]/All\r\n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->args[1].kind, Value::Kind::kNil);
  EXPECT_EQ(r->args[2].str(), "[Gmail]/All");
  r = ParseOne("* 23 EXISTS\r\n");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->has_number);
  EXPECT_EQ(r->number, 23u);
  EXPECT_EQ(r->name, "EXISTS");
  r = ParseOne("* 12 FETCH (UID 7 FLAGS (\\Seen Work) BODY[HEADER.FIELDS (FROM TO)] {5}\r\nab\r\nc "
               "INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" MODSEQ (12121231000))\r\n");
  ASSERT_TRUE(r.ok()) << r.error().Message();
  ASSERT_EQ(r->args.size(), 1u);
  const auto& items = r->args[0].items;
  ASSERT_EQ(items.size(), 10u);
  EXPECT_EQ(items[4].str(), "BODY[HEADER.FIELDS (FROM TO)]");
  EXPECT_EQ(items[5].str(), "ab\r\nc");
  EXPECT_EQ(items[9].items[0].number, 12121231000u);
  r = ParseOne("+ \r\n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->type, Response::Type::kContinuation);
  r = ParseOne("* VANISHED (EARLIER) 300:310,405\r\n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->args[1].str(), "300:310,405");
}

TEST(ResponseParserTest, StreamsBodiesToTheSink) {
  std::string body(100000, 'x');
  body[5] = '\r';
  std::string got;
  std::string key_seen;
  uint64_t seq_seen = 0;
  auto r = ParseOne("* 3 FETCH (UID 9 BODY[] {100000}\r\n" + body + ")\r\n",
                    [&](const Response& partial, std::string_view key, uint64_t size) -> std::unique_ptr<LiteralSink> {
                      key_seen = std::string(key);
                      seq_seen = partial.number;
                      return std::make_unique<StringSink>(&got);
                    });
  ASSERT_TRUE(r.ok()) << r.error().Message();
  EXPECT_EQ(key_seen, "BODY[]");
  EXPECT_EQ(seq_seen, 3u);
  EXPECT_EQ(got, body);
  ASSERT_EQ(r->args[0].items[3].kind, Value::Kind::kStreamed);
  EXPECT_EQ(r->args[0].items[3].size, 100000u);
  EXPECT_EQ(r->streams.size(), 1u);
}

TEST(ResponseParserTest, BadInputIsANamedError) {
  ParserLimits lim;
  lim.max_literal = 1000;
  lim.max_depth = 8;
  lim.max_line = 4096;
  struct Case {
    std::string input;
    Code code;
    std::string needle;
  } cases[] = {
      // Refused before a byte of it is read: the input holds none.
      {"* 1 FETCH (BODY[] {999999999}\r\n", Code::kProtocol, "more than the 1000 held in memory"},
      {"* 1 FETCH ((((((((((1))))))))))\r\n", Code::kProtocol, "nested deeper than 8"},
      {"* 1 FETCH (UID 1\r\n", Code::kProtocol, "without its ')'"},
      {"* LIST ) \"/\" x\r\n", Code::kProtocol, "without its '('"},
      {"a1 MAYBE done\r\n", Code::kProtocol, "only OK, NO and BAD"},
      {"* 1 FETCH (BODY[] {12}\r\nshort", Code::kNetwork, "middle of a response"},
      {"* SEARCH " + std::string(5000, '1') + "\r\n", Code::kProtocol, "longer than 4096"},
      {"* OK [ALERT\r\n", Code::kProtocol, "without its ']'"},
      {"* 1 FETCH (BODY[] {12x}\r\n", Code::kProtocol, "malformed literal size"},
      {"\"x\" OK\r\n", Code::kProtocol, "neither tagged"},
      {"", Code::kNetwork, "between responses"},
  };
  for (const auto& c : cases) {
    auto r = ParseOne(c.input, nullptr, lim);
    ASSERT_FALSE(r.ok()) << c.input;
    EXPECT_EQ(r.error().code(), c.code) << c.input << ": " << r.error().Message();
    EXPECT_NE(r.error().Message().find(c.needle), std::string::npos) << r.error().Message();
  }
}

TEST(ResponseParserTest, ReadsResponsesBackToBack) {
  StringInput in("* 2 EXISTS\r\n* 0 RECENT\r\nA1 OK [READ-ONLY] EXAMINE completed\r\n", 3);
  ResponseParser p(in);
  EXPECT_EQ(p.Next()->name, "EXISTS");
  EXPECT_EQ(p.Next()->name, "RECENT");
  auto r = p.Next();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->code, "READ-ONLY");
  EXPECT_EQ(p.Next().error().code(), Code::kNetwork);
}

TEST(CommandTest, ArgumentsChooseTheirForm) {
  Command c("LOGIN");
  c.AString("alice").AString("p a\"ss");
  auto segs = c.Serialize("a1", false);
  ASSERT_EQ(segs.size(), 1u);
  EXPECT_EQ(segs[0].bytes, "a1 LOGIN alice \"p a\\\"ss\"\r\n");

  Command a("APPEND");
  a.Mailbox("Entw\xc3\xbcrfe").Raw("(\\Seen)").Literal("hello\r\n");
  segs = a.Serialize("a2", false);
  ASSERT_EQ(segs.size(), 2u);
  EXPECT_EQ(segs[0].bytes, "a2 APPEND Entw&APw-rfe (\\Seen) {7}\r\n");
  EXPECT_TRUE(segs[0].wait_for_continuation);
  EXPECT_EQ(segs[1].bytes, "hello\r\n\r\n");
  segs = a.Serialize("a3", true);
  ASSERT_EQ(segs.size(), 1u);
  EXPECT_EQ(segs[0].bytes, "a3 APPEND Entw&APw-rfe (\\Seen) {7+}\r\nhello\r\n\r\n");

  Command n("SELECT");
  n.AString("nil");
  EXPECT_EQ(n.Serialize("t", false)[0].bytes, "t SELECT \"nil\"\r\n");
  Command u("LOGIN");
  u.AString("j\xc3\xb6rg").AString("x\r\ny");
  EXPECT_EQ(u.Serialize("t", true)[0].bytes, "t LOGIN {5+}\r\nj\xc3\xb6rg {4+}\r\nx\r\ny\r\n");
}

TEST(CommandTest, SequenceSets) {
  EXPECT_EQ(SequenceSet({1, 2, 3, 5, 7, 8, 9}), "1:3,5,7:9");
  std::vector<uint32_t> v;
  ASSERT_TRUE(ParseSequenceSet("1:3,5,9:7", &v));
  EXPECT_EQ(v, (std::vector<uint32_t>{1, 2, 3, 5, 7, 8, 9}));
  v.clear();
  EXPECT_FALSE(ParseSequenceSet("1:*", &v));
  v.clear();
  EXPECT_FALSE(ParseSequenceSet("1:4000000000", &v, 1000));
  v.clear();
  EXPECT_FALSE(ParseSequenceSet("1,", &v));

  // Ranges with "*" (the server side), not expanded.
  std::vector<std::pair<uint32_t, uint32_t>> r;
  ASSERT_TRUE(ParseSequenceRanges("4:*,2,9:7", 4000000000u, &r));
  EXPECT_EQ(r, (std::vector<std::pair<uint32_t, uint32_t>>{{4, 4000000000u}, {2, 2}, {7, 9}}));
  EXPECT_TRUE(InRanges(r, 3999999999u));
  EXPECT_FALSE(InRanges(r, 3));
  for (const char* bad : {"", "0", "1,", ",1", "1:", "a", "1:2:3", "*"}) {
    r.clear();
    EXPECT_FALSE(ParseSequenceRanges(bad, bad[0] == '*' ? 0 : 5, &r)) << bad;
  }
}

}  // namespace
}  // namespace mx::imap

#include "imap/datetime.h"

namespace mx::imap {
namespace {

TEST(DateTimeTest, ParsesAndFormatsInTheGivenZone) {
  auto t = ParseDateTime("17-Jul-1996 02:44:25 -0700");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->epoch, 837596665);
  EXPECT_EQ(t->zone_minutes, -420);
  EXPECT_EQ(FormatDateTime(*t), "17-Jul-1996 02:44:25 -0700");
  t = ParseDateTime(" 1-Jan-2020 00:00:00 +1400");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(FormatDateTime(*t), "01-Jan-2020 00:00:00 +1400");
  EXPECT_EQ(t->epoch, 1577836800 - 14 * 3600);
  for (const char* bad : {"", "17-Jul-1996", "32-Jan-2000 00:00:00 +0000", "29-Feb-2001 00:00:00 +0000",
                          "17-Jux-1996 02:44:25 -0700", "17-Jul-1996 24:00:00 -0700", "17-Jul-1996 02:44:25 0700",
                          "17-Jul-1996 02:44:25 -0700x"})
    EXPECT_FALSE(ParseDateTime(bad).has_value()) << bad;
}

}  // namespace
}  // namespace mx::imap
