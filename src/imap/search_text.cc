#include "imap/search_text.h"

#include <gmime/gmime.h>

#include <cstring>
#include <mutex>

#include "imap/response.h"

namespace mx::imap {
namespace {

void InitGMime() {
  static std::once_flag once;
  std::call_once(once, [] { g_mime_init(); });
}

std::string Addresses(InternetAddressList* list) {
  if (!list) return "";
  gchar* s = internet_address_list_to_string(list, nullptr, FALSE);
  std::string out = s ? s : "";
  g_free(s);
  return out;
}

constexpr size_t kMaxText = 64u << 20;

void CollectText(GMimeObject* obj, std::string* out, int depth) {
  if (!obj || depth > 32 || out->size() > kMaxText) return;
  if (GMIME_IS_MULTIPART(obj)) {
    GMimeMultipart* mp = GMIME_MULTIPART(obj);
    int n = g_mime_multipart_get_count(mp);
    for (int i = 0; i < n; ++i) CollectText(g_mime_multipart_get_part(mp, i), out, depth + 1);
  } else if (GMIME_IS_MESSAGE_PART(obj)) {
    GMimeMessage* inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
    if (!inner) return;
    // An attached message's header is text of the message too.
    GMimeHeaderList* h = g_mime_object_get_header_list(GMIME_OBJECT(inner));
    for (int i = 0, n = h ? g_mime_header_list_get_count(h) : 0; i < n; ++i) {
      GMimeHeader* f = g_mime_header_list_get_header_at(h, i);
      const char* v = g_mime_header_get_value(f);
      if (v) {
        out->append(v);
        out->push_back('\n');
      }
    }
    CollectText(g_mime_message_get_mime_part(inner), out, depth + 1);
  } else if (GMIME_IS_TEXT_PART(obj)) {
    gchar* text = g_mime_text_part_get_text(GMIME_TEXT_PART(obj));  // decoded, in UTF-8
    if (text) {
      out->append(text);
      out->push_back('\n');
      g_free(text);
    }
  }
}

}  // namespace

std::string FoldCase(std::string_view s) {
  gchar* valid = g_utf8_make_valid(s.data(), gssize(s.size()));
  gchar* folded = g_utf8_casefold(valid, -1);
  std::string out(folded);
  g_free(folded);
  g_free(valid);
  return out;
}

int64_t DayOf(const DateTime& t) {
  int64_t local = t.epoch + int64_t(t.zone_minutes) * 60;
  return local >= 0 ? local / 86400 : (local - 86399) / 86400;
}

std::optional<int64_t> ParseSearchDate(std::string_view s) {
  if (s.empty() || s.size() > 11) return std::nullopt;
  auto t = ParseDateTime(std::string(s) + " 00:00:00 +0000");
  if (!t) return std::nullopt;
  return DayOf(*t);
}

SearchText::SearchText(std::string_view message, bool header_only) {
  InitGMime();
  if (header_only) {
    size_t end = message.find("\r\n\r\n");
    size_t lf = message.find("\n\n");
    if (lf != std::string_view::npos && (end == std::string_view::npos || lf < end)) end = lf + 2;
    else if (end != std::string_view::npos) end += 4;
    if (end != std::string_view::npos) message = message.substr(0, end);
  }
  GMimeStream* stream = g_mime_stream_mem_new_with_buffer(message.data(), message.size());
  GMimeParser* parser = g_mime_parser_new_with_stream(stream);
  g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
  GMimeMessage* msg = g_mime_parser_construct_message(parser, nullptr);
  g_object_unref(parser);
  g_object_unref(stream);
  if (!msg) return;
  GMimeHeaderList* h = g_mime_object_get_header_list(GMIME_OBJECT(msg));
  for (int i = 0, n = h ? g_mime_header_list_get_count(h) : 0; i < n; ++i) {
    GMimeHeader* f = g_mime_header_list_get_header_at(h, i);
    const char* name = g_mime_header_get_name(f);
    const char* value = g_mime_header_get_value(f);  // unfolded, encoded-words decoded
    Field_ field{name ? name : "", FoldCase(value ? value : "")};
    header_ += field.name + ": " + field.value + "\n";
    fields_.push_back(std::move(field));
  }
  const char* subject = g_mime_message_get_subject(msg);
  subject_ = subject ? subject : "";
  from_ = Addresses(g_mime_message_get_from(msg));
  to_ = Addresses(g_mime_message_get_to(msg));
  if (GDateTime* d = g_mime_message_get_date(msg))
    sent_ = DateTime{g_date_time_to_unix(d), int(g_date_time_get_utc_offset(d) / G_TIME_SPAN_MINUTE)};
  if (!header_only) {
    CollectText(g_mime_message_get_mime_part(msg), &body_, 0);
    body_ = FoldCase(body_);
  }
  g_object_unref(msg);
}

SearchText::~SearchText() = default;

std::optional<std::string> SearchText::Field(std::string_view name) const {
  std::optional<std::string> out;
  for (const auto& f : fields_) {
    if (!AsciiIEquals(f.name, name)) continue;
    if (!out) out.emplace();
    else out->push_back('\n');
    *out += f.value;
  }
  return out;
}

}  // namespace mx::imap
