#include "store_server/lmtp/session.h"

#include <algorithm>
#include <cctype>
#include <cstring>

namespace mx::lmtp {
namespace {

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::toupper(static_cast<unsigned char>(a[i])) != std::toupper(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

bool IStartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && IEquals(s.substr(0, prefix.size()), prefix);
}

std::string_view TrimLeft(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  return s;
}

bool ValidAddressChar(char c) {
  auto u = static_cast<unsigned char>(c);
  return u > 32 && u < 127 && c != '<' && c != '>' && c != '(' && c != ')' && c != ',' &&
         c != ';' && c != '\\' && c != '"' && c != '[' && c != ']';
}

}  // namespace

bool ParsePath(std::string_view arg, bool allow_empty, std::string* address, std::string_view* rest) {
  arg = TrimLeft(arg);
  if (arg.empty() || arg.front() != '<') return false;
  size_t close = arg.find('>');
  if (close == std::string_view::npos) return false;
  std::string_view addr = arg.substr(1, close - 1);
  *rest = TrimLeft(arg.substr(close + 1));
  if (addr.empty()) {
    if (!allow_empty) return false;
    address->clear();
    return true;
  }
  // A source route ("@a,@b:user@host") is allowed by RFC 5321 and ignored.
  if (addr.front() == '@') {
    size_t colon = addr.find(':');
    if (colon == std::string_view::npos) return false;
    addr.remove_prefix(colon + 1);
  }
  size_t at = addr.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == addr.size() || addr.size() > 254 || at > 64)
    return false;
  if (!std::all_of(addr.begin(), addr.end(), ValidAddressChar)) return false;
  if (addr.find('@') != at) return false;
  address->assign(addr);
  return true;
}

Session::Session(Handler* handler, Limits limits, std::string hostname)
    : handler_(handler), limits_(limits), hostname_(std::move(hostname)) {}

std::string Session::Greeting() const { return "220 " + hostname_ + " LMTP mxstore ready\r\n"; }

void Session::Reply(std::string* out, std::string_view line) {
  out->append(line);
  out->append("\r\n");
}

void Session::Error(std::string* out, std::string_view line) {
  Reply(out, line);
  if (++errors_ >= limits_.max_errors) {
    Reply(out, "421 4.7.0 Too many errors, closing the connection");
    done_ = true;
  }
}

void Session::Reset() {
  have_from_ = false;
  from_.clear();
  recipients_.clear();
  data_.clear();
  data_too_big_ = false;
  data_bad_bytes_ = false;
  bad_bytes_reason_.clear();
  data_at_line_start_ = true;
}

bool Session::Feed(std::string_view bytes, std::string* out) {
  in_.append(bytes.data(), bytes.size());
  size_t pos = 0;
  while (!done_ && pos < in_.size()) {
    size_t lf = in_.find('\n', pos);
    if (state_ == State::kData) {
      if (lf == std::string::npos) {
        // No line end yet: pass long runs on now (bounded buffering), keep
        // a short tail that might be the start of the end marker.
        if (in_.size() - pos > 65536) {
          DataLine(std::string_view(in_).substr(pos, in_.size() - pos - 2), false, out);
          pos = in_.size() - 2;
        }
        break;
      }
      DataLine(std::string_view(in_).substr(pos, lf + 1 - pos), true, out);
      pos = lf + 1;
      continue;
    }
    // Command mode.
    if (lf == std::string::npos) {
      if (in_.size() - pos > limits_.max_line) {
        if (!discarding_) Error(out, "500 5.5.2 Line too long");
        discarding_ = true;
        pos = in_.size();
      }
      break;
    }
    std::string_view line = std::string_view(in_).substr(pos, lf - pos);
    pos = lf + 1;
    if (discarding_) {
      discarding_ = false;  // the tail of an overlong line
      continue;
    }
    if (line.size() + 1 > limits_.max_line) {
      Error(out, "500 5.5.2 Line too long");
      continue;
    }
    if (line.empty() || line.back() != '\r') {
      Error(out, "500 5.5.2 Syntax error: command line must end with CRLF (bare LF)");
      continue;
    }
    line.remove_suffix(1);
    if (line.find('\0') != std::string_view::npos || line.find('\r') != std::string_view::npos) {
      Error(out, "500 5.5.2 Syntax error: NUL or CR inside a command");
      continue;
    }
    Command(line, out);
  }
  in_.erase(0, pos);
  return !done_;
}

void Session::Command(std::string_view line, std::string* out) {
  size_t sp = line.find(' ');
  std::string_view verb = line.substr(0, sp);
  std::string_view arg = sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1);

  if (IEquals(verb, "LHLO")) {
    if (TrimLeft(arg).empty()) return Error(out, "501 5.5.4 LHLO needs a host name");
    Reset();
    greeted_ = true;
    Reply(out, "250-" + hostname_);
    Reply(out, "250-PIPELINING");
    Reply(out, "250-ENHANCEDSTATUSCODES");
    Reply(out, "250-8BITMIME");
    Reply(out, "250 SIZE " + std::to_string(limits_.max_message_size));
    return;
  }
  if (IEquals(verb, "HELO") || IEquals(verb, "EHLO"))
    return Error(out, "500 5.5.1 This is an LMTP server: use LHLO");
  if (IEquals(verb, "QUIT")) {
    Reply(out, "221 2.0.0 Bye");
    done_ = true;
    return;
  }
  if (IEquals(verb, "NOOP")) return Reply(out, "250 2.0.0 OK");
  if (IEquals(verb, "RSET")) {
    Reset();
    return Reply(out, "250 2.0.0 OK");
  }
  if (IEquals(verb, "VRFY")) return Reply(out, "252 2.5.0 Cannot verify, send some mail");
  if (!greeted_) return Error(out, "503 5.5.1 Send LHLO first");

  if (IEquals(verb, "MAIL")) {
    if (have_from_) return Error(out, "503 5.5.1 Nested MAIL command");
    if (!IStartsWith(arg, "FROM:")) return Error(out, "501 5.5.4 Syntax: MAIL FROM:<address>");
    std::string addr;
    std::string_view params;
    if (!ParsePath(arg.substr(5), true /* allow <> */, &addr, &params))
      return Error(out, "501 5.1.7 Bad sender address syntax");
    while (!params.empty()) {
      size_t end = params.find(' ');
      std::string_view p = params.substr(0, end);
      params = end == std::string_view::npos ? std::string_view() : TrimLeft(params.substr(end));
      if (IStartsWith(p, "SIZE=")) {
        std::string_view n = p.substr(5);
        if (n.empty() || n.size() > 19 || !std::all_of(n.begin(), n.end(), ::isdigit))
          return Error(out, "501 5.5.4 Bad SIZE parameter");
        if (std::stoull(std::string(n)) > limits_.max_message_size)
          return Reply(out, "552 5.3.4 Message size exceeds the limit of " +
                                std::to_string(limits_.max_message_size) + " bytes");
      } else if (IStartsWith(p, "BODY=")) {
        std::string_view b = p.substr(5);
        if (!IEquals(b, "7BIT") && !IEquals(b, "8BITMIME"))
          return Error(out, "501 5.5.4 Unsupported BODY type");
      } else {
        return Error(out, "555 5.5.4 Unsupported MAIL parameter");
      }
    }
    have_from_ = true;
    from_ = addr;
    return Reply(out, "250 2.1.0 Sender OK");
  }
  if (IEquals(verb, "RCPT")) {
    if (!have_from_) return Error(out, "503 5.5.1 Need MAIL before RCPT");
    if (!IStartsWith(arg, "TO:")) return Error(out, "501 5.5.4 Syntax: RCPT TO:<address>");
    std::string addr;
    std::string_view params;
    if (!ParsePath(arg.substr(3), false, &addr, &params))
      return Error(out, "501 5.1.3 Bad recipient address syntax");
    if (!params.empty()) return Error(out, "555 5.5.4 Unsupported RCPT parameter");
    if (recipients_.size() >= limits_.max_recipients)
      return Reply(out, "452 4.5.3 Too many recipients");
    std::string refused = handler_->CheckRecipient(addr);
    if (!refused.empty()) return Reply(out, refused);
    recipients_.push_back(addr);
    return Reply(out, "250 2.1.5 Recipient OK");
  }
  if (IEquals(verb, "DATA")) {
    if (!arg.empty()) return Error(out, "501 5.5.4 DATA takes no arguments");
    if (!have_from_) return Error(out, "503 5.5.1 Need MAIL before DATA");
    if (recipients_.empty()) return Error(out, "503 5.5.1 No valid recipients");
    state_ = State::kData;
    data_.clear();
    data_at_line_start_ = true;
    return Reply(out, "354 Start mail input; end with <CRLF>.<CRLF>");
  }
  if (IEquals(verb, "BDAT")) return Error(out, "502 5.5.1 CHUNKING is not offered");
  Error(out, "500 5.5.2 Unknown command");
}

void Session::DataLine(std::string_view line, bool complete, std::string* out) {
  if (data_at_line_start_ && complete) {
    if (line == ".\r\n") {
      EndOfData(out);
      return;
    }
  }
  if (data_at_line_start_ && !line.empty() && line.front() == '.') line.remove_prefix(1);  // unstuff
  if (complete && (line.size() < 2 || line[line.size() - 2] != '\r') && !data_bad_bytes_) {
    data_bad_bytes_ = true;
    bad_bytes_reason_ = "554 5.6.0 Message refused: it contains a bare LF (lines must end with CRLF)";
  }
  if (!data_bad_bytes_ && std::memchr(line.data(), '\0', line.size()) != nullptr) {
    data_bad_bytes_ = true;
    bad_bytes_reason_ = "554 5.6.0 Message refused: it contains a NUL byte";
  }
  if (!data_too_big_) {
    if (data_.size() + line.size() > limits_.max_message_size) {
      data_too_big_ = true;
      data_.clear();
      data_.shrink_to_fit();
    } else {
      data_.append(line.data(), line.size());
    }
  }
  data_at_line_start_ = complete;
}

void Session::EndOfData(std::string* out) {
  state_ = State::kCommand;
  std::string reason;
  if (data_too_big_)
    reason = "552 5.3.4 Message size exceeds the limit of " + std::to_string(limits_.max_message_size) + " bytes";
  else if (data_bad_bytes_)
    reason = bad_bytes_reason_;
  if (!reason.empty()) {
    for (size_t i = 0; i < recipients_.size(); ++i) Reply(out, reason);
  } else {
    std::vector<std::string> replies = handler_->Deliver(from_, recipients_, data_);
    for (size_t i = 0; i < recipients_.size(); ++i)
      Reply(out, i < replies.size() ? replies[i] : "451 4.3.0 Internal error: no reply for this recipient");
  }
  Reset();
}

}  // namespace mx::lmtp
