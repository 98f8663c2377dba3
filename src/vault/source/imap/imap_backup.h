// Mailbox-level backup of one IMAP account into a snapshot (the `imap`
// source), laid out as a Maildir tree (vault/mail/layout.h).
//
// Per folder, keyed by UIDVALIDITY against the parent snapshot: a folder
// whose UIDNEXT, message count and HIGHESTMODSEQ are unchanged costs one
// EXAMINE; with QRESYNC only changed flags and VANISHED UIDs are fetched;
// without it a UID + FLAGS scan. Only new UIDs' bodies are fetched, in
// pipelined UID FETCH batches whose literals stream straight into the chunker
// (memory per connection: one chunk). Folders are spread over several
// connections; each connection's thread hashes, compresses and encrypts.
//
// A dropped connection is reopened and the folder resumed (bounded retries);
// if the backup still fails, what was uploaded is indexed (reused next time)
// but no snapshot is written.
#pragma once

#include <atomic>
#include <optional>
#include <string>
#include <vector>

#include "repo/repository.h"
#include "vault/source/imap/imap_client.h"

namespace mx::vault {

struct ImapBackupOptions {
  ImapAccount account;
  ImapLogin login;
  std::string account_name;                // the snapshot's top directory (default: the user)
  std::vector<std::string> include, exclude;  // globs on folder names ('/' separated, UTF-8)
  unsigned connections = 4;
  std::string hostname;
  std::vector<std::string> tags;
  std::optional<repo::Id> parent;
  bool force = false;  // ignore the parent: fetch every body again
  std::string program_version;
  size_t batch_bytes = 16 << 20;
  size_t batch_messages = 500;
  unsigned pipeline = 2;  // FETCH batches in flight per connection
  int retries = 3;        // reconnects per folder
};

struct ImapBackupProgress {
  std::atomic<uint64_t> folders_done{0}, folders_total{0};
  std::atomic<uint64_t> messages_done{0}, bytes_fetched{0};
  std::atomic<uint64_t> reconnects{0};
};

struct ImapBackupSummary {
  repo::Id snapshot_id;
  std::optional<repo::Id> parent;
  uint64_t folders = 0, folders_unchanged = 0;
  uint64_t messages = 0, messages_fetched = 0, messages_reused = 0, messages_vanished = 0, flags_changed = 0;
  uint64_t bytes_fetched = 0, bytes_total = 0;
  uint64_t data_added = 0, data_added_packed = 0;
  uint64_t reconnects = 0;
  double seconds = 0;
  std::string server;
};

Result<ImapBackupSummary> BackupImap(repo::Repository& repo, const ImapBackupOptions& opts, ImapBackupProgress* progress);

}  // namespace mx::vault
