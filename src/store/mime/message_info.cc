#include "store/mime/message_info.h"

#include <gmime/gmime.h>

#include <algorithm>
#include <mutex>

#include "store/mime/mime_tree.h"

namespace mx::store {
namespace {

using nlohmann::json;

void InitGMime() {
  static std::once_flag once;
  std::call_once(once, [] { g_mime_init(); });
}

std::string Str(const char* s) { return s ? std::string(s) : std::string(); }

json Addresses(const char* raw) {
  json out = json::array();
  if (raw == nullptr) return out;
  InternetAddressList* list = internet_address_list_parse(nullptr, raw);
  if (list == nullptr) return out;
  int n = internet_address_list_length(list);
  for (int i = 0; i < n; ++i) {
    InternetAddress* a = internet_address_list_get_address(list, i);
    if (INTERNET_ADDRESS_IS_MAILBOX(a)) {
      std::string addr = Str(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a)));
      auto at = addr.rfind('@');
      out.push_back({{"name", Str(internet_address_get_name(a))},
                     {"mailbox", at == std::string::npos ? addr : addr.substr(0, at)},
                     {"host", at == std::string::npos ? "" : addr.substr(at + 1)}});
    } else if (INTERNET_ADDRESS_IS_GROUP(a)) {
      json g = {{"group", Str(internet_address_get_name(a))}, {"members", json::array()}};
      InternetAddressList* m = internet_address_group_get_members(INTERNET_ADDRESS_GROUP(a));
      for (int k = 0; m && k < internet_address_list_length(m); ++k) {
        InternetAddress* ma = internet_address_list_get_address(m, k);
        if (!INTERNET_ADDRESS_IS_MAILBOX(ma)) continue;
        std::string addr = Str(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ma)));
        auto at = addr.rfind('@');
        g["members"].push_back({{"name", Str(internet_address_get_name(ma))},
                                {"mailbox", at == std::string::npos ? addr : addr.substr(0, at)},
                                {"host", at == std::string::npos ? "" : addr.substr(at + 1)}});
      }
      out.push_back(std::move(g));
    }
  }
  g_object_unref(list);
  return out;
}

json ContentType(GMimeObject* obj) {
  json ct = {{"type", "text"}, {"subtype", "plain"}, {"params", json::object()}};
  GMimeContentType* t = g_mime_object_get_content_type(obj);
  if (t == nullptr) return ct;
  ct["type"] = Str(g_mime_content_type_get_media_type(t));
  ct["subtype"] = Str(g_mime_content_type_get_media_subtype(t));
  GMimeParamList* params = g_mime_content_type_get_parameters(t);
  for (int i = 0; params && i < g_mime_param_list_length(params); ++i) {
    GMimeParam* p = g_mime_param_list_get_parameter_at(params, i);
    ct["params"][Str(g_mime_param_get_name(p))] = Str(g_mime_param_get_value(p));
  }
  return ct;
}

json Structure(GMimeObject* obj, int depth) {
  json s = ContentType(obj);
  if (depth > 64) return s;  // hostile nesting: stop describing, keep the message
  s["id"] = Str(g_mime_object_get_content_id(obj));
  s["description"] = Str(g_mime_object_get_header(obj, "Content-Description"));
  if (GMIME_IS_MULTIPART(obj)) {
    json parts = json::array();
    GMimeMultipart* mp = GMIME_MULTIPART(obj);
    int n = g_mime_multipart_get_count(mp);
    for (int i = 0; i < n; ++i) parts.push_back(Structure(g_mime_multipart_get_part(mp, i), depth + 1));
    s["parts"] = std::move(parts);
  } else if (GMIME_IS_MESSAGE_PART(obj)) {
    GMimeMessage* inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
    if (inner != nullptr) {
      GMimeObject* body = g_mime_message_get_mime_part(inner);
      if (body != nullptr) s["message"] = Structure(body, depth + 1);
    }
  } else if (GMIME_IS_PART(obj)) {
    GMimePart* part = GMIME_PART(obj);
    s["encoding"] = Str(g_mime_object_get_header(obj, "Content-Transfer-Encoding"));
    GMimeDataWrapper* w = g_mime_part_get_content(part);
    if (w != nullptr) {
      GMimeStream* st = g_mime_data_wrapper_get_stream(w);
      if (st != nullptr) s["size"] = std::max<int64_t>(0, g_mime_stream_length(st));
    }
  }
  return s;
}

}  // namespace

json ParseMessageInfo(std::string_view message) {
  InitGMime();
  json info = {{"size", message.size()}, {"header_size", HeaderBlockEnd(message)}};
  GMimeStream* stream = g_mime_stream_mem_new_with_buffer(message.data(), message.size());
  GMimeParser* parser = g_mime_parser_new_with_stream(stream);
  g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
  GMimeMessage* msg = g_mime_parser_construct_message(parser, nullptr);
  json env = json::object();
  if (msg != nullptr) {
    GMimeHeaderList* headers = g_mime_object_get_header_list(GMIME_OBJECT(msg));
    auto raw = [&](const char* name) -> const char* {
      GMimeHeader* h = g_mime_header_list_get_header(headers, name);
      return h ? g_mime_header_get_raw_value(h) : nullptr;
    };
    auto trimmed = [&](const char* name) {
      std::string v = Str(raw(name));
      while (!v.empty() && (v.back() == '\n' || v.back() == '\r')) v.pop_back();
      size_t b = v.find_first_not_of(" \t");
      return b == std::string::npos ? std::string() : v.substr(b);
    };
    env["date"] = trimmed("Date");
    env["subject"] = trimmed("Subject");
    env["from"] = Addresses(raw("From"));
    env["sender"] = Addresses(raw("Sender"));
    env["reply_to"] = Addresses(raw("Reply-To"));
    env["to"] = Addresses(raw("To"));
    env["cc"] = Addresses(raw("Cc"));
    env["bcc"] = Addresses(raw("Bcc"));
    env["in_reply_to"] = trimmed("In-Reply-To");
    env["message_id"] = trimmed("Message-ID");
    GMimeObject* body = g_mime_message_get_mime_part(msg);
    if (body != nullptr) info["structure"] = Structure(body, 0);
    g_object_unref(msg);
  }
  info["envelope"] = std::move(env);
  g_object_unref(parser);
  g_object_unref(stream);
  return info;
}

}  // namespace mx::store
