// Process-wide logging to stderr (spdlog underneath, behind this header so
// that only log.cc compiles spdlog). Thread-safe.
#pragma once

#include <string>

namespace mx::log {

enum class Level { kDebug, kInfo, kWarn, kError, kOff };

void SetLevel(Level level);
Level GetLevel();
void Debug(const std::string& msg);
void Info(const std::string& msg);
void Warn(const std::string& msg);
void Error(const std::string& msg);

}  // namespace mx::log
