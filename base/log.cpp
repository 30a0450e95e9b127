#include "base/log.h"

#include <spdlog/sinks/stdout_sinks.h>

#include <atomic>
#include <nlohmann/json.hpp>

namespace walship {
namespace {

std::atomic<LogFormat> g_format{LogFormat::kText};

bool NeedsQuotes(std::string_view v) {
  if (v.empty()) return true;
  for (char c : v) {
    if (c == ' ' || c == '"' || c == '=' || static_cast<unsigned char>(c) < 0x20) return true;
  }
  return false;
}

std::string Quote(std::string_view v) {
  // JSON string escaping is also a fine, unambiguous quoting for text logs.
  return nlohmann::json(std::string(v)).dump(-1, ' ', false,
                                             nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::string RenderLogBody(LogFormat format, std::string_view msg,
                          std::initializer_list<LogField> fields) {
  std::string out;
  if (format == LogFormat::kJson) {
    out.append("\"msg\":").append(Quote(msg));
    for (const auto& f : fields) {
      out.append(",").append(Quote(f.key)).append(":").append(Quote(f.value));
    }
    return out;
  }
  out.append(msg);
  for (const auto& f : fields) {
    out.append(" ").append(f.key).append("=");
    out.append(NeedsQuotes(f.value) ? Quote(f.value) : f.value);
  }
  return out;
}

Status ConfigureLogging(std::string_view level, LogFormat format) {
  auto lvl = spdlog::level::from_str(std::string(level));
  if (lvl == spdlog::level::off && level != "off") {
    return Status::InvalidArgument("unknown log level \"" + std::string(level) +
                                   "\" (want trace, debug, info, warn, error, critical or off)");
  }
  auto logger = std::make_shared<spdlog::logger>(
      "walship", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  logger->set_level(lvl);
  logger->flush_on(spdlog::level::trace);  // a crash must not eat the last lines
  if (format == LogFormat::kJson) {
    logger->set_pattern(R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l",%v})",
                        spdlog::pattern_time_type::utc);
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %-5l %v", spdlog::pattern_time_type::utc);
  }
  spdlog::set_default_logger(logger);
  g_format = format;
  return Status::Ok();
}

void LogEvent(spdlog::level::level_enum level, std::string_view msg,
              std::initializer_list<LogField> fields) {
  auto* logger = spdlog::default_logger_raw();
  if (!logger->should_log(level)) return;
  logger->log(level, "{}", RenderLogBody(g_format.load(), msg, fields));
}

}  // namespace walship
