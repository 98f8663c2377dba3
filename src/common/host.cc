#include "common/host.h"

#include <pwd.h>
#include <unistd.h>

namespace mx {

std::string Hostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "";
  return buf;
}

std::string Username() {
  char buf[4096];
  struct passwd pw, *res = nullptr;
  if (getpwuid_r(geteuid(), &pw, buf, sizeof(buf), &res) == 0 && res) return res->pw_name;
  return std::to_string(geteuid());
}

}  // namespace mx
