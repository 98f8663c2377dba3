// IMAP SEARCH criteria (RFC 3501 §6.4.4, with RFC 7162's MODSEQ) parsed once
// into a tree and matched message by message. Header and text keys match
// decoded text (imap/search_text.h); the session reads a message's body only
// when the program has such a key.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "imap/response.h"
#include "imap/search_text.h"
#include "store/db/database.h"

namespace mx::imapd {

class SearchProgram {
 public:
  /// Parses the keys `args[first..]` (all of them must match). `max_seq`
  /// and `max_uid` give "*" its value. Returns "" or the reply to send
  /// ("BAD ..." for bad syntax, "NO [BADCHARSET ...]" for a charset).
  std::string Parse(const std::vector<imap::Value>& args, size_t first, uint32_t max_seq, uint32_t max_uid);

  /// Whether matching needs the message's header or its whole text.
  bool needs_header() const { return needs_header_; }
  bool needs_body() const { return needs_body_; }
  /// The program has a MODSEQ key (the reply then ends "(MODSEQ n)").
  bool has_modseq() const { return has_modseq_; }

  /// `text` may be null when neither needs_header() nor needs_body().
  bool Matches(const store::MessageRecord& m, uint32_t seq, const imap::SearchText* text) const;

 private:
  struct Node {
    enum Kind {
      kAnd, kOr, kNot, kAll, kFlag, kUnflag, kKeyword, kUnkeyword, kNone,
      kSeq, kUid, kLarger, kSmaller, kBefore, kOn, kSince, kSentBefore, kSentOn, kSentSince,
      kHeader, kBody, kText, kModseq
    } kind = kAll;
    std::vector<Node> kids;
    uint32_t flag = 0;
    std::string field, needle;  // needle folded
    uint64_t number = 0;
    int64_t day = 0;
    std::vector<std::pair<uint32_t, uint32_t>> ranges;
  };
  /// One key at args[*k] (advances *k past it and its arguments).
  std::string ParseKey(const std::vector<imap::Value>& args, size_t* k, int depth, Node* out);
  bool Eval(const Node& n, const store::MessageRecord& m, uint32_t seq, const imap::SearchText* text) const;

  Node root_;  // kAnd of the top-level keys (set by Parse)
  uint32_t max_seq_ = 0, max_uid_ = 0;
  bool needs_header_ = false, needs_body_ = false, has_modseq_ = false;
};

}  // namespace mx::imapd
