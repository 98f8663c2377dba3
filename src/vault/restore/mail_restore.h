// Restoring from mailbox snapshots: to an IMAP server (APPEND with flags,
// keywords and internal dates, no duplicates on a second run) or to files
// (Maildir, mbox, EML). Bad names never write outside the target.
#pragma once

#include <atomic>
#include <string>

#include "vault/mail/snapshot_reader.h"
#include "vault/source/imap/imap_client.h"

namespace mx::vault {

struct MailSelection {
  std::string folder;   // "" = every folder
  std::string message;  // "" = every message of the folder; else a UID or a file name
};

/// "FOLDER/ID" or "FOLDER" resolved against the snapshot's folders.
Result<MailSelection> ParseMailSelection(mail::MailSnapshot& snap, const std::string& spec);

struct MailRestoreOptions {
  ImapAccount to;
  ImapLogin login;
  std::string into;  // a folder to restore into (the folder tree goes below it)
  unsigned pipeline = 16;  // APPENDs in flight with LITERAL+
};

struct MailRestoreSummary {
  uint64_t folders = 0, folders_created = 0, appended = 0, present = 0, bytes = 0;
  double seconds = 0;
};

Result<MailRestoreSummary> RestoreMailToImap(mail::MailSnapshot& snap, const MailSelection& sel,
                                             const MailRestoreOptions& opts, std::atomic<uint64_t>* done);

struct MailExportSummary {
  uint64_t folders = 0, messages = 0, bytes = 0;
};
/// format: maildir, mbox or eml. The target directory is created; existing
/// files are not overwritten (IO error naming the first one).
Result<MailExportSummary> ExportMail(mail::MailSnapshot& snap, const MailSelection& sel, const std::string& format,
                                     const std::string& target);

/// The unfolded, trimmed value of the first header field `name` (any case)
/// of a message; "" if none.
std::string HeaderValue(std::string_view message, std::string_view name);

}  // namespace mx::vault
