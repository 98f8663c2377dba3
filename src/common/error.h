// mx::Error and mx::Result<T>: how every failure in mxvault travels.
//
// An Error carries a stable code (error_codes.def), what failed, the object it
// failed on (file, snapshot, pack, address), the underlying cause (errno text,
// MAC failure, parse error) and a hint (the next step). Results are shaped like
// std::expected, which GCC 12 does not have in C++20 mode. Both are value types;
// not thread-safe to share mutable instances.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace mx {

enum class Code {
#define MX_ERROR(name, symbol, exit_code, summary, hint) name,
#include "common/error_codes.def"
#undef MX_ERROR
};

struct CodeInfo {
  Code code;
  const char* symbol;
  int exit_code;
  const char* summary;
  const char* hint;
};

/// The table row of `code`.
const CodeInfo& Describe(Code code);
/// Every row, in table order.
const CodeInfo* AllCodes(size_t* count);
/// The code whose symbol is `symbol` (as a peer sent it); INTERNAL if none.
Code CodeFromSymbol(std::string_view symbol);

class Error {
 public:
  Error(Code code, std::string what, std::string object, std::string cause,
        std::string hint = {})
      : code_(code), what_(std::move(what)), object_(std::move(object)),
        cause_(std::move(cause)), hint_(std::move(hint)) {}

  Code code() const { return code_; }
  const std::string& what() const { return what_; }
  const std::string& object() const { return object_; }
  const std::string& cause() const { return cause_; }
  /// The hint given at the failure site, else the table's default.
  std::string hint() const;
  int exit_code() const { return Describe(code_).exit_code; }

  /// Adds context as the error travels up: the new `what` and `object` become
  /// the outer description and the old message becomes part of the cause.
  Error Wrap(std::string what, std::string object) const;

  /// "cannot load pack 'data/ab/ab..': MAC mismatch [CORRUPT_DATA]"
  std::string Message() const;
  /// Message() plus a "hint:" line.
  std::string Full() const;

 private:
  Code code_;
  std::string what_;
  std::string object_;
  std::string cause_;
  std::string hint_;
};

/// errno → Error in one place (leveldb's PosixError).
Error ErrnoError(std::string what, std::string object, int err,
                 Code code = Code::kIo);

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { assert(ok()); return std::get<0>(v_); }
  const T& value() const& { assert(ok()); return std::get<0>(v_); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const& { assert(!ok()); return std::get<1>(v_); }
  Error&& error() && { assert(!ok()); return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : e_(std::move(error)) {}
  bool ok() const { return !e_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const& { assert(!ok()); return *e_; }
  Error&& error() && { assert(!ok()); return std::move(*e_); }

 private:
  std::optional<Error> e_;
};

using Status = Result<void>;
inline Status Ok() { return Status(); }

}  // namespace mx

// MX_TRY(expr): evaluates a Result<T>; on error returns the error from the
// enclosing function, else yields the value (GNU statement expression, which
// both GCC and Clang support).
#define MX_TRY(expr)                                                    \
  ({                                                                    \
    auto mx_try_r_ = (expr);                                            \
    if (!mx_try_r_.ok()) return std::move(mx_try_r_).error();           \
    std::move(*mx_try_r_);                                              \
  })
// MX_CHECK(expr): the same for Status.
#define MX_CHECK(expr)                                                  \
  do {                                                                  \
    auto mx_check_s_ = (expr);                                          \
    if (!mx_check_s_.ok()) return std::move(mx_check_s_).error();       \
  } while (0)
