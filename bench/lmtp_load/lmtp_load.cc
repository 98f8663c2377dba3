// mx-lmtp-load: an LMTP (RFC 2033) load generator for mxstore, Dovecot or any
// LMTP server.
//
//   mx-lmtp-load --target 127.0.0.1:24 --sessions 8 --messages 5000
//                --generate mix --rcpt alice@example.test [--rcpt ...] [--json]
//   mx-lmtp-load --target unix:/run/lmtp --corpus DIR --messages 50000 --rcpt ...
//   mx-lmtp-load --generate mix --messages 50000 --write-corpus DIR
//
// N sessions (one thread and one connection each) send LHLO once, then repeat
// MAIL/RCPT.../DATA transactions (MAIL, RCPT and DATA pipelined when the
// server offers PIPELINING) until M messages in all are sent or --max-seconds
// have passed. After the message every accepted recipient gets its own reply
// (LMTP); a message counts as acknowledged when MAIL, every RCPT and every
// per-recipient reply after DATA are 250. Latency is per transaction, from the
// first byte of MAIL to the last per-recipient reply.
//
// Messages come from a corpus directory (*.eml, sorted by name, used in turn)
// or are generated deterministically from --seed: the "mix" has 90 % text
// messages of 2-20 KB and 10 % messages with a base64 attachment, 50-500 KB
// in all (sizes log-uniform). Every message is sent with CRLF line ends and
// dot-stuffed; sizes and MiB/s count the message as stored (unstuffed).
//
// Exit: 0 every message acknowledged; 1 some message or recipient was not
// acknowledged with 250, or a session failed; 2 usage or setup error (bad
// address, empty corpus, cannot connect); 3 --max-seconds ended the run before
// M messages were sent (all sent ones acknowledged).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <latch>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "net/server.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------- options

struct Options {
  std::string target;
  int sessions = 1;
  uint64_t messages = 1000;
  std::string corpus;
  std::string generate;  // "mix" or "4k,64k,..."
  std::string write_corpus;
  std::vector<std::string> rcpts;
  int rcpts_per_message = 1;
  std::string from = "loadgen@load.test";
  std::string lhlo = "mx-lmtp-load.localhost";
  uint64_t seed = 1;
  double max_seconds = 600;
  int timeout = 60;
  bool json = false;
  bool progress = false;
  bool no_pipelining = false;
};

const char* kUsage =
    "usage: mx-lmtp-load --target HOST:PORT|unix:/path (--corpus DIR | --generate mix|SIZE[,SIZE...])\n"
    "                    --rcpt ADDR [--rcpt ADDR ...] [--sessions N] [--messages M] [--json]\n"
    "       mx-lmtp-load --generate mix|SIZE[,...] --messages M --write-corpus DIR\n"
    "\n"
    "  --target ADDR          LMTP server: 127.0.0.1:24, [::1]:24, unix:/path\n"
    "  --sessions N           concurrent sessions (threads, one connection each; default 1)\n"
    "  --messages M           messages to send in all sessions together (default 1000)\n"
    "  --corpus DIR           send DIR/*.eml (sorted by name, in turn; reused when M > count)\n"
    "  --generate SPEC        generate messages: 'mix' (90% text 2-20 KB, 10% with a base64\n"
    "                         attachment, 50-500 KB) or sizes cycled, e.g. '4k,64k,1m'\n"
    "  --seed S               seed for --generate (default 1; same seed, same messages)\n"
    "  --write-corpus DIR     write M generated messages to DIR/NNNNNNNN.eml and exit\n"
    "  --rcpt ADDR            a recipient (repeatable); messages take them in turn\n"
    "  --rcpts-per-message K  recipients per message (default 1; at most the --rcpt count)\n"
    "  --from ADDR            envelope sender (default loadgen@load.test)\n"
    "  --lhlo NAME            LHLO name (default mx-lmtp-load.localhost)\n"
    "  --max-seconds S        stop starting transactions after S seconds (default 600)\n"
    "  --timeout S            per-reply read timeout in seconds (default 60)\n"
    "  --no-pipelining        send MAIL, each RCPT and DATA one at a time\n"
    "  --progress             a progress line on stderr every 5 s\n"
    "  --json                 print the result as one JSON object\n"
    "\n"
    "exit: 0 all acknowledged with 250; 1 some not acknowledged or a session failed;\n"
    "      2 usage/setup error; 3 stopped by --max-seconds before M messages\n";

[[noreturn]] void UsageError(const std::string& msg) {
  std::fprintf(stderr, "mx-lmtp-load: %s\n\n%s", msg.c_str(), kUsage);
  std::exit(2);
}

uint64_t ParseSize(const std::string& s) {
  if (s.empty()) UsageError("empty size in --generate");
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  std::string suf(end);
  double mul = 1;
  if (suf == "k" || suf == "K") mul = 1024;
  else if (suf == "m" || suf == "M") mul = 1024 * 1024;
  else if (!suf.empty()) UsageError("size '" + s + "' in --generate: want a number with optional k or m suffix");
  if (!(v > 0)) UsageError("size '" + s + "' in --generate must be positive");
  return static_cast<uint64_t>(v * mul);
}

template <class T>
T ParseNumber(const std::string& opt, const std::string& s, double min, double max) {
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (s.empty() || *end != '\0' || !(v >= min && v <= max))
    UsageError(opt + " '" + s + "': want a number from " + std::to_string(static_cast<long long>(min)) +
               " to " + std::to_string(static_cast<long long>(max)));
  return static_cast<T>(v);
}

Options ParseArgs(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) UsageError(a + " needs a value");
      return argv[++i];
    };
    if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (a == "--target") o.target = next();
    else if (a == "--sessions") o.sessions = ParseNumber<int>(a, next(), 1, 10000);
    else if (a == "--messages") o.messages = ParseNumber<uint64_t>(a, next(), 1, 1e12);
    else if (a == "--corpus") o.corpus = next();
    else if (a == "--generate") o.generate = next();
    else if (a == "--write-corpus") o.write_corpus = next();
    else if (a == "--rcpt") o.rcpts.push_back(next());
    else if (a == "--rcpts-per-message") o.rcpts_per_message = ParseNumber<int>(a, next(), 1, 1000);
    else if (a == "--from") o.from = next();
    else if (a == "--lhlo") o.lhlo = next();
    else if (a == "--seed") o.seed = ParseNumber<uint64_t>(a, next(), 0, 1e15);
    else if (a == "--max-seconds") o.max_seconds = ParseNumber<double>(a, next(), 0.001, 1e7);
    else if (a == "--timeout") o.timeout = ParseNumber<int>(a, next(), 1, 86400);
    else if (a == "--json") o.json = true;
    else if (a == "--progress") o.progress = true;
    else if (a == "--no-pipelining") o.no_pipelining = true;
    else UsageError("unknown argument '" + a + "'");
  }
  if (!o.write_corpus.empty()) {
    if (o.generate.empty()) UsageError("--write-corpus needs --generate");
    return o;
  }
  if (o.target.empty()) UsageError("--target is required");
  if (o.corpus.empty() == o.generate.empty()) UsageError("give exactly one of --corpus DIR and --generate SPEC");
  if (o.rcpts.empty()) UsageError("at least one --rcpt is required");
  if (o.rcpts_per_message > static_cast<int>(o.rcpts.size()))
    UsageError("--rcpts-per-message " + std::to_string(o.rcpts_per_message) + " is more than the " +
               std::to_string(o.rcpts.size()) + " --rcpt given");
  return o;
}

// ---------------------------------------------------------------- messages

// splitmix64: small, fast, deterministic across platforms.
struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed) {}
  uint64_t Next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double Unit() { return static_cast<double>(Next() >> 11) * (1.0 / 9007199254740992.0); }
  uint64_t Below(uint64_t n) { return Next() % n; }
  uint64_t LogUniform(double lo, double hi) { return static_cast<uint64_t>(std::exp(std::log(lo) + Unit() * (std::log(hi) - std::log(lo)))); }
};

const char* const kWords[] = {
    "the", "mail", "store", "meeting", "tomorrow", "please", "review", "attached", "report", "quarter",
    "budget", "server", "backup", "delivery", "thanks", "regards", "project", "schedule", "update", "invoice",
    "customer", "release", "question", "answer", "and", "of", "to", "in", "for", "with", "on", "we", "you",
    "is", "this", "that", "will", "be", "can", "our", "team", "week", "Monday", "Friday", "office", "notes"};

void AppendText(Rng& r, std::string& out, size_t target) {
  // Lines of ~60-76 characters; about one line in 40 starts with a dot, and
  // now and then a line is just "." or "..", to exercise dot-stuffing.
  while (out.size() < target) {
    uint64_t k = r.Below(40);
    if (k == 0) out += ".";
    if (k == 1) {
      out += (r.Below(2) ? ".\r\n" : "..\r\n");
      continue;
    }
    size_t len = 60 + r.Below(17), start = out.size();
    while (out.size() - start < len) {
      if (out.size() != start) out += ' ';
      out += kWords[r.Below(sizeof(kWords) / sizeof(kWords[0]))];
    }
    out += "\r\n";
  }
}

void AppendBase64(Rng& r, std::string& out, size_t encoded_target) {
  static const char* kB64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t start = out.size();
  while (out.size() - start < encoded_target) {
    for (int i = 0; i < 19; ++i) {  // 19 x 3 bytes -> 76 characters a line
      uint64_t v = r.Next();
      for (int j = 0; j < 4; ++j) out += kB64[(v >> (6 * j)) & 63];
    }
    out += "\r\n";
  }
}

std::string Header(uint64_t index, uint64_t seed, const std::string& subject, const std::string& ctype) {
  std::ostringstream h;
  h << "Return-Path: <sender" << index % 97 << "@example.org>\r\n"
    << "From: Sender " << index % 97 << " <sender" << index % 97 << "@example.org>\r\n"
    << "To: Recipient <rcpt@example.test>\r\n"
    << "Subject: " << subject << "\r\n"
    << "Date: Mon, 23 Nov 2026 12:" << (index / 60) % 60 / 10 << (index / 60) % 10 << ":" << (index % 60) / 10
    << index % 10 << " +0000\r\n"
    << "Message-ID: <" << index << "." << seed << "@mx-lmtp-load.localhost>\r\n"
    << "MIME-Version: 1.0\r\n"
    << "Content-Type: " << ctype << "\r\n";
  return h.str();
}

// Message `index` of the generated set: CRLF, not dot-stuffed.
std::string Generate(const std::string& spec, const std::vector<uint64_t>& sizes, uint64_t seed, uint64_t index) {
  Rng r(seed * 0x100000001b3ULL ^ (index + 1) * 0x9e3779b97f4a7c15ULL);
  r.Next();
  bool attachment;
  uint64_t size;
  if (spec == "mix") {
    attachment = r.Below(100) < 10;
    size = attachment ? r.LogUniform(50000, 500000) : r.LogUniform(2000, 20000);
  } else {
    size = sizes[index % sizes.size()];
    attachment = size >= 50000;
  }
  std::string m;
  m.reserve(size + 1024);
  if (!attachment) {
    m = Header(index, seed, "load message " + std::to_string(index), "text/plain; charset=us-ascii");
    m += "\r\n";
    AppendText(r, m, size);
  } else {
    std::string b = "=_mx_lmtp_load_" + std::to_string(index);
    m = Header(index, seed, "load message " + std::to_string(index) + " with attachment",
               "multipart/mixed; boundary=\"" + b + "\"");
    m += "\r\nThis is a multi-part message in MIME format.\r\n\r\n--" + b +
         "\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n";
    AppendText(r, m, m.size() + 1500 + r.Below(3000));
    m += "\r\n--" + b +
         "\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
         "Content-Disposition: attachment; filename=\"file" + std::to_string(index) + ".bin\"\r\n\r\n";
    size_t tail = b.size() + 8;
    AppendBase64(r, m, size > m.size() + tail ? size - m.size() - tail : 76);
    m += "\r\n--" + b + "--\r\n";
  }
  return m;
}

// CRLF line ends (bare LF becomes CRLF), last line terminated.
std::string NormalizeCrlf(std::string_view in) {
  std::string out;
  out.reserve(in.size() + in.size() / 40 + 2);
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '\n' && (i == 0 || in[i - 1] != '\r')) out += '\r';
    out += c;
  }
  if (out.size() < 2 || out.compare(out.size() - 2, 2, "\r\n") != 0) out += "\r\n";
  return out;
}

// `msg` must be CRLF-normalized: "." doubled at line starts, then ".\r\n".
std::string DotStuff(const std::string& msg) {
  std::string out;
  out.reserve(msg.size() + msg.size() / 64 + 8);
  bool bol = true;
  for (char c : msg) {
    if (bol && c == '.') out += '.';
    out += c;
    bol = (c == '\n');
  }
  out += ".\r\n";
  return out;
}

struct Source {
  std::vector<fs::path> files;
  std::string spec;
  std::vector<uint64_t> sizes;
  uint64_t seed = 1;
  // Message `index`, CRLF-normalized; false with `err` set when unreadable.
  bool Get(uint64_t index, std::string& msg, std::string& err) const {
    if (files.empty()) {
      msg = Generate(spec, sizes, seed, index);
      return true;
    }
    const fs::path& p = files[index % files.size()];
    std::ifstream f(p, std::ios::binary);
    std::ostringstream ss;
    ss << f.rdbuf();
    if (!f) {
      err = "cannot read corpus file " + p.string() + ": " + std::strerror(errno);
      return false;
    }
    msg = NormalizeCrlf(ss.str());
    return true;
  }
};

// ---------------------------------------------------------------- LMTP client

struct Reply {
  int code = 0;      // 0: no reply (connection closed or timeout)
  std::string text;  // all lines, joined by " | "
};

class Session {
 public:
  Session(std::unique_ptr<mx::net::Conn> c) : conn_(std::move(c)) {}
  // Reads one (possibly multi-line) reply.
  Reply Read() {
    Reply r;
    while (true) {
      std::string line;
      if (!ReadLine(line)) {
        r.code = 0;
        r.text = conn_->timed_out() ? "timed out waiting for a reply" : "connection closed by the server";
        return r;
      }
      if (line.size() < 3 || !isdigit(static_cast<unsigned char>(line[0])) ||
          !isdigit(static_cast<unsigned char>(line[1])) || !isdigit(static_cast<unsigned char>(line[2]))) {
        r.code = 0;
        r.text = "malformed reply line '" + line.substr(0, 200) + "'";
        return r;
      }
      if (!r.text.empty()) r.text += " | ";
      r.text += line;
      if (line.size() == 3 || line[3] == ' ') {
        r.code = std::atoi(line.substr(0, 3).c_str());
        return r;
      }
    }
  }
  bool Write(std::string_view s) { return conn_->Write(s); }
  mx::net::Conn& conn() { return *conn_; }

 private:
  bool ReadLine(std::string& line) {
    while (true) {
      size_t nl = buf_.find('\n', pos_);
      if (nl != std::string::npos) {
        size_t end = nl;
        if (end > pos_ && buf_[end - 1] == '\r') --end;
        line.assign(buf_, pos_, end - pos_);
        pos_ = nl + 1;
        if (pos_ > 65536) {
          buf_.erase(0, pos_);
          pos_ = 0;
        }
        return true;
      }
      if (buf_.size() - pos_ > 1 << 20) return false;  // no line end in 1 MiB
      char tmp[16384];
      size_t n = conn_->Read(tmp, sizeof tmp);
      if (n == 0) return false;
      buf_.append(tmp, n);
    }
  }
  std::unique_ptr<mx::net::Conn> conn_;
  std::string buf_;
  size_t pos_ = 0;
};

struct Failure {
  uint64_t message;
  std::string what;
};

struct Stats {
  uint64_t attempted = 0, ok = 0, failed = 0, bytes_ok = 0;
  uint64_t rcpt_ok = 0, rcpt_failed = 0;
  std::vector<double> latency_ms;
  std::map<std::string, uint64_t> acked_by_rcpt;
  std::vector<Failure> failures;  // the first few
  std::string session_error;      // why the session ended early, if it did
  void AddFailure(uint64_t m, std::string what) {
    if (failures.size() < 20) failures.push_back({m, std::move(what)});
  }
};

struct Shared {
  const Options* opt;
  const Source* src;
  mx::net::Address addr;
  std::atomic<uint64_t> next{0};
  std::atomic<uint64_t> done{0};
  std::atomic<bool> stop{false};
  std::atomic<bool> time_limit_hit{false};
  Clock::time_point deadline;
};

void RunSession(Shared& sh, std::latch& ready, std::latch& go, Stats& st) {
  const Options& o = *sh.opt;
  bool counted_ready = false;
  auto fail_setup = [&](std::string why) {
    st.session_error = std::move(why);
    if (!counted_ready) ready.count_down();
    counted_ready = true;
  };
  auto conn = mx::net::Connect(sh.addr);
  if (!conn.ok()) return fail_setup(conn.error().Message());
  Session s(std::move(*conn));
  s.conn().SetReadTimeout(o.timeout);
  Reply g = s.Read();
  if (g.code != 220) return fail_setup("greeting from " + sh.addr.ToString() + " is not 220: " + g.text);
  if (!s.Write("LHLO " + o.lhlo + "\r\n")) return fail_setup("cannot send LHLO: connection closed");
  Reply h = s.Read();
  if (h.code != 250) return fail_setup("LHLO refused: " + h.text);
  std::string caps = h.text;
  for (auto& c : caps) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
  bool pipelining = !o.no_pipelining && caps.find("PIPELINING") != std::string::npos;
  bool size_ext = caps.find("SIZE") != std::string::npos;
  ready.count_down();
  counted_ready = true;
  go.wait();
  if (sh.stop.load()) return;

  std::string msg, err;
  const size_t nr = o.rcpts.size();
  const size_t k = static_cast<size_t>(o.rcpts_per_message);
  while (!sh.stop.load()) {
    if (Clock::now() >= sh.deadline) {
      sh.time_limit_hit = true;
      break;
    }
    uint64_t i = sh.next.fetch_add(1);
    if (i >= o.messages) break;
    if (!sh.src->Get(i, msg, err)) {
      st.session_error = err;
      sh.stop = true;
      break;
    }
    std::string data = DotStuff(msg);
    std::vector<const std::string*> rc;
    for (size_t j = 0; j < k; ++j) rc.push_back(&o.rcpts[(i * k + j) % nr]);
    std::string mail = "MAIL FROM:<" + o.from + ">";
    if (size_ext) mail += " SIZE=" + std::to_string(msg.size());
    mail += "\r\n";
    st.attempted++;

    auto t0 = Clock::now();
    // dead: the connection is unusable (closed, timed out, garbled reply).
    bool dead = false;
    auto read = [&](Reply& r) {
      if (dead) return;
      r = s.Read();
      if (r.code == 0) dead = true;
    };
    auto write = [&](std::string_view w) {
      if (!dead && !s.Write(w)) dead = true;
    };
    Reply mr, dr;
    std::vector<Reply> rr(rc.size());
    bool data_sent = false;
    if (pipelining) {
      std::string cmds = mail;
      for (auto* r : rc) cmds += "RCPT TO:<" + *r + ">\r\n";
      cmds += "DATA\r\n";
      write(cmds);
      read(mr);
      for (auto& r : rr) read(r);
      read(dr);
      data_sent = true;
    } else {
      write(mail);
      read(mr);
      bool any = false;
      for (size_t j = 0; !dead && mr.code == 250 && j < rc.size(); ++j) {
        write("RCPT TO:<" + *rc[j] + ">\r\n");
        read(rr[j]);
        any = any || rr[j].code == 250;
      }
      if (any) {
        write("DATA\r\n");
        read(dr);
        data_sent = true;
      }
    }
    std::vector<const std::string*> accepted;
    size_t final_ok = 0;
    bool ok = !dead && mr.code == 250;
    if (!dead && mr.code != 250) st.AddFailure(i, "MAIL FROM:<" + o.from + ">: " + mr.text);
    for (size_t j = 0; !dead && mr.code == 250 && j < rc.size(); ++j) {
      if (rr[j].code == 250) {
        accepted.push_back(rc[j]);
      } else {
        ok = false;
        st.AddFailure(i, "RCPT TO:<" + *rc[j] + ">: " + rr[j].text);
      }
    }
    if (!dead && data_sent && dr.code == 354) {
      write(data);
      // One reply per accepted recipient; a server that said 354 with none
      // accepted still owes one reply for the data.
      size_t n = accepted.empty() ? 1 : accepted.size();
      for (size_t j = 0; !dead && j < n; ++j) {
        Reply fr;
        read(fr);
        if (dead) break;
        if (fr.code == 250 && j < accepted.size()) {
          final_ok++;
          st.acked_by_rcpt[*accepted[j]]++;
        } else {
          ok = false;
          st.AddFailure(i, "after DATA" + (j < accepted.size() ? ", for <" + *accepted[j] + ">" : std::string()) +
                               ": " + fr.text);
        }
      }
    } else if (!dead) {
      ok = false;
      if (data_sent && !accepted.empty()) st.AddFailure(i, "DATA: " + dr.text);
      Reply rs;  // no transaction may be left open for the next message
      write("RSET\r\n");
      read(rs);
    }
    auto t1 = Clock::now();
    if (dead) {
      st.failed++;
      st.rcpt_failed += rc.size();
      std::string why = s.conn().timed_out() ? "timed out after " + std::to_string(o.timeout) + " s waiting for a reply"
                                             : "the server closed the connection or sent a malformed reply";
      st.AddFailure(i, why);
      st.session_error = "session ended at message " + std::to_string(i) + ": " + why;
      return;
    }
    st.rcpt_ok += final_ok;
    st.rcpt_failed += rc.size() - final_ok;
    if (ok && final_ok == rc.size()) {
      st.ok++;
      st.bytes_ok += msg.size();
      st.latency_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    } else {
      st.failed++;
    }
    sh.done.fetch_add(1, std::memory_order_relaxed);
  }
  if (s.Write("QUIT\r\n")) (void)s.Read();
}

// ---------------------------------------------------------------- output

std::string JsonString(std::string_view s) {
  std::string o = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') { o += '\\'; o += static_cast<char>(c); }
    else if (c == '\n') o += "\\n";
    else if (c == '\r') o += "\\r";
    else if (c == '\t') o += "\\t";
    else if (c < 0x20 || c >= 0x80) {  // keep the output ASCII (replies may hold anything)
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", c);
      o += b;
    } else o += static_cast<char>(c);
  }
  return o + "\"";
}

double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  if (rank < 1) rank = 1;
  return sorted[std::min(rank, sorted.size()) - 1];
}

int WriteCorpus(const Options& o, const Source& src) {
  std::error_code ec;
  fs::create_directories(o.write_corpus, ec);
  if (ec) {
    std::fprintf(stderr, "mx-lmtp-load: cannot create corpus directory %s: %s\n", o.write_corpus.c_str(),
                 ec.message().c_str());
    return 2;
  }
  uint64_t bytes = 0;
  std::string msg, err;
  for (uint64_t i = 0; i < o.messages; ++i) {
    src.Get(i, msg, err);
    char name[32];
    std::snprintf(name, sizeof name, "%08llu.eml", static_cast<unsigned long long>(i));
    fs::path p = fs::path(o.write_corpus) / name;
    std::ofstream f(p, std::ios::binary | std::ios::trunc);
    f.write(msg.data(), static_cast<std::streamsize>(msg.size()));
    f.close();
    if (!f) {
      std::fprintf(stderr, "mx-lmtp-load: cannot write %s: %s (disk full?)\n", p.string().c_str(), std::strerror(errno));
      return 2;
    }
    bytes += msg.size();
  }
  std::printf("wrote %llu messages, %llu bytes (%.1f MiB, %.1f KiB average) to %s\n",
              static_cast<unsigned long long>(o.messages), static_cast<unsigned long long>(bytes),
              static_cast<double>(bytes) / 1048576.0, static_cast<double>(bytes) / 1024.0 / static_cast<double>(o.messages),
              o.write_corpus.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = ParseArgs(argc, argv);
  Source src;
  src.seed = o.seed;
  if (!o.generate.empty()) {
    src.spec = o.generate;
    if (o.generate != "mix") {
      std::stringstream ss(o.generate);
      std::string part;
      while (std::getline(ss, part, ',')) src.sizes.push_back(ParseSize(part));
      if (src.sizes.empty()) UsageError("--generate '" + o.generate + "': want 'mix' or sizes like 4k,64k");
    }
  }
  if (!o.write_corpus.empty()) return WriteCorpus(o, src);
  if (!o.corpus.empty()) {
    std::error_code ec;
    for (fs::directory_iterator it(o.corpus, ec), end; !ec && it != end; it.increment(ec))
      if (it->path().extension() == ".eml" && it->is_regular_file()) src.files.push_back(it->path());
    if (ec) {
      std::fprintf(stderr, "mx-lmtp-load: cannot list corpus directory %s: %s\n", o.corpus.c_str(), ec.message().c_str());
      return 2;
    }
    if (src.files.empty()) {
      std::fprintf(stderr, "mx-lmtp-load: no *.eml files in corpus directory %s (make one with --write-corpus)\n",
                   o.corpus.c_str());
      return 2;
    }
    std::sort(src.files.begin(), src.files.end());
  }
  auto addr = mx::net::ParseAddress(o.target);
  if (!addr.ok()) {
    std::fprintf(stderr, "mx-lmtp-load: --target: %s\n", addr.error().Full().c_str());
    return 2;
  }

  Shared sh;
  sh.opt = &o;
  sh.src = &src;
  sh.addr = *addr;
  std::vector<Stats> stats(static_cast<size_t>(o.sessions));
  std::latch ready(o.sessions), go(1);
  std::vector<std::thread> threads;
  for (int i = 0; i < o.sessions; ++i)
    threads.emplace_back([&, i] { RunSession(sh, ready, go, stats[static_cast<size_t>(i)]); });
  ready.wait();  // every session connected and said LHLO (or failed doing so)
  int setup_failed = 0;
  for (auto& s : stats)
    if (!s.session_error.empty()) setup_failed++;
  if (setup_failed == o.sessions) sh.stop = true;
  auto t0 = Clock::now();
  sh.deadline = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.max_seconds));
  go.count_down();

  std::atomic<bool> finished{false};
  std::thread progress;
  if (o.progress) {
    progress = std::thread([&] {
      auto last = Clock::now();
      while (!finished.load()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        if (Clock::now() - last >= std::chrono::seconds(5)) {
          last = Clock::now();
          double el = std::chrono::duration<double>(last - t0).count();
          uint64_t d = sh.done.load();
          std::fprintf(stderr, "mx-lmtp-load: %llu/%llu messages, %.1f s, %.0f msgs/s\n",
                       static_cast<unsigned long long>(d), static_cast<unsigned long long>(o.messages), el,
                       static_cast<double>(d) / el);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  auto t1 = Clock::now();
  finished = true;
  if (progress.joinable()) progress.join();

  Stats all;
  std::vector<std::string> session_errors;
  for (auto& s : stats) {
    all.attempted += s.attempted;
    all.ok += s.ok;
    all.failed += s.failed;
    all.bytes_ok += s.bytes_ok;
    all.rcpt_ok += s.rcpt_ok;
    all.rcpt_failed += s.rcpt_failed;
    all.latency_ms.insert(all.latency_ms.end(), s.latency_ms.begin(), s.latency_ms.end());
    for (auto& [k, v] : s.acked_by_rcpt) all.acked_by_rcpt[k] += v;
    for (auto& f : s.failures)
      if (all.failures.size() < 20) all.failures.push_back(f);
    if (!s.session_error.empty()) session_errors.push_back(s.session_error);
  }
  std::sort(all.latency_ms.begin(), all.latency_ms.end());
  double secs = std::chrono::duration<double>(t1 - t0).count();
  if (secs <= 0) secs = 1e-9;
  double mps = static_cast<double>(all.ok) / secs;
  double mibps = static_cast<double>(all.bytes_ok) / 1048576.0 / secs;
  double p50 = Percentile(all.latency_ms, 50), p90 = Percentile(all.latency_ms, 90),
         p99 = Percentile(all.latency_ms, 99), pmax = all.latency_ms.empty() ? 0 : all.latency_ms.back();
  bool time_limit = sh.time_limit_hit.load() && all.attempted < o.messages;
  uint64_t not_sent = o.messages > all.attempted ? o.messages - all.attempted : 0;

  int rc = 0;
  if (setup_failed == o.sessions) rc = 2;
  else if (all.failed > 0 || !session_errors.empty()) rc = 1;
  else if (time_limit) rc = 3;
  else if (not_sent > 0) rc = 1;

  if (o.json) {
    std::ostringstream j;
    j.setf(std::ios::fixed);
    j.precision(3);
    j << "{\"target\":" << JsonString(sh.addr.ToString()) << ",\"sessions\":" << o.sessions
      << ",\"messages_requested\":" << o.messages << ",\"messages_attempted\":" << all.attempted
      << ",\"messages_ok\":" << all.ok << ",\"messages_failed\":" << all.failed << ",\"messages_not_sent\":" << not_sent
      << ",\"recipients_ok\":" << all.rcpt_ok << ",\"recipients_failed\":" << all.rcpt_failed
      << ",\"bytes_ok\":" << all.bytes_ok << ",\"seconds\":" << secs << ",\"msgs_per_s\":" << mps
      << ",\"mib_per_s\":" << mibps << ",\"latency_ms\":{\"p50\":" << p50 << ",\"p90\":" << p90 << ",\"p99\":" << p99
      << ",\"max\":" << pmax << "},\"stopped_by_time_limit\":" << (time_limit ? "true" : "false")
      << ",\"acked_by_rcpt\":{";
    bool first = true;
    for (auto& [k, v] : all.acked_by_rcpt) {
      j << (first ? "" : ",") << JsonString(k) << ":" << v;
      first = false;
    }
    j << "},\"failures\":[";
    first = true;
    for (auto& f : all.failures) {
      j << (first ? "" : ",") << "{\"message\":" << f.message << ",\"what\":" << JsonString(f.what) << "}";
      first = false;
    }
    j << "],\"session_errors\":[";
    first = true;
    for (auto& e : session_errors) {
      j << (first ? "" : ",") << JsonString(e);
      first = false;
    }
    j << "],\"exit_code\":" << rc << "}\n";
    std::fputs(j.str().c_str(), stdout);
  } else {
    std::printf("mx-lmtp-load: %s, %d sessions, %s\n", sh.addr.ToString().c_str(), o.sessions,
                src.files.empty() ? ("generated '" + o.generate + "' seed " + std::to_string(o.seed)).c_str()
                                  : ("corpus " + o.corpus + " (" + std::to_string(src.files.size()) + " files)").c_str());
    std::printf("  messages     %llu acknowledged, %llu failed, %llu not sent (of %llu)\n",
                static_cast<unsigned long long>(all.ok), static_cast<unsigned long long>(all.failed),
                static_cast<unsigned long long>(not_sent), static_cast<unsigned long long>(o.messages));
    std::printf("  recipients   %llu acknowledged with 250, %llu refused or failed\n",
                static_cast<unsigned long long>(all.rcpt_ok), static_cast<unsigned long long>(all.rcpt_failed));
    std::printf("  data         %.1f MiB (%.1f KiB per message)\n", static_cast<double>(all.bytes_ok) / 1048576.0,
                all.ok ? static_cast<double>(all.bytes_ok) / 1024.0 / static_cast<double>(all.ok) : 0.0);
    std::printf("  time         %.2f s\n", secs);
    std::printf("  throughput   %.1f msgs/s, %.2f MiB/s\n", mps, mibps);
    std::printf("  latency ms   p50 %.2f  p90 %.2f  p99 %.2f  max %.2f\n", p50, p90, p99, pmax);
    if (time_limit) std::printf("  stopped by --max-seconds %g before all messages were sent\n", o.max_seconds);
  }
  for (auto& f : all.failures)
    std::fprintf(stderr, "mx-lmtp-load: message %llu not acknowledged: %s\n", static_cast<unsigned long long>(f.message),
                 f.what.c_str());
  for (auto& e : session_errors) std::fprintf(stderr, "mx-lmtp-load: session failed: %s\n", e.c_str());
  if (rc == 2 && !session_errors.empty())
    std::fprintf(stderr, "mx-lmtp-load: no session could start on %s; is the LMTP server running there?\n",
                 sh.addr.ToString().c_str());
  return rc;
}
