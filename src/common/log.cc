#include "common/log.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace mx::log {
namespace {
std::shared_ptr<spdlog::logger>& Logger() {
  static std::shared_ptr<spdlog::logger> logger = [] {
    auto l = spdlog::stderr_logger_mt("mxvault");
    l->set_pattern("%^%l%$: %v");
    l->set_level(spdlog::level::warn);
    return l;
  }();
  return logger;
}
Level g_level = Level::kWarn;
}  // namespace

void SetLevel(Level level) {
  g_level = level;
  static const spdlog::level::level_enum kMap[] = {
      spdlog::level::debug, spdlog::level::info, spdlog::level::warn,
      spdlog::level::err, spdlog::level::off};
  Logger()->set_level(kMap[int(level)]);
}
Level GetLevel() { return g_level; }
void Debug(const std::string& m) { Logger()->debug(m); }
void Info(const std::string& m) { Logger()->info(m); }
void Warn(const std::string& m) { Logger()->warn(m); }
void Error(const std::string& m) { Logger()->error(m); }

}  // namespace mx::log
