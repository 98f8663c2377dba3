#include "store_server/imapd/fetch_format.h"

#include <algorithm>

#include "store/mime/message_info.h"

namespace mx::imapd {
namespace {

using nlohmann::json;

std::string Params(const std::vector<std::pair<std::string, std::string>>& params) {
  if (params.empty()) return "NIL";
  std::string out = "(";
  for (const auto& [n, v] : params) out += (out.size() > 1 ? " " : "") + ImapString(n) + " " + ImapString(v);
  return out + ")";
}

std::string Addresses(const json& list) {
  if (!list.is_array() || list.empty()) return "NIL";
  std::string out = "(";
  auto one = [&](const json& a) {
    out += "(" + NString(a.value("name", "")) + " NIL " + NString(a.value("mailbox", "")) + " " +
           NString(a.value("host", "")) + ")";
  };
  for (const auto& a : list) {
    if (a.contains("group")) {  // RFC 3501: group start (NIL NIL name NIL), members, end (NIL NIL NIL NIL)
      out += "(NIL NIL " + NString(a.value("group", "")) + " NIL)";
      for (const auto& m : a["members"]) one(m);
      out += "(NIL NIL NIL NIL)";
    } else {
      one(a);
    }
  }
  return out + ")";
}

std::string Extension(const store::MimePart& p) {
  std::string dsp = "NIL";
  if (!p.disposition.empty()) dsp = "(" + ImapString(p.disposition) + " " + Params(p.disposition_params) + ")";
  return dsp + " " + NString(p.language) + " " + NString(p.location);
}

}  // namespace

std::string ImapString(std::string_view s) {
  bool plain = s.size() < 1000 && std::none_of(s.begin(), s.end(), [](char c) {
                 auto u = static_cast<unsigned char>(c);
                 return c == '\r' || c == '\n' || u >= 0x80 || u == 0;
               });
  if (!plain) return "{" + std::to_string(s.size()) + "}\r\n" + std::string(s);
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string NString(std::string_view s) { return s.empty() ? "NIL" : ImapString(s); }

std::string Envelope(std::string_view header) {
  std::string h(header);
  if (h.size() < 2 || h.substr(h.size() - 2) != "\n\n") h += "\r\n";
  json info = store::ParseMessageInfo(h);
  const json& e = info["envelope"];
  auto s = [&](const char* k) { return NString(e.value(k, "")); };
  std::string from = Addresses(e.value("from", json::array()));
  std::string sender = Addresses(e.value("sender", json::array()));
  std::string reply_to = Addresses(e.value("reply_to", json::array()));
  // RFC 3501: Sender and Reply-To default to From.
  if (sender == "NIL") sender = from;
  if (reply_to == "NIL") reply_to = from;
  return "(" + s("date") + " " + s("subject") + " " + from + " " + sender + " " + reply_to + " " +
         Addresses(e.value("to", json::array())) + " " + Addresses(e.value("cc", json::array())) + " " +
         Addresses(e.value("bcc", json::array())) + " " + s("in_reply_to") + " " + s("message_id") + ")";
}

std::string BodyStructure(std::string_view msg, const store::MimePart& p, bool ext) {
  if (p.multipart()) {
    std::string out = "(";
    for (const auto& c : p.children) out += BodyStructure(msg, c, ext);
    out += " " + ImapString(p.subtype);
    if (ext) out += " " + Params(p.params) + " " + Extension(p);
    return out + ")";
  }
  auto params = p.params;
  if (p.type == "text" && std::none_of(params.begin(), params.end(), [](const auto& kv) { return kv.first == "charset"; }))
    params.emplace_back("charset", "us-ascii");  // RFC 2045 §5.2's default
  std::string out = "(" + ImapString(p.type) + " " + ImapString(p.subtype) + " " + Params(params) + " " +
                    NString(p.id) + " " + NString(p.description) + " " +
                    ImapString(p.encoding.empty() ? "7bit" : p.encoding) + " " +
                    std::to_string(p.body_end - p.body_begin);
  if (p.type == "text") out += " " + std::to_string(p.body_lines);
  if (p.type == "message" && !p.message.empty()) {
    const store::MimePart& inner = p.message[0];
    out += " " + Envelope(msg.substr(inner.header_begin, inner.header_end - inner.header_begin)) + " " +
           BodyStructure(msg, inner, ext) + " " + std::to_string(p.body_lines);
  }
  if (ext) out += " " + NString(p.md5) + " " + Extension(p);
  return out + ")";
}

}  // namespace mx::imapd
