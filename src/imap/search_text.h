// The text IMAP SEARCH matches (RFC 3501 §6.4.4): header fields with their
// MIME encoded-words decoded and text parts decoded from their transfer
// encoding and charset into UTF-8, compared as case-insensitive substrings.
// Shared by the store's IMAP server (SEARCH) and `mxvault mail find`, so that
// both find the same messages for the same words. Decoding is GMime's.
//
// Thread-safe: instances are independent; GMime is initialised once.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "imap/datetime.h"

namespace mx::imap {

/// `s` case-folded (Unicode), invalid UTF-8 made valid first: SEARCH's
/// case-insensitive comparison is a substring test on folded strings.
std::string FoldCase(std::string_view s);

/// Days since 1970-01-01 of a date-time in its own zone (SEARCH's SINCE,
/// BEFORE and ON ignore time and zone, RFC 3501 §6.4.4).
int64_t DayOf(const DateTime& t);
/// "1-Feb-1994" (SEARCH's date) → days since the epoch; nullopt when malformed.
std::optional<int64_t> ParseSearchDate(std::string_view s);

class SearchText {
 public:
  /// Parses `message`; with `header_only` only its header block is read
  /// (Body() is then empty), which is all FROM/SUBJECT/HEADER need.
  explicit SearchText(std::string_view message, bool header_only = false);
  ~SearchText();
  SearchText(const SearchText&) = delete;
  SearchText& operator=(const SearchText&) = delete;

  /// The decoded values of every field named `name` (ASCII case ignored),
  /// one per line, folded; nullopt when the message has no such field.
  std::optional<std::string> Field(std::string_view name) const;
  /// Every field, decoded and folded, "Name: value" per line.
  const std::string& Header() const { return header_; }
  /// The decoded text parts (text/*, in every multipart and attached
  /// message), folded; at most 64 MiB of text.
  const std::string& Body() const { return body_; }
  /// The Date: field, when there is one GMime can read.
  std::optional<DateTime> SentDate() const { return sent_; }
  /// Display forms for listings: "Name <addr>, ...", the subject.
  const std::string& From() const { return from_; }
  const std::string& To() const { return to_; }
  const std::string& Subject() const { return subject_; }

 private:
  struct Field_ {
    std::string name, value;  // value folded
  };
  std::string header_, body_, from_, to_, subject_;
  std::optional<DateTime> sent_;
  std::vector<Field_> fields_;
};

}  // namespace mx::imap
