#include "store_server/lmtp/session.h"

#include <gtest/gtest.h>

#include <sstream>

namespace mx::lmtp {
namespace {

class RecordingHandler : public Handler {
 public:
  std::string CheckRecipient(const std::string& address) override {
    if (address.rfind("nobody@", 0) == 0) return "550 5.1.1 <" + address + ">: no such mailbox here";
    if (address.rfind("offline@", 0) == 0) return "451 4.3.2 <" + address + ">: database not mounted";
    return {};
  }
  std::vector<std::string> Deliver(const std::string& from, const std::vector<std::string>& rcpts,
                                   const std::string& data) override {
    deliveries.push_back({from, rcpts, data});
    return std::vector<std::string>(rcpts.size(), "250 2.0.0 OK");
  }
  struct D {
    std::string from;
    std::vector<std::string> rcpts;
    std::string data;
  };
  std::vector<D> deliveries;
};

std::vector<std::string> Lines(const std::string& out) {
  std::vector<std::string> v;
  size_t pos = 0;
  while (pos < out.size()) {
    size_t e = out.find("\r\n", pos);
    if (e == std::string::npos) break;
    v.push_back(out.substr(pos, e - pos));
    pos = e + 2;
  }
  return v;
}

std::string FeedAll(Session& s, const std::string& input) {
  std::string out;
  s.Feed(input, &out);
  return out;
}

Limits SmallLimits() {
  Limits l;
  l.max_message_size = 1000;
  return l;
}

TEST(LmtpSession, PipelinedTransactionGetsOneReplyPerRecipient) {
  RecordingHandler h;
  Session s(&h, Limits{}, "mx.test");
  std::string out = FeedAll(s,
                        "LHLO client\r\nMAIL FROM:<a@b.example> SIZE=100 BODY=8BITMIME\r\n"
                        "RCPT TO:<x@example.test>\r\nRCPT TO:<nobody@example.test>\r\n"
                        "RCPT TO:<y@example.test>\r\nDATA\r\n"
                        "Subject: t\r\n\r\n..leading dot\r\nline\r\n.\r\nQUIT\r\n");
  auto lines = Lines(out);
  ASSERT_EQ(lines.size(), 5u + 5u + 2u + 1u);  // LHLO(5) MAIL RCPT*3 DATA, 2 replies, QUIT
  EXPECT_EQ(lines[5], "250 2.1.0 Sender OK");
  EXPECT_EQ(lines[7].substr(0, 9), "550 5.1.1");
  EXPECT_EQ(lines[9].substr(0, 3), "354");
  EXPECT_EQ(lines[10], "250 2.0.0 OK");
  EXPECT_EQ(lines[11], "250 2.0.0 OK");
  EXPECT_EQ(lines[12].substr(0, 3), "221");
  ASSERT_EQ(h.deliveries.size(), 1u);
  EXPECT_EQ(h.deliveries[0].rcpts, (std::vector<std::string>{"x@example.test", "y@example.test"}));
  EXPECT_EQ(h.deliveries[0].data, "Subject: t\r\n\r\n.leading dot\r\nline\r\n");
  EXPECT_TRUE(s.done());
}

TEST(LmtpSession, ByteAtATimeGivesTheSameResult) {
  const std::string input =
      "LHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<x@example.test>\r\nDATA\r\nA\r\n.\r\n.\r\nNOOP\r\n";
  RecordingHandler h1, h2;
  Session s1(&h1, Limits{}, "mx"), s2(&h2, Limits{}, "mx");
  std::string whole = FeedAll(s1, input), pieces;
  for (char c : input) s2.Feed(std::string_view(&c, 1), &pieces);
  EXPECT_EQ(whole, pieces);
  ASSERT_EQ(h2.deliveries.size(), 1u);
  EXPECT_EQ(h2.deliveries[0].data, "A\r\n");
}

TEST(LmtpSession, OverlongLineIsRefusedAndTheSessionGoesOn) {
  RecordingHandler h;
  Session s(&h, Limits{}, "mx");
  std::string out = FeedAll(s, "LHLO c\r\nNOOP " + std::string(5000, 'x') + "\r\nNOOP\r\n");
  auto lines = Lines(out);
  ASSERT_EQ(lines.size(), 7u);
  EXPECT_EQ(lines[5], "500 5.5.2 Line too long");
  EXPECT_EQ(lines[6], "250 2.0.0 OK");
}

TEST(LmtpSession, BareLfAndNulInCommandsAreSyntaxErrors) {
  RecordingHandler h;
  Session s(&h, Limits{}, "mx");
  static const char kInput[] = "LHLO c\nLHLO c\r\nNO\0OP\r\nNOOP\r\n";
  auto lines = Lines(FeedAll(s, std::string(kInput, sizeof(kInput) - 1)));
  ASSERT_EQ(lines.size(), 8u);
  EXPECT_EQ(lines[0].substr(0, 9), "500 5.5.2");
  EXPECT_EQ(lines[6].substr(0, 9), "500 5.5.2");
  EXPECT_EQ(lines[7], "250 2.0.0 OK");
}

TEST(LmtpSession, BareLfOrNulInDataRefusesTheMessageForEveryRecipient) {
  for (std::string body : {std::string("a\nb\r\n"), std::string("a\0b\r\n", 5)}) {
    RecordingHandler h;
    Session s(&h, Limits{}, "mx");
    auto lines = Lines(FeedAll(s, "LHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<x@e.test>\r\nRCPT TO:<y@e.test>\r\nDATA\r\n" +
                                  body + ".\r\nNOOP\r\n"));
    ASSERT_EQ(lines.size(), 12u);
    EXPECT_EQ(lines[9].substr(0, 9), "554 5.6.0");
    EXPECT_EQ(lines[10].substr(0, 9), "554 5.6.0");
    EXPECT_EQ(lines[11], "250 2.0.0 OK");
    EXPECT_TRUE(h.deliveries.empty());
  }
}

TEST(LmtpSession, BareLfDotBareLfDoesNotEndTheData) {
  // The SMTP smuggling pattern: only CRLF.CRLF ends the message.
  RecordingHandler h;
  Session s(&h, Limits{}, "mx");
  FeedAll(s, "LHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<x@e.test>\r\nDATA\r\nA\r\n\n.\nMAIL FROM:<>\r\n");
  EXPECT_TRUE(h.deliveries.empty());
  std::string out = FeedAll(s, ".\r\n");
  EXPECT_EQ(out.substr(0, 9), "554 5.6.0");
  EXPECT_TRUE(h.deliveries.empty());
}

TEST(LmtpSession, OversizeMessageGets552) {
  RecordingHandler h;
  Session s(&h, SmallLimits(), "mx");
  auto lines = Lines(FeedAll(s, "LHLO c\r\nMAIL FROM:<> SIZE=5000\r\nMAIL FROM:<>\r\nRCPT TO:<x@e.test>\r\nDATA\r\n" +
                                std::string(3000, 'a') + "\r\n.\r\n"));
  ASSERT_EQ(lines.size(), 10u);
  EXPECT_EQ(lines[5].substr(0, 9), "552 5.3.4");
  EXPECT_EQ(lines[6], "250 2.1.0 Sender OK");
  EXPECT_EQ(lines[9].substr(0, 9), "552 5.3.4");
  EXPECT_TRUE(h.deliveries.empty());
}

TEST(LmtpSession, InvalidAddressesGet501) {
  RecordingHandler h;
  Session s(&h, Limits{}, "mx");
  auto lines = Lines(FeedAll(s,
                         "LHLO c\r\nMAIL FROM:nobrackets@x\r\nMAIL FROM:<a b@x>\r\nMAIL FROM:<>\r\n"
                         "RCPT TO:<>\r\nRCPT TO:<no-at-sign>\r\nRCPT TO:<a@b@c>\r\nRCPT TO:<@>\r\n"
                         "RCPT TO:<x@e.test\r\nRCPT TO:<ok@e.test>\r\n"));
  ASSERT_EQ(lines.size(), 14u);
  EXPECT_EQ(lines[5].substr(0, 3), "501");
  EXPECT_EQ(lines[6].substr(0, 3), "501");
  EXPECT_EQ(lines[7].substr(0, 3), "250");
  for (int i = 8; i <= 12; ++i) EXPECT_EQ(lines[i].substr(0, 9), "501 5.1.3") << lines[i];
  EXPECT_EQ(lines[13].substr(0, 3), "250");
}

TEST(LmtpSession, TenThousandRecipientsAreCappedWith452) {
  RecordingHandler h;
  Session s(&h, Limits{}, "mx");
  std::string in = "LHLO c\r\nMAIL FROM:<>\r\n";
  for (int i = 0; i < 10000; ++i) in += "RCPT TO:<u" + std::to_string(i) + "@e.test>\r\n";
  in += "DATA\r\nhi\r\n.\r\n";
  auto lines = Lines(FeedAll(s, in));
  size_t ok = 0, full = 0;
  for (const auto& l : lines) {
    if (l == "250 2.1.5 Recipient OK") ++ok;
    if (l.rfind("452 4.5.3", 0) == 0) ++full;
  }
  EXPECT_EQ(ok, 1000u);
  EXPECT_EQ(full, 9000u);
  ASSERT_EQ(h.deliveries.size(), 1u);
  EXPECT_EQ(h.deliveries[0].rcpts.size(), 1000u);
  // one reply per accepted recipient after the data
  EXPECT_EQ(lines.size(), 5u + 1u + 10000u + 1u + 1000u);
}

TEST(LmtpSession, ClientGoneMidDataDeliversNothing) {
  RecordingHandler h;
  {
    Session s(&h, Limits{}, "mx");
    FeedAll(s, "LHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<x@e.test>\r\nDATA\r\nSubject: half\r\n\r\npart");
  }
  EXPECT_TRUE(h.deliveries.empty());
}

TEST(LmtpSession, SequenceErrorsAndUnknownCommands) {
  RecordingHandler h;
  Session s(&h, Limits{}, "mx");
  auto lines = Lines(FeedAll(s, "MAIL FROM:<>\r\nHELO x\r\nLHLO c\r\nRCPT TO:<x@e.test>\r\nDATA\r\n"
                            "MAIL FROM:<>\r\nDATA\r\nFOO\r\nRCPT TO:<offline@e.test>\r\n"));
  ASSERT_EQ(lines.size(), 13u);
  EXPECT_EQ(lines[0].substr(0, 3), "503");
  EXPECT_EQ(lines[1].substr(0, 3), "500");
  EXPECT_EQ(lines[7].substr(0, 3), "503");  // RCPT before MAIL
  EXPECT_EQ(lines[8].substr(0, 3), "503");  // DATA before MAIL
  EXPECT_EQ(lines[9].substr(0, 3), "250");  // MAIL
  EXPECT_EQ(lines[10].substr(0, 3), "503"); // DATA without recipients
  EXPECT_EQ(lines[11].substr(0, 3), "500"); // FOO
  EXPECT_EQ(lines[12].substr(0, 9), "451 4.3.2");  // database dismounted: the MTA retries
}

TEST(LmtpSession, TooManyErrorsCloseTheSession) {
  RecordingHandler h;
  Limits l;
  l.max_errors = 5;
  Session s(&h, l, "mx");
  std::string in;
  for (int i = 0; i < 10; ++i) in += "BOGUS\r\n";
  std::string out;
  EXPECT_FALSE(s.Feed(in, &out));
  EXPECT_NE(out.find("421 4.7.0"), std::string::npos);
}

}  // namespace
}  // namespace mx::lmtp
