#include "common/error.h"

#include <cstring>

namespace mx {
namespace {
const CodeInfo kCodes[] = {
#define MX_ERROR(name, symbol, exit_code, summary, hint) \
  {Code::name, symbol, exit_code, summary, hint},
#include "common/error_codes.def"
#undef MX_ERROR
};
}  // namespace

const CodeInfo& Describe(Code code) { return kCodes[static_cast<int>(code)]; }

const CodeInfo* AllCodes(size_t* count) {
  *count = sizeof(kCodes) / sizeof(kCodes[0]);
  return kCodes;
}

Code CodeFromSymbol(std::string_view symbol) {
  for (const auto& c : kCodes)
    if (symbol == c.symbol) return c.code;
  return Code::kInternal;
}

std::string Error::hint() const {
  return hint_.empty() ? std::string(Describe(code_).hint) : hint_;
}

Error Error::Wrap(std::string what, std::string object) const {
  std::string inner = what_;
  if (!object_.empty()) inner += " '" + object_ + "'";
  if (!cause_.empty()) inner += ": " + cause_;
  return Error(code_, std::move(what), std::move(object), std::move(inner), hint_);
}

std::string Error::Message() const {
  std::string m = what_;
  if (!object_.empty()) m += " '" + object_ + "'";
  if (!cause_.empty()) m += ": " + cause_;
  m += " [";
  m += Describe(code_).symbol;
  m += "]";
  return m;
}

std::string Error::Full() const { return Message() + "\nhint: " + hint(); }

Error ErrnoError(std::string what, std::string object, int err, Code code) {
  return Error(code, std::move(what), std::move(object), std::strerror(err));
}

}  // namespace mx
