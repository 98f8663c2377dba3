// How a mailbox snapshot lays out an account (docs/formats/mailbox.md):
//
//   /<account>/mxvault-account.json          server, capabilities, folder list
//   /<account>/<folder path>/cur/<file>      one file per message, byte-exact
//   /<account>/<folder path>/new/, tmp/      empty (a Maildir needs them)
//   /<account>/<folder path>/mxvault-folder.json   UIDVALIDITY, UIDs, flags,
//                                                  keywords, internal dates
//   /<account>/<folder path>/dovecot-keywords      keyword letters a-z
//
// The folder path is the folder's name split at the server's hierarchy
// delimiter, each level in UTF-8 (so Dovecot serves a restored tree with
// `maildir:DIR:LAYOUT=fs:INBOX=DIR/INBOX:UTF-8`). A message file is
// "<uidvalidity>-<uid>.mxvault,S=<size>,W=<size>:2,<flags>" with Maildir's
// flag letters (D F R S T) and Dovecot's keyword letters; its mtime is the
// internal date.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace mx::vault::mail {

constexpr const char* kAccountFile = "mxvault-account.json";
constexpr const char* kFolderFile = "mxvault-folder.json";
constexpr const char* kKeywordsFile = "dovecot-keywords";

/// One level of a folder name as a directory name: '%', '/' and NUL are
/// %-escaped, as are the names a Maildir reserves (cur, new, tmp, ".", "..",
/// our metadata files) and a leading '.'.
std::string EscapeLevel(const std::string& level);
std::string UnescapeLevel(const std::string& dir);
/// The directory path ("A/B%2FC/D") of a folder name split at `delimiter`
/// (0: no hierarchy).
std::string FolderPath(const std::string& name, char delimiter);

/// What a snapshot knows of one message.
struct MessageMeta {
  uint32_t uid = 0;
  std::string file;         // name inside cur/
  uint64_t size = 0;
  std::string internaldate;  // as the server sent it, zone kept
  std::vector<std::string> flags;  // system flags and keywords, as the server spelled them
  uint64_t modseq = 0;
};

struct FolderMeta {
  std::string name;         // UTF-8, server's delimiter
  std::string server_name;  // as on the wire (modified UTF-7)
  char delimiter = '/';
  std::vector<std::string> attributes;  // LIST attributes (\HasChildren, \Sent ...)
  bool selectable = true;
  uint32_t uidvalidity = 0;
  uint32_t uidnext = 0;
  uint64_t highestmodseq = 0;
  std::vector<MessageMeta> messages;  // by UID
  std::string path;  // directory path in the account tree
};

nlohmann::json FolderToJson(const FolderMeta& f);
Result<FolderMeta> FolderFromJson(const std::string& text, const std::string& object);

/// Keyword → letter ('a'..'z') for a folder, in sorted keyword order; at most
/// 26 (the rest live in the metadata only).
std::map<std::string, char> KeywordLetters(const std::vector<MessageMeta>& messages);
std::string KeywordsFile(const std::map<std::string, char>& letters);
/// The message's file name in cur/.
std::string MessageFileName(uint32_t uidvalidity, const MessageMeta& m, const std::map<std::string, char>& letters);

/// The special-use attribute of a LIST reply (\Sent, \Drafts ...), or "".
std::string SpecialUse(const std::vector<std::string>& attributes);

}  // namespace mx::vault::mail
