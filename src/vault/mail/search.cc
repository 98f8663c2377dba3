#include "vault/mail/search.h"

#include <gmime/gmime.h>

#include <cstdio>
#include <cstring>
#include <mutex>

#include "imap/datetime.h"

namespace mx::vault::mail {
namespace {

void InitGMime() {
  static std::once_flag once;
  std::call_once(once, [] { g_mime_init(); });
}

std::string Fold(std::string_view s) {
  // Invalid UTF-8 (raw 8-bit headers) is made valid first.
  gchar* valid = g_utf8_make_valid(s.data(), gssize(s.size()));
  gchar* folded = g_utf8_casefold(valid, -1);
  std::string out(folded);
  g_free(folded);
  g_free(valid);
  return out;
}

bool Contains(const std::string& folded_hay, const std::string& needle) {
  return needle.empty() || folded_hay.find(Fold(needle)) != std::string::npos;
}

std::string Addresses(InternetAddressList* list) {
  if (!list) return "";
  gchar* s = internet_address_list_to_string(list, nullptr, FALSE);
  std::string out = s ? s : "";
  g_free(s);
  return out;
}

void CollectText(GMimeObject* obj, std::string* out, int depth) {
  if (!obj || depth > 32 || out->size() > (64u << 20)) return;
  if (GMIME_IS_MULTIPART(obj)) {
    GMimeMultipart* mp = GMIME_MULTIPART(obj);
    int n = g_mime_multipart_get_count(mp);
    for (int i = 0; i < n; ++i) CollectText(g_mime_multipart_get_part(mp, i), out, depth + 1);
  } else if (GMIME_IS_MESSAGE_PART(obj)) {
    GMimeMessage* inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
    if (inner) CollectText(g_mime_message_get_mime_part(inner), out, depth + 1);
  } else if (GMIME_IS_TEXT_PART(obj)) {
    gchar* text = g_mime_text_part_get_text(GMIME_TEXT_PART(obj));  // decoded, in UTF-8
    if (text) {
      out->append(text);
      out->push_back('\n');
      g_free(text);
    }
  }
}

int64_t DayOf(const imap::DateTime& t) {
  int64_t local = t.epoch + int64_t(t.zone_minutes) * 60;
  return local >= 0 ? local / 86400 : (local - 86399) / 86400;
}

}  // namespace

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
  if (auto t = imap::ParseDateTime(imap_form + " 00:00:00 +0000")) return DayOf(*t);
  return Error(Code::kUsage, "not a date", s, "", "write YYYY-MM-DD (2024-05-01) or D-Mon-YYYY (1-May-2024)");
}

bool MatchMessage(std::string_view message, const MessageMeta& meta, const MailQuery& q, Found* found) {
  if (q.since_day || q.before_day) {
    auto t = imap::ParseDateTime(meta.internaldate);
    if (!t) return false;
    int64_t day = DayOf(*t);
    if (q.since_day && day < *q.since_day) return false;
    if (q.before_day && day >= *q.before_day) return false;
  }
  InitGMime();
  GMimeStream* stream = g_mime_stream_mem_new_with_buffer(message.data(), message.size());
  GMimeParser* parser = g_mime_parser_new_with_stream(stream);
  g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
  GMimeMessage* msg = g_mime_parser_construct_message(parser, nullptr);
  g_object_unref(parser);
  g_object_unref(stream);
  if (!msg) return false;
  const char* subject = g_mime_message_get_subject(msg);
  found->subject = subject ? subject : "";
  found->from = Addresses(g_mime_message_get_from(msg));
  std::string to = Addresses(g_mime_message_get_to(msg));
  std::string cc = Addresses(g_mime_message_get_cc(msg));
  found->to = to;
  bool ok = Contains(Fold(found->from), q.from) && Contains(Fold(to + "\n" + cc), q.to) &&
            Contains(Fold(found->subject), q.subject);
  if (ok && !q.text.empty()) {
    // TEXT: the header and the decoded text parts.
    gchar* headers = g_mime_object_get_headers(GMIME_OBJECT(msg), nullptr);
    std::string all = headers ? headers : "";
    g_free(headers);
    all += found->subject + "\n" + found->from + "\n" + to + "\n";
    CollectText(g_mime_message_get_mime_part(msg), &all, 0);
    ok = Contains(Fold(all), q.text);
  }
  g_object_unref(msg);
  return ok;
}

}  // namespace mx::vault::mail
