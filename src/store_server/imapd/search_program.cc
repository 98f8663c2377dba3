#include "store_server/imapd/search_program.h"

#include <algorithm>

#include "imap/command.h"

namespace mx::imapd {
namespace {

constexpr int kMaxDepth = 32;  // nested lists, NOT and OR chains

}  // namespace

std::string SearchProgram::Parse(const std::vector<imap::Value>& args, size_t first, uint32_t max_seq,
                                 uint32_t max_uid) {
  max_seq_ = max_seq;
  max_uid_ = max_uid;
  root_.kind = Node::kAnd;
  size_t k = first;
  if (k + 1 < args.size() && !args[k].is_list() && imap::AsciiIEquals(args[k].str(), "CHARSET")) {
    std::string cs = imap::AsciiUpper(args[k + 1].str());
    if (cs != "UTF-8" && cs != "US-ASCII") return "NO [BADCHARSET (UTF-8 US-ASCII)] charset " + args[k + 1].str() + " is not supported";
    k += 2;
  }
  if (k >= args.size()) return "BAD SEARCH needs at least one key";
  while (k < args.size()) {
    Node n;
    std::string err = ParseKey(args, &k, 0, &n);
    if (!err.empty()) return err;
    root_.kids.push_back(std::move(n));
  }
  return "";
}

std::string SearchProgram::ParseKey(const std::vector<imap::Value>& args, size_t* k, int depth, Node* out) {
  if (depth > kMaxDepth) return "BAD search keys nested deeper than " + std::to_string(kMaxDepth);
  if (*k >= args.size()) return "BAD a search key is missing its operand";
  const imap::Value& v = args[(*k)++];
  if (v.is_list()) {
    if (v.items.empty()) return "BAD an empty () is not a search key";
    out->kind = Node::kAnd;
    size_t j = 0;
    while (j < v.items.size()) {
      Node n;
      std::string err = ParseKey(v.items, &j, depth + 1, &n);
      if (!err.empty()) return err;
      out->kids.push_back(std::move(n));
    }
    return "";
  }
  std::string key = imap::AsciiUpper(v.str());
  auto operand = [&](std::string* s) -> bool {
    if (*k >= args.size() || args[*k].is_list()) return false;
    *s = args[(*k)++].str();
    return true;
  };
  auto string_key = [&](Node::Kind kind, const std::string& field) -> std::string {
    std::string s;
    if (!operand(&s)) return "BAD " + key + " needs a string";
    out->kind = kind;
    out->field = field;
    out->needle = imap::FoldCase(s);
    if (kind == Node::kBody || kind == Node::kText) needs_body_ = true;
    needs_header_ = true;
    return "";
  };
  auto date_key = [&](Node::Kind kind) -> std::string {
    std::string s;
    if (!operand(&s)) return "BAD " + key + " needs a date";
    auto day = imap::ParseSearchDate(s);
    if (!day) return "BAD '" + s + "' is not a date (1-Feb-1994)";
    out->kind = kind;
    out->day = *day;
    if (kind == Node::kSentBefore || kind == Node::kSentOn || kind == Node::kSentSince) needs_header_ = true;
    return "";
  };
  auto number_key = [&](Node::Kind kind) -> std::string {
    std::string s;
    if (!operand(&s) || s.empty() || s.size() > 19 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return "BAD " + key + " needs a number";
    out->kind = kind;
    out->number = std::stoull(s);
    return "";
  };
  struct FlagKey {
    const char* name;
    uint32_t bit;
    bool set;
  };
  static const FlagKey kFlags[] = {
      {"ANSWERED", store::kAnswered, true}, {"UNANSWERED", store::kAnswered, false},
      {"DELETED", store::kDeleted, true},   {"UNDELETED", store::kDeleted, false},
      {"DRAFT", store::kDraft, true},       {"UNDRAFT", store::kDraft, false},
      {"FLAGGED", store::kFlagged, true},   {"UNFLAGGED", store::kFlagged, false},
      {"SEEN", store::kSeen, true},         {"UNSEEN", store::kSeen, false},
  };
  for (const auto& f : kFlags)
    if (key == f.name) {
      out->kind = f.set ? Node::kFlag : Node::kUnflag;
      out->flag = f.bit;
      return "";
    }
  // This store has no \Recent (every session sees 0 recent): RECENT and NEW
  // match nothing, OLD everything.
  if (key == "ALL" || key == "OLD") {
    out->kind = Node::kAll;
    return "";
  }
  if (key == "RECENT" || key == "NEW") {
    out->kind = Node::kNone;
    return "";
  }
  if (key == "KEYWORD" || key == "UNKEYWORD") {
    std::string s;
    if (!operand(&s)) return "BAD " + key + " needs a keyword";
    out->kind = key == "KEYWORD" ? Node::kKeyword : Node::kUnkeyword;
    out->needle = s;
    return "";
  }
  if (key == "NOT") {
    out->kind = Node::kNot;
    out->kids.resize(1, Node{});
    return ParseKey(args, k, depth + 1, &out->kids[0]);
  }
  if (key == "OR") {
    out->kind = Node::kOr;
    out->kids.resize(2, Node{});
    std::string err = ParseKey(args, k, depth + 1, &out->kids[0]);
    return err.empty() ? ParseKey(args, k, depth + 1, &out->kids[1]) : err;
  }
  if (key == "FROM" || key == "TO" || key == "CC" || key == "BCC" || key == "SUBJECT") {
    std::string field = key == "SUBJECT" ? "Subject" : key == "FROM" ? "From" : key == "TO" ? "To" : key == "CC" ? "Cc" : "Bcc";
    return string_key(Node::kHeader, field);
  }
  if (key == "HEADER") {
    std::string field;
    if (!operand(&field) || field.empty()) return "BAD HEADER needs a field name and a string";
    return string_key(Node::kHeader, field);
  }
  if (key == "BODY") return string_key(Node::kBody, "");
  if (key == "TEXT") return string_key(Node::kText, "");
  if (key == "BEFORE") return date_key(Node::kBefore);
  if (key == "ON") return date_key(Node::kOn);
  if (key == "SINCE") return date_key(Node::kSince);
  if (key == "SENTBEFORE") return date_key(Node::kSentBefore);
  if (key == "SENTON") return date_key(Node::kSentOn);
  if (key == "SENTSINCE") return date_key(Node::kSentSince);
  if (key == "LARGER") return number_key(Node::kLarger);
  if (key == "SMALLER") return number_key(Node::kSmaller);
  if (key == "MODSEQ") {
    // RFC 7162: MODSEQ ["entry-name" entry-type] mod-sequence. Per-flag
    // entries are not kept apart: the message's MODSEQ answers them all.
    if (*k + 2 < args.size() && args[*k].kind == imap::Value::Kind::kString) *k += 2;
    has_modseq_ = true;
    return number_key(Node::kModseq);
  }
  if (key == "UID") {
    std::string s;
    if (!operand(&s)) return "BAD UID needs a UID set";
    out->kind = Node::kUid;
    if (!imap::ParseSequenceRanges(s, max_uid_ ? max_uid_ : 1, &out->ranges)) return "BAD '" + s + "' is not a UID set";
    return "";
  }
  out->kind = Node::kSeq;
  if (!imap::ParseSequenceRanges(v.str(), max_seq_ ? max_seq_ : 1, &out->ranges))
    return "BAD '" + v.str() + "' is not a search key";
  return "";
}

bool SearchProgram::Matches(const store::MessageRecord& m, uint32_t seq, const imap::SearchText* text) const {
  return Eval(root_, m, seq, text);
}

bool SearchProgram::Eval(const Node& n, const store::MessageRecord& m, uint32_t seq, const imap::SearchText* text) const {
  auto contains = [&](const std::string& hay) { return hay.find(n.needle) != std::string::npos; };
  auto sent_day = [&](int64_t* day) {
    if (!text || !text->SentDate()) return false;
    *day = imap::DayOf(*text->SentDate());
    return true;
  };
  int64_t day = 0;
  switch (n.kind) {
    case Node::kAnd:
      return std::all_of(n.kids.begin(), n.kids.end(), [&](const Node& c) { return Eval(c, m, seq, text); });
    case Node::kOr: return Eval(n.kids[0], m, seq, text) || Eval(n.kids[1], m, seq, text);
    case Node::kNot: return !Eval(n.kids[0], m, seq, text);
    case Node::kAll: return true;
    case Node::kNone: return false;
    case Node::kFlag: return (m.flags & n.flag) != 0;
    case Node::kUnflag: return (m.flags & n.flag) == 0;
    case Node::kKeyword:
    case Node::kUnkeyword: {
      bool has = std::any_of(m.keywords.begin(), m.keywords.end(), [&](const std::string& kw) { return imap::AsciiIEquals(kw, n.needle); });
      return has == (n.kind == Node::kKeyword);
    }
    case Node::kSeq: return imap::InRanges(n.ranges, seq);
    case Node::kUid: return imap::InRanges(n.ranges, m.uid);
    case Node::kLarger: return m.size > n.number;
    case Node::kSmaller: return m.size < n.number;
    case Node::kModseq: return m.modseq >= n.number;
    case Node::kBefore: return imap::DayOf({m.internal_date, m.internal_zone}) < n.day;
    case Node::kOn: return imap::DayOf({m.internal_date, m.internal_zone}) == n.day;
    case Node::kSince: return imap::DayOf({m.internal_date, m.internal_zone}) >= n.day;
    case Node::kSentBefore: return sent_day(&day) && day < n.day;
    case Node::kSentOn: return sent_day(&day) && day == n.day;
    case Node::kSentSince: return sent_day(&day) && day >= n.day;
    case Node::kHeader: {
      if (!text) return false;
      auto f = text->Field(n.field);
      return f && contains(*f);
    }
    case Node::kBody: return text && contains(text->Body());
    case Node::kText: return text && (contains(text->Header()) || contains(text->Body()));
  }
  return false;
}

}  // namespace mx::imapd
