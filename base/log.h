// Structured logging over spdlog: text lines ("key=value" pairs) or JSON lines.
//
// Call ConfigureLogging() once at start-up, before other threads start.
// LogEvent() is thread-safe.
#pragma once

#include <spdlog/spdlog.h>

#include <initializer_list>
#include <string>
#include <string_view>

#include "base/status.h"

namespace walship {

enum class LogFormat { kText, kJson };

struct LogField {
  std::string_view key;
  std::string value;
  LogField(std::string_view k, std::string v) : key(k), value(std::move(v)) {}
  LogField(std::string_view k, std::string_view v) : key(k), value(v) {}
  LogField(std::string_view k, const char* v) : key(k), value(v) {}
  template <typename N, typename = std::enable_if_t<std::is_arithmetic_v<N>>>
  LogField(std::string_view k, N n) : key(k), value(std::to_string(n)) {}
};

// level: trace, debug, info, warn, error, critical, off.
Status ConfigureLogging(std::string_view level, LogFormat format);

void LogEvent(spdlog::level::level_enum level, std::string_view msg,
              std::initializer_list<LogField> fields = {});

inline void LogInfo(std::string_view msg, std::initializer_list<LogField> f = {}) {
  LogEvent(spdlog::level::info, msg, f);
}
inline void LogWarn(std::string_view msg, std::initializer_list<LogField> f = {}) {
  LogEvent(spdlog::level::warn, msg, f);
}
inline void LogError(std::string_view msg, std::initializer_list<LogField> f = {}) {
  LogEvent(spdlog::level::err, msg, f);
}

// Exposed for tests: how one event is rendered in each format (without time and level).
std::string RenderLogBody(LogFormat format, std::string_view msg,
                          std::initializer_list<LogField> fields);

}  // namespace walship
