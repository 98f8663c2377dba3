// Mailbox-level commands: `backup imap://…` (RunImapBackup) and `mail ls`,
// `mail show`, `mail restore`, `mail export` on mailbox snapshots.
#include <unistd.h>

#include <cstdio>
#include <mutex>
#include <optional>
#include <thread>
#include <nlohmann/json.hpp>

#include "app.h"
#include "common/bytes.h"
#include "common/config.h"
#include "common/host.h"
#include "imap/datetime.h"
#include "repo/blob_saver.h"
#include "vault/mail/search.h"
#include "vault/restore/mail_restore.h"
#include "vault/source/imap/imap_backup.h"

namespace mx::app {
namespace {

Result<vault::ImapLogin> MakeLogin(const ImapArgs& a, const std::string& ca_file) {
  vault::ImapLogin l;
  l.mechanism = a.mechanism;
  l.ca_file = !a.ca_file.empty() ? a.ca_file : ca_file;
  l.insecure_plaintext = a.insecure_plaintext;
  l.timeout_ms = a.timeout * 1000;
  if (!a.oauth_command.empty()) {
    l.oauth_token = MX_TRY(RunPasswordCommand(a.oauth_command));
  } else if (!a.password_file.empty()) {
    l.password = MX_TRY(ReadPasswordFile(a.password_file));
  } else if (!a.password_command.empty()) {
    l.password = MX_TRY(RunPasswordCommand(a.password_command));
  } else if (const char* env = getenv("MXVAULT_IMAP_PASSWORD")) {
    l.password = env;
  } else {
    return Error(Code::kNoPassword, "no password for the IMAP account", "",
                 "none of --imap-password-file, --imap-password-command, --oauth-token-command or MXVAULT_IMAP_PASSWORD",
                 "pass --imap-password-file FILE (the first line is the password)");
  }
  return l;
}

struct SnapshotSpec {
  std::string snapshot, rest;
};
SnapshotSpec SplitSpec(const std::string& s) {
  size_t colon = s.find(':');
  if (colon == std::string::npos) return {s, ""};
  return {s.substr(0, colon), s.substr(colon + 1)};
}

Result<std::unique_ptr<vault::mail::MailSnapshot>> OpenMail(repo::Repository& repo, const std::string& name) {
  auto [id, snap] = MX_TRY(repo.FindSnapshot(name));
  return vault::mail::MailSnapshot::Open(repo, snap, id.Short());
}

void PrintImapSummary(const Globals& g, const std::string& account, const vault::ImapBackupSummary& s);

std::string FlagsText(const std::vector<std::string>& flags) {
  std::string out;
  for (const auto& f : flags) out += (out.empty() ? "" : " ") + f;
  return out;
}

}  // namespace

void AddImapOptions(CLI::App* cmd, ImapArgs& a, bool with_ca_file) {
  cmd->add_option("--imap-password-file", a.password_file, "IMAP: file whose first line is the account's password");
  cmd->add_option("--imap-password-command", a.password_command, "IMAP: command printing the account's password");
  cmd->add_option("--oauth-token-command", a.oauth_command,
                  "IMAP: command printing an OAuth 2.0 access token (XOAUTH2 / OAUTHBEARER: Gmail, Microsoft 365)");
  cmd->add_option("--auth", a.mechanism, "IMAP: PLAIN, LOGIN, XOAUTH2 or OAUTHBEARER (default: the best offered)")
      ->check(CLI::IsMember({"PLAIN", "LOGIN", "XOAUTH2", "OAUTHBEARER", "plain", "login", "xoauth2", "oauthbearer"}));
  if (with_ca_file) cmd->add_option("--ca-file", a.ca_file, "PEM CA that signed the IMAP server's certificate");
  cmd->add_flag("--insecure-plaintext", a.insecure_plaintext,
                "IMAP: allow a server without TLS, on a loopback address only (tests)");
  cmd->add_option("--timeout", a.timeout, "IMAP: seconds without progress before a connection counts as lost")
      ->check(CLI::Range(1, 3600));
}

Status RunImapBackup(Globals& g, const std::string& url, const ImapArgs& ia, const std::string& ca_file,
                     const std::vector<std::string>& include, const std::vector<std::string>& exclude,
                     const std::vector<std::string>& tags, const std::string& host, const std::string& account,
                     unsigned connections, bool force) {
  vault::ImapBackupOptions o;
  o.account = MX_TRY(vault::ParseImapUrl(url));
  o.login = MX_TRY(MakeLogin(ia, ca_file));
  o.include = include;
  o.exclude = exclude;
  o.tags = tags;
  o.hostname = host;
  o.account_name = account;
  o.connections = connections;
  o.force = force;
  o.program_version = "mxvault 0.1.0";
  auto repo = MX_TRY(OpenRepository(g, /*load_index=*/true));
  auto lock = MX_TRY(Lock(g, *repo, /*exclusive=*/false));
  MX_CHECK(AdoptOrphansIfAlone(g, *repo, *lock));
  vault::ImapBackupProgress progress;
  Result<vault::ImapBackupSummary> res = Error(Code::kInternal, "", "", "");
  {
    ProgressLine line(ShowProgress(g), [&](double el) {
      return "[" + FormatDuration(el) + "] " + std::to_string(progress.folders_done.load()) + "/" +
             std::to_string(progress.folders_total.load()) + " folders, " +
             std::to_string(progress.messages_done.load()) + " messages fetched, " +
             HumanBytes(progress.bytes_fetched.load()) +
             (progress.reconnects ? ", " + std::to_string(progress.reconnects.load()) + " reconnects" : "");
    });
    res = vault::BackupImap(*repo, o, &progress);
  }
  if (!res.ok()) return std::move(res).error();
  PrintImapSummary(g, "", *res);
  return Ok();
}

namespace {

void PrintImapSummary(const Globals& g, const std::string& account, const vault::ImapBackupSummary& s) {
  if (g.json) {
    nlohmann::json j = {{"message_type", "summary"},
                        {"snapshot_id", s.snapshot_id.Hex()},
                        {"server", s.server},
                        {"folders", s.folders},
                        {"folders_unchanged", s.folders_unchanged},
                        {"messages", s.messages},
                        {"messages_fetched", s.messages_fetched},
                        {"messages_reused", s.messages_reused},
                        {"messages_vanished", s.messages_vanished},
                        {"flags_changed", s.flags_changed},
                        {"bytes_fetched", s.bytes_fetched},
                        {"total_bytes_processed", s.bytes_total},
                        {"data_added", s.data_added},
                        {"data_added_packed", s.data_added_packed},
                        {"reconnects", s.reconnects},
                        {"total_duration", s.seconds}};
    if (!account.empty()) j["account"] = account;
    if (s.parent) j["parent"] = s.parent->Hex();
    printf("%s\n", j.dump().c_str());
  } else if (!g.quiet) {
    printf("account %s\n", s.server.c_str());
    if (s.parent) printf("using parent snapshot %s\n", s.parent->Short().c_str());
    printf("Folders:  %llu (%llu unchanged)\n", (unsigned long long)s.folders, (unsigned long long)s.folders_unchanged);
    printf("Messages: %llu, %llu fetched, %llu from the parent, %llu gone since, %llu with new flags\n",
           (unsigned long long)s.messages, (unsigned long long)s.messages_fetched, (unsigned long long)s.messages_reused,
           (unsigned long long)s.messages_vanished, (unsigned long long)s.flags_changed);
    printf("Added to the repository: %s (%s stored)\n", HumanBytes(s.data_added).c_str(),
           HumanBytes(s.data_added_packed).c_str());
    printf("fetched %s in %s%s\n", HumanBytes(s.bytes_fetched).c_str(), FormatDuration(s.seconds).c_str(),
           s.reconnects ? (", " + std::to_string(s.reconnects) + " reconnects").c_str() : "");
    printf("snapshot %s saved\n", s.snapshot_id.Short().c_str());
  }
}

// One [[imap_account]] table of the configuration file.
Result<vault::ImapBackupOptions> AccountFromConfig(const Config& c, const ImapArgs& defaults) {
  auto unknown = c.UnknownKeys({"url", "password_file", "password_command", "oauth_token_command", "auth", "ca_file",
                                "include", "exclude", "account", "connections", "insecure_plaintext", "timeout"});
  if (!unknown.empty())
    return Error(Code::kConfig, "unknown setting in an [[imap_account]]", unknown[0], "",
                 "settings: url, password_file, password_command, oauth_token_command, auth, ca_file, include, "
                 "exclude, account, connections, insecure_plaintext, timeout");
  auto url = MX_TRY(c.GetString("url"));
  if (!url)
    return Error(Code::kConfig, "an [[imap_account]] has no url", c.name(), "",
                 "add url = \"imaps://USER@HOST\" to the table");
  vault::ImapBackupOptions o;
  auto acct = vault::ParseImapUrl(*url);
  if (!acct.ok()) return acct.error().Wrap("invalid url in an [[imap_account]]", c.name());
  o.account = *acct;
  ImapArgs ia = defaults;
  ia.password_file = MX_TRY(c.GetString("password_file")).value_or("");
  ia.password_command = MX_TRY(c.GetString("password_command")).value_or("");
  ia.oauth_command = MX_TRY(c.GetString("oauth_token_command")).value_or("");
  ia.mechanism = MX_TRY(c.GetString("auth")).value_or(defaults.mechanism);
  ia.ca_file = MX_TRY(c.GetString("ca_file")).value_or(defaults.ca_file);
  ia.insecure_plaintext = MX_TRY(c.GetBool("insecure_plaintext")).value_or(defaults.insecure_plaintext);
  ia.timeout = int(MX_TRY(c.GetInt("timeout")).value_or(defaults.timeout));
  auto login = MakeLogin(ia, "");
  if (!login.ok()) return login.error().Wrap("no credentials for the [[imap_account]] " + *url, c.name());
  o.login = *login;
  o.include = MX_TRY(c.GetStrings("include"));
  o.exclude = MX_TRY(c.GetStrings("exclude"));
  o.account_name = MX_TRY(c.GetString("account")).value_or("");
  o.connections = unsigned(MX_TRY(c.GetInt("connections")).value_or(4));
  o.program_version = "mxvault 0.1.0";
  return o;
}

}  // namespace

Status RunAllImapAccounts(Globals& g, const ImapArgs& ia, const std::vector<std::string>& tags, const std::string& host,
                          unsigned parallel, bool force, const std::string& only) {
  if (g.config_file.empty())
    return Error(Code::kUsage, "--all-accounts needs a configuration file", "", "no --config or MXVAULT_CONFIG",
                 "pass --config FILE with [[imap_account]] tables (docs/cli.md)");
  Config cfg = MX_TRY(Config::Load(g.config_file));
  std::vector<vault::ImapBackupOptions> accounts;
  for (const auto& t : MX_TRY(cfg.GetTables("imap_account"))) {
    if (!only.empty() && MX_TRY(t.GetString("url")).value_or("") != only &&
        MX_TRY(t.GetString("account")).value_or("") != only)
      continue;
    auto o = MX_TRY(AccountFromConfig(t, ia));
    o.tags = tags;
    o.hostname = host;
    o.force = force;
    accounts.push_back(std::move(o));
  }
  if (accounts.empty() && !only.empty())
    return Error(Code::kConfig, "no [[imap_account]] with this url or account name", only, g.config_file,
                 "add an [[imap_account]] table with url = \"" + only + "\"");
  if (accounts.empty())
    return Error(Code::kConfig, "no [[imap_account]] in the configuration", g.config_file, "",
                 "add one table per account: [[imap_account]] url = \"imaps://USER@HOST\" password_file = \"...\"");
  // One repository object per running account: each backup has its own
  // saver and index view; the lock is taken once for all.
  auto repo = MX_TRY(OpenRepository(g, /*load_index=*/true));
  auto lock = MX_TRY(Lock(g, *repo, /*exclusive=*/false));
  std::mutex mu;
  size_t next = 0;
  std::vector<std::optional<Error>> errors(accounts.size());
  auto work = [&]() {
    while (true) {
      size_t i;
      {
        std::lock_guard<std::mutex> l(mu);
        if (next >= accounts.size()) return;
        i = next++;
      }
      auto r = OpenRepository(g, true);
      if (!r.ok()) {
        errors[i] = r.error();
        continue;
      }
      vault::ImapBackupProgress progress;
      auto res = vault::BackupImap(**r, accounts[i], &progress);
      std::lock_guard<std::mutex> l(mu);
      if (!res.ok()) {
        errors[i] = res.error();
        fprintf(stderr, "mxvault: account %s failed: %s\n", accounts[i].account.Url().c_str(),
                res.error().Message().c_str());
        if (g.json)
          printf("%s\n", nlohmann::json({{"message_type", "error"}, {"account", accounts[i].account.Url()},
                                         {"code", Describe(res.error().code()).symbol},
                                         {"error", res.error().Message()}})
                             .dump()
                             .c_str());
      } else {
        PrintImapSummary(g, accounts[i].account.Url(), *res);
      }
      fflush(stdout);
    }
  };
  std::vector<std::thread> threads;
  for (unsigned k = 0; k < std::min<size_t>(parallel, accounts.size()); ++k) threads.emplace_back(work);
  for (auto& t : threads) t.join();
  size_t failed = 0;
  std::optional<Error> first;
  for (size_t i = 0; i < accounts.size(); ++i)
    if (errors[i]) {
      ++failed;
      if (!first) first = errors[i]->Wrap("backup of " + accounts[i].account.Url() + " failed", "");
    }
  if (failed == 1 && accounts.size() == 1) return *first;
  if (failed)
    return Error(first->code(), std::to_string(failed) + " of " + std::to_string(accounts.size()) + " accounts failed",
                 g.config_file, first->what() + ": " + first->cause(),
                 "the other accounts' snapshots are saved; fix the named account");
  return Ok();
}

void RegisterMail(CLI::App& app, Globals& g, Command* run) {
  auto* mail = app.add_subcommand("mail", "browse, restore and export mailbox snapshots (backups of IMAP accounts)");
  mail->require_subcommand(1);

  auto* ls = mail->add_subcommand("ls", "list a mailbox snapshot's folders, or one folder's messages");
  static std::string ls_spec;
  ls->add_option("snapshot", ls_spec, "SNAPSHOT or SNAPSHOT:FOLDER")->required();
  ls->callback([&g, run] {
    *run = [&g]() -> Status {
      auto [name, folder] = SplitSpec(ls_spec);
      auto repo = MX_TRY(OpenRepository(g, true));
      auto snap = MX_TRY(OpenMail(*repo, name));
      nlohmann::json out = nlohmann::json::array();
      if (folder.empty()) {
        for (const auto& ref : MX_TRY(snap->Folders())) {
          auto f = MX_TRY(snap->LoadFolder(ref));
          uint64_t bytes = 0;
          for (const auto& m : f.messages) bytes += m.size;
          if (g.json)
            out.push_back({{"folder", vault::mail::DisplayName(f)}, {"messages", f.messages.size()}, {"bytes", bytes},
                           {"uidvalidity", f.uidvalidity}, {"special_use", vault::mail::SpecialUse(f.attributes)}});
          else
            printf("%-40s %7zu messages %10s %s\n", vault::mail::DisplayName(f).c_str(), f.messages.size(),
                   HumanBytes(bytes).c_str(), vault::mail::SpecialUse(f.attributes).c_str());
        }
      } else {
        auto ref = MX_TRY(snap->FindFolder(folder));
        auto f = MX_TRY(snap->LoadFolder(ref));
        auto nodes = MX_TRY(snap->Messages(ref));
        for (const auto& m : f.messages) {
          std::string subject, from;
          if (auto n = nodes.find(m.file); n != nodes.end()) {
            // The header only: the first blob holds it for all but giant headers.
            std::string head;
            Status st = snap->Stream(n->second, [&](const uint8_t* d, size_t k) -> Status {
              if (head.size() < 65536) head.append(reinterpret_cast<const char*>(d), std::min<size_t>(k, 65536));
              return Ok();
            });
            if (st.ok()) {
              subject = vault::HeaderValue(head, "Subject");
              from = vault::HeaderValue(head, "From");
            }
          }
          if (g.json)
            out.push_back({{"uid", m.uid}, {"file", m.file}, {"size", m.size}, {"internaldate", m.internaldate},
                           {"flags", m.flags}, {"from", from}, {"subject", subject}});
          else
            printf("%6u  %s  %9s  %-24s %s | %s\n", m.uid, m.internaldate.c_str(), HumanBytes(m.size).c_str(),
                   FlagsText(m.flags).c_str(), from.substr(0, 30).c_str(), subject.substr(0, 60).c_str());
        }
      }
      if (g.json) printf("%s\n", out.dump().c_str());
      return Ok();
    };
  });

  auto* find = mail->add_subcommand("find", "search a mailbox snapshot (no server needed), like IMAP SEARCH");
  static std::string find_spec, find_since, find_before;
  static vault::mail::MailQuery query;
  find->add_option("snapshot", find_spec, "SNAPSHOT or SNAPSHOT:FOLDER")->required();
  find->add_option("--from", query.from, "From contains this (case-insensitive, decoded)");
  find->add_option("--to", query.to, "To or Cc contains this");
  find->add_option("--subject", query.subject, "Subject contains this");
  find->add_option("--text", query.text, "the header or any text part contains this (charsets decoded)");
  find->add_option("--since", find_since, "internal date on or after this day (YYYY-MM-DD)");
  find->add_option("--before", find_before, "internal date before this day (YYYY-MM-DD)");
  find->callback([&g, run] {
    *run = [&g]() -> Status {
      auto [name, folder] = SplitSpec(find_spec);
      if (!find_since.empty()) query.since_day = MX_TRY(vault::mail::ParseDay(find_since));
      if (!find_before.empty()) query.before_day = MX_TRY(vault::mail::ParseDay(find_before));
      auto repo = MX_TRY(OpenRepository(g, true));
      auto snap = MX_TRY(OpenMail(*repo, name));
      std::vector<vault::mail::FolderRef> refs;
      if (folder.empty()) refs = MX_TRY(snap->Folders());
      else refs.push_back(MX_TRY(snap->FindFolder(folder)));
      nlohmann::json out = nlohmann::json::array();
      uint64_t matched = 0, searched = 0;
      for (const auto& ref : refs) {
        auto f = MX_TRY(snap->LoadFolder(ref));
        if (f.messages.empty()) continue;
        auto nodes = MX_TRY(snap->Messages(ref));
        for (const auto& m : f.messages) {
          auto n = nodes.find(m.file);
          if (n == nodes.end()) continue;
          ++searched;
          std::string body = MX_TRY(snap->Read(n->second));
          vault::mail::Found hit;
          if (!vault::mail::MatchMessage(body, m, query, &hit)) continue;
          ++matched;
          std::string shown = vault::mail::DisplayName(f);
          if (g.json)
            out.push_back({{"folder", shown}, {"uid", m.uid}, {"internaldate", m.internaldate}, {"size", m.size},
                           {"flags", m.flags}, {"from", hit.from}, {"to", hit.to}, {"subject", hit.subject}});
          else
            printf("%s/%u  %s  %s | %s\n", shown.c_str(), m.uid, m.internaldate.c_str(), hit.from.substr(0, 40).c_str(),
                   hit.subject.substr(0, 80).c_str());
        }
      }
      if (g.json) printf("%s\n", out.dump().c_str());
      else if (!g.quiet) fprintf(stderr, "%llu of %llu messages match\n", (unsigned long long)matched, (unsigned long long)searched);
      return Ok();
    };
  });

  auto* show = mail->add_subcommand("show", "print one message as stored (byte-exact)");
  static std::string show_spec;
  show->add_option("message", show_spec, "SNAPSHOT:FOLDER/ID (ID: the UID or file name from `mail ls`)")->required();
  show->callback([&g, run] {
    *run = [&g]() -> Status {
      auto [name, rest] = SplitSpec(show_spec);
      auto repo = MX_TRY(OpenRepository(g, true));
      auto snap = MX_TRY(OpenMail(*repo, name));
      auto sel = MX_TRY(vault::ParseMailSelection(*snap, rest));
      if (sel.message.empty())
        return Error(Code::kUsage, "name one message", show_spec, "", "write SNAPSHOT:FOLDER/UID");
      auto ref = MX_TRY(snap->FindFolder(sel.folder));
      auto f = MX_TRY(snap->LoadFolder(ref));
      auto nodes = MX_TRY(snap->Messages(ref));
      for (const auto& m : f.messages) {
        if (std::to_string(m.uid) != sel.message && m.file != sel.message) continue;
        auto n = nodes.find(m.file);
        if (n == nodes.end()) break;
        return snap->Stream(n->second, [](const uint8_t* d, size_t k) -> Status {
          if (fwrite(d, 1, k, stdout) != k) return Error(Code::kIo, "cannot write the message", "stdout", "");
          return Ok();
        });
      }
      return Error(Code::kMailNotFound, "no such message", show_spec, "");
    };
  });

  auto* restore = mail->add_subcommand("restore", "restore a message, a folder or a whole mailbox to an IMAP account");
  static std::string restore_spec, restore_to, restore_into;
  static ImapArgs restore_imap;
  restore->add_option("source", restore_spec, "SNAPSHOT[:FOLDER[/ID]]")->required();
  restore->add_option("--to", restore_to, "imap://USER@HOST[:PORT] or imaps://… to restore into")->required();
  restore->add_option("--into", restore_into, "a folder to restore into (default: the same folders)");
  AddImapOptions(restore, restore_imap, /*with_ca_file=*/true);
  restore->callback([&g, run] {
    *run = [&g]() -> Status {
      auto [name, rest] = SplitSpec(restore_spec);
      vault::MailRestoreOptions o;
      o.to = MX_TRY(vault::ParseImapUrl(restore_to));
      o.login = MX_TRY(MakeLogin(restore_imap, ""));
      o.into = restore_into;
      auto repo = MX_TRY(OpenRepository(g, true));
      auto lock = MX_TRY(Lock(g, *repo, false));
      auto snap = MX_TRY(OpenMail(*repo, name));
      auto sel = MX_TRY(vault::ParseMailSelection(*snap, rest));
      std::atomic<uint64_t> done{0};
      Result<vault::MailRestoreSummary> res = Error(Code::kInternal, "", "", "");
      {
        ProgressLine line(ShowProgress(g), [&](double el) {
          return "[" + FormatDuration(el) + "] " + std::to_string(done.load()) + " messages appended";
        });
        res = vault::RestoreMailToImap(*snap, sel, o, &done);
      }
      if (!res.ok()) return std::move(res).error();
      if (g.json) {
        printf("%s\n", nlohmann::json({{"message_type", "summary"}, {"folders", res->folders},
                                       {"folders_created", res->folders_created}, {"appended", res->appended},
                                       {"already_present", res->present}, {"bytes", res->bytes},
                                       {"total_duration", res->seconds}})
                           .dump()
                           .c_str());
      } else if (!g.quiet) {
        printf("restored to %s: %llu messages appended (%s), %llu already there, %llu folders (%llu created) in %s\n",
               o.to.Url().c_str(), (unsigned long long)res->appended, HumanBytes(res->bytes).c_str(),
               (unsigned long long)res->present, (unsigned long long)res->folders,
               (unsigned long long)res->folders_created, FormatDuration(res->seconds).c_str());
      }
      return Ok();
    };
  });

  auto* exp = mail->add_subcommand("export", "write a mailbox snapshot's messages as Maildir, mbox or EML files");
  static std::string exp_spec, exp_format = "maildir", exp_target;
  exp->add_option("source", exp_spec, "SNAPSHOT[:FOLDER[/ID]]")->required();
  exp->add_option("--format", exp_format, "maildir, mbox or eml")->check(CLI::IsMember({"maildir", "mbox", "eml"}));
  exp->add_option("--target", exp_target, "directory to write into (created)")->required();
  exp->callback([&g, run] {
    *run = [&g]() -> Status {
      auto [name, rest] = SplitSpec(exp_spec);
      auto repo = MX_TRY(OpenRepository(g, true));
      auto snap = MX_TRY(OpenMail(*repo, name));
      auto sel = MX_TRY(vault::ParseMailSelection(*snap, rest));
      auto s = MX_TRY(vault::ExportMail(*snap, sel, exp_format, exp_target));
      if (g.json)
        printf("%s\n", nlohmann::json({{"message_type", "summary"}, {"folders", s.folders}, {"messages", s.messages},
                                       {"bytes", s.bytes}})
                           .dump()
                           .c_str());
      else if (!g.quiet)
        printf("exported %llu messages (%s) in %llu folders to %s as %s\n", (unsigned long long)s.messages,
               HumanBytes(s.bytes).c_str(), (unsigned long long)s.folders, exp_target.c_str(), exp_format.c_str());
      return Ok();
    };
  });
}

}  // namespace mx::app
