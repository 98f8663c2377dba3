#include "common/host.h"

#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>

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

uint64_t ProcessStartTicks(int64_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return 0;
  // The command name (field 2) is in parentheses and may hold spaces.
  size_t close = line.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  for (int i = 3; i <= 22 && rest >> field; ++i)
    if (i == 22) return std::strtoull(field.c_str(), nullptr, 10);
  return 0;
}

bool ProcessAlive(int64_t pid, uint64_t start_ticks) {
  if (pid <= 0) return false;
  if (kill(pid_t(pid), 0) != 0 && errno == ESRCH) return false;
  if (start_ticks == 0) return true;
  uint64_t now = ProcessStartTicks(pid);
  return now == 0 || now == start_ticks;
}

}  // namespace mx
