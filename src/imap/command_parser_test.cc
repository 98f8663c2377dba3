// The server side of the codec: commands as clients send them, and every way
// a client can get one wrong ends in BAD/NO with a reason, or BYE when the
// stream cannot be resynchronised — never a crash, never an unbounded read.
#include "imap/command_parser.h"

#include <gtest/gtest.h>

namespace mx::imap {
namespace {

struct Parsed {
  std::vector<ParsedCommand> commands;
  int continuations = 0;
  std::optional<Error> end;  // why reading stopped
};

Parsed ParseAll(const std::string& text, CommandLimits lim = {}, size_t max_read = 5) {
  StringInput in(text, max_read);  // small reads: every token crosses a refill
  CommandParser p(in, lim);
  Parsed run;
  for (int i = 0; i < 100; ++i) {
    auto c = p.Next([&]() -> Status {
      ++run.continuations;
      return Ok();
    });
    if (!c.ok()) {
      run.end = c.error();
      break;
    }
    run.commands.push_back(std::move(*c));
    if (run.commands.back().fatal) break;
  }
  return run;
}

TEST(CommandParserTest, ReadsCommandsWithEveryKindOfValue) {
  Parsed r = ParseAll(
      "a1 LOGIN alice \"pw \\\"x\\\"\"\r\n"
      "a2 uid fetch 1:*,7 (FLAGS BODY.PEEK[HEADER.FIELDS (From To)]<0.100> MODSEQ) (CHANGEDSINCE 12345)\r\n"
      "a3 APPEND INBOX (\\Seen $Work) \"17-Jul-1996 02:44:25 -0700\" {12}\r\nHello\r\nWorld\r\n"
      "a4 APPEND Sent {3+}\r\nabc {2+}\r\nde\r\n"
      "a5 LIST \"\" %/*\r\n"
      "a6 SEARCH CHARSET UTF-8 SUBJECT ~{4}\r\n\xc3\xa9t\xc3\r\n"
      "a7 NOOP\r\n");
  ASSERT_FALSE(r.end && r.end->code() != Code::kNetwork) << r.end->Message();
  ASSERT_EQ(r.commands.size(), 7u);
  for (auto& c : r.commands) EXPECT_EQ(c.bad, "") << c.tag;
  EXPECT_EQ(r.commands[0].name, "LOGIN");
  EXPECT_EQ(r.commands[0].args[1].str(), "pw \"x\"");
  const ParsedCommand& f = r.commands[1];
  EXPECT_EQ(f.name, "UID");
  ASSERT_EQ(f.args.size(), 4u);
  EXPECT_TRUE(f.args[0].Is("FETCH"));
  EXPECT_EQ(f.args[1].str(), "1:*,7");
  ASSERT_TRUE(f.args[2].is_list());
  ASSERT_EQ(f.args[2].items.size(), 3u);
  EXPECT_EQ(f.args[2].items[1].str(), "BODY.PEEK[HEADER.FIELDS (From To)]<0.100>");
  EXPECT_EQ(f.args[3].items[1].number, 12345u);
  const ParsedCommand& a = r.commands[2];
  ASSERT_EQ(a.args.size(), 4u);
  EXPECT_EQ(a.args[1].items[0].str(), "\\Seen");
  EXPECT_EQ(a.args[3].str(), "Hello\r\nWorld");
  EXPECT_EQ(r.continuations, 2);  // {11} and ~{4} wait for "+"; {N+} do not
  EXPECT_EQ(r.commands[3].args[1].str(), "abc");
  EXPECT_EQ(r.commands[3].args[2].str(), "de");
  EXPECT_EQ(r.commands[4].args[1].str(), "%/*");
  EXPECT_EQ(r.commands[5].args[3].str(), "\xc3\xa9t\xc3");
  EXPECT_EQ(r.commands[6].name, "NOOP");
  EXPECT_TRUE(r.commands[6].args.empty());
}

TEST(CommandParserTest, GrammarErrorsAreBadAndTheNextCommandStillParses) {
  Parsed r = ParseAll(
      "\r\n"
      "b1 FETCH 1 (FLAGS\r\n"
      "b2 FETCH 1 FLAGS)\r\n"
      "+x NOOP\r\n"
      "b3\r\n"
      "b4 SELECT \"INBOX\r\n"
      "b5 (X)\r\n"
      "b6 LOGIN a {3+}\r\nb)c ) {2+}\r\nxy\r\n"
      "b7 NOOP\r\n");
  std::string dump;
  for (auto& c : r.commands) dump += c.tag + " " + c.name + " [" + c.bad + "]\n";
  ASSERT_EQ(r.commands.size(), 9u) << dump;
  EXPECT_EQ(r.commands[0].tag, "*");
  EXPECT_NE(r.commands[0].bad.find("empty line"), std::string::npos);
  EXPECT_EQ(r.commands[1].tag, "b1");
  EXPECT_NE(r.commands[1].bad.find("'('"), std::string::npos) << r.commands[1].bad;
  EXPECT_NE(r.commands[2].bad.find("')'"), std::string::npos) << r.commands[2].bad;
  EXPECT_EQ(r.commands[3].tag, "*");  // '+' may not start a tag
  EXPECT_NE(r.commands[3].bad, "");
  EXPECT_NE(r.commands[4].bad.find("without a command"), std::string::npos);
  EXPECT_NE(r.commands[5].bad.find("quoted"), std::string::npos) << r.commands[5].bad;
  EXPECT_NE(r.commands[6].bad.find("command name"), std::string::npos);
  // The bad line announced {N+} literals: their bytes are skipped, not read as commands.
  EXPECT_EQ(r.commands[7].tag, "b6");
  EXPECT_NE(r.commands[7].bad, "");
  EXPECT_EQ(r.commands[8].tag, "b7");
  EXPECT_EQ(r.commands[8].bad, "");
  for (auto& c : r.commands) EXPECT_FALSE(c.fatal);
}

TEST(CommandParserTest, DeepNestingIsBad) {
  std::string deep = "c1 SEARCH " + std::string(100, '(') + "ALL" + std::string(100, ')') + "\r\nc2 NOOP\r\n";
  Parsed r = ParseAll(deep);
  ASSERT_EQ(r.commands.size(), 2u);
  EXPECT_NE(r.commands[0].bad.find("nested"), std::string::npos) << r.commands[0].bad;
  EXPECT_EQ(r.commands[1].bad, "");
}

TEST(CommandParserTest, OversizedLiteralsAreRefusedBeforeTheyAreRead) {
  CommandLimits lim;
  lim.max_literal = 1000;
  lim.max_literal_total = 1500;
  lim.max_discard = 5000;
  // {N} too large: no continuation, TOOBIG; the client then sends its next command.
  Parsed r = ParseAll("d1 APPEND INBOX {1001}\r\nd2 NOOP\r\n", lim);
  ASSERT_EQ(r.commands.size(), 2u);
  EXPECT_EQ(r.continuations, 0);
  EXPECT_EQ(r.commands[0].bad_code, "TOOBIG");
  EXPECT_NE(r.commands[0].bad.find("1001 bytes"), std::string::npos) << r.commands[0].bad;
  EXPECT_EQ(r.commands[1].name, "NOOP");
  // MULTIAPPEND beyond the per-command total.
  r = ParseAll("d3 APPEND INBOX {800}\r\n" + std::string(800, 'a') + " {800}\r\nd4 NOOP\r\n", lim);
  ASSERT_EQ(r.commands.size(), 2u);
  EXPECT_EQ(r.continuations, 1);
  EXPECT_EQ(r.commands[0].bad_code, "TOOBIG");
  EXPECT_NE(r.commands[0].bad.find("in one command"), std::string::npos);
  // {N+} too large but skippable: dropped, then BAD, and the stream goes on.
  r = ParseAll("d5 APPEND INBOX {2000+}\r\n" + std::string(2000, 'x') + "\r\nd6 NOOP\r\n", lim);
  ASSERT_EQ(r.commands.size(), 2u);
  EXPECT_EQ(r.commands[0].bad_code, "TOOBIG");
  EXPECT_FALSE(r.commands[0].fatal);
  EXPECT_EQ(r.commands[1].name, "NOOP");
  // {N+} too large to skip: fatal, and not one byte of it was read.
  std::string huge = "d7 APPEND INBOX {999999999+}\r\n";
  r = ParseAll(huge + std::string(3000, 'x'), lim);
  ASSERT_EQ(r.commands.size(), 1u);
  EXPECT_TRUE(r.commands[0].fatal);
}

TEST(CommandParserTest, AnEndlessLineIsFatalWithinTheLimit) {
  CommandLimits lim;
  lim.max_line = 1000;
  Parsed r = ParseAll("e1 NOOP " + std::string(5000, 'a') + "\r\n", lim, 4096);
  ASSERT_EQ(r.commands.size(), 1u);
  EXPECT_TRUE(r.commands[0].fatal);
  EXPECT_EQ(r.commands[0].tag, "e1");
  EXPECT_NE(r.commands[0].bad.find("1000"), std::string::npos) << r.commands[0].bad;
}

TEST(CommandParserTest, AClientThatVanishesMidLiteralIsANetworkError) {
  Parsed r = ParseAll("f1 APPEND INBOX {100}\r\nonly part of it");
  EXPECT_TRUE(r.commands.empty());
  ASSERT_TRUE(r.end.has_value());
  EXPECT_EQ(r.end->code(), Code::kNetwork);
  EXPECT_NE(r.end->Message().find("middle of a command"), std::string::npos) << r.end->Message();
  // Between commands: the same code, said so.
  r = ParseAll("f2 NOOP\r\n");
  ASSERT_EQ(r.commands.size(), 1u);
  ASSERT_TRUE(r.end.has_value());
  EXPECT_NE(r.end->Message().find("between commands"), std::string::npos);
}

TEST(CommandParserTest, AFailingContinuationStopsTheRead) {
  StringInput in("g1 APPEND INBOX {3}\r\nabc\r\n");
  CommandParser p(in);
  auto c = p.Next([]() -> Status { return Error(Code::kNetwork, "cannot send", "client", "gone"); });
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code(), Code::kNetwork);
}

}  // namespace
}  // namespace mx::imap
