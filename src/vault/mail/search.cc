#include "vault/mail/search.h"

#include <cstdio>

#include "imap/datetime.h"
#include "imap/search_text.h"

namespace mx::vault::mail {

Result<int64_t> ParseDay(const std::string& s) {
  static const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  int y = 0, m = 0, d = 0;
  char tail = 0;
  std::string imap_form = s;  // "1-May-2024"
  if (std::sscanf(s.c_str(), "%4d-%2d-%2d%c", &y, &m, &d, &tail) == 3 && m >= 1 && m <= 12) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%d-%s-%04d", d, kMonths[m - 1], y);
    imap_form = buf;
  }
  if (auto day = imap::ParseSearchDate(imap_form)) return *day;
  return Error(Code::kUsage, "not a date", s, "", "write YYYY-MM-DD (2024-05-01) or D-Mon-YYYY (1-May-2024)");
}

bool MatchMessage(std::string_view message, const MessageMeta& meta, const MailQuery& q, Found* found) {
  if (q.since_day || q.before_day) {
    auto t = imap::ParseDateTime(meta.internaldate);
    if (!t) return false;
    int64_t day = imap::DayOf(*t);
    if (q.since_day && day < *q.since_day) return false;
    if (q.before_day && day >= *q.before_day) return false;
  }
  imap::SearchText text(message, !q.needs_body());
  found->subject = text.Subject();
  found->from = text.From();
  found->to = text.To();
  auto has = [](const std::optional<std::string>& field, const std::string& needle) {
    return needle.empty() || (field && field->find(imap::FoldCase(needle)) != std::string::npos);
  };
  auto joined = [&](const char* a, const char* b) -> std::optional<std::string> {
    auto x = text.Field(a), y = text.Field(b);
    if (!x) return y;
    return y ? *x + "\n" + *y : *x;
  };
  if (!has(text.Field("From"), q.from) || !has(joined("To", "Cc"), q.to) || !has(text.Field("Subject"), q.subject))
    return false;
  // TEXT: the header and the decoded text parts.
  return q.text.empty() || has(text.Header() + text.Body(), q.text);
}

}  // namespace mx::vault::mail
