#include "node/config.h"

#include "backup/cron.h"
#include "backup/time_zone.h"

#include <charconv>
#include <functional>
#include <map>
#include <toml++/toml.h>

#include "base/fs.h"

namespace walship {
namespace {

using Setter = std::function<Status(const toml::node&)>;

Setter IntSetting(int64_t* field, int64_t min, int64_t max) {
  return [=](const toml::node& n) -> Status {
    auto v = n.value_exact<int64_t>();
    if (!v) return Status::InvalidArgument("expected an integer");
    if (*v < min || *v > max) {
      return Status::InvalidArgument("must be between " + std::to_string(min) + " and " +
                                     std::to_string(max) + ", got " + std::to_string(*v));
    }
    *field = *v;
    return Status::Ok();
  };
}

Setter BoolSetting(bool* field) {
  return [=](const toml::node& n) -> Status {
    auto v = n.value_exact<bool>();
    if (!v) return Status::InvalidArgument("expected true or false");
    *field = *v;
    return Status::Ok();
  };
}

Setter StringSetting(std::function<Status(const std::string&)> apply) {
  return [=](const toml::node& n) -> Status {
    auto v = n.value_exact<std::string>();
    if (!v) return Status::InvalidArgument("expected a string");
    return apply(*v);
  };
}

Status ApplyLogFormat(Config* c, const std::string& v) {
  if (v == "text") c->log_format = LogFormat::kText;
  else if (v == "json") c->log_format = LogFormat::kJson;
  else return Status::InvalidArgument("must be \"text\" or \"json\", got \"" + v + "\"");
  return Status::Ok();
}

Status ApplyRole(Config* c, const std::string& v) {
  if (v != "primary" && v != "standby") {
    return Status::InvalidArgument("must be \"primary\" or \"standby\", got \"" + v + "\"");
  }
  c->role = v;
  return Status::Ok();
}

Status ApplyReplicationMode(Config* c, const std::string& v) {
  if (v != "async" && v != "sync") {
    return Status::InvalidArgument("must be \"async\" or \"sync\", got \"" + v + "\"");
  }
  c->replication_mode = v;
  return Status::Ok();
}

Setter PeerUrlSetting(std::string* field) {
  return StringSetting([field](const std::string& v) -> Status {
    if (v.empty()) {
      field->clear();
      return Status::Ok();
    }
    auto url = NormalizePeerUrl(v);
    if (!url.ok()) return url.status();
    *field = *url;
    return Status::Ok();
  });
}

Status ApplyLogLevel(Config* c, const std::string& v) {
  static const char* kLevels[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};
  for (const char* l : kLevels) {
    if (v == l) {
      c->log_level = v;
      return Status::Ok();
    }
  }
  return Status::InvalidArgument("must be one of trace, debug, info, warn, error, critical, off; got \"" + v + "\"");
}

std::map<std::string, Setter> SettingsFor(Config* c) {
  constexpr int64_t kMaxMs = 24ll * 3600 * 1000;
  return {
      {"server.listen", StringSetting([c](const std::string& v) -> Status {
         auto a = ParseListenAddress(v);
         if (!a.ok()) return a.status();
         c->listen = *a;
         return Status::Ok();
       })},
      {"server.http_threads", IntSetting(&c->http_threads, 2, 4096)},
      {"server.keep_alive_max_requests", IntSetting(&c->keep_alive_max_requests, 1, 1ll << 40)},
      {"server.keep_alive_timeout_s", IntSetting(&c->keep_alive_timeout_s, 1, 3600)},
      {"server.read_timeout_ms", IntSetting(&c->read_timeout_ms, 1, kMaxMs)},
      {"server.write_timeout_ms", IntSetting(&c->write_timeout_ms, 1, kMaxMs)},
      {"server.body_timeout_ms", IntSetting(&c->body_timeout_ms, 100, kMaxMs)},
      {"server.drain_timeout_ms", IntSetting(&c->drain_timeout_ms, 1, kMaxMs)},
      {"storage.data_dir", StringSetting([c](const std::string& v) -> Status {
         if (v.empty()) return Status::InvalidArgument("must not be empty");
         c->data_dir = v;
         return Status::Ok();
       })},
      {"storage.read_connections", IntSetting(&c->read_connections, 1, 256)},
      {"storage.busy_timeout_ms", IntSetting(&c->busy_timeout_ms, 0, kMaxMs)},
      {"commit.max_group_requests", IntSetting(&c->max_group_requests, 1, 100000)},
      {"checkpoint.interval_ms", IntSetting(&c->checkpoint_interval_ms, 10, kMaxMs)},
      {"checkpoint.wal_bytes", IntSetting(&c->checkpoint_wal_bytes, 4096, 1ll << 40)},
      {"segments.dir", StringSetting([c](const std::string& v) -> Status {
         c->segments_dir = v;  // empty: DATA/segments
         return Status::Ok();
       })},
      {"segments.zstd_level", IntSetting(&c->segments_zstd_level, 1, 19)},
      {"segments.capture", BoolSetting(&c->segments_capture)},
      {"segments.retention", BoolSetting(&c->segments_retention)},
      {"segments.collect_interval_ms", IntSetting(&c->segments_collect_interval_ms, 0, kMaxMs)},
      {"segments.collect_max_wal_bytes", IntSetting(&c->segments_collect_max_wal_bytes, 65536, 1ll << 40)},
      {"replication.role", StringSetting([c](const std::string& v) { return ApplyRole(c, v); })},
      {"replication.standby", PeerUrlSetting(&c->standby_url)},
      {"replication.primary", PeerUrlSetting(&c->primary_url)},
      {"replication.mode", StringSetting([c](const std::string& v) { return ApplyReplicationMode(c, v); })},
      {"replication.retry_initial_ms", IntSetting(&c->replication_retry_initial_ms, 1, kMaxMs)},
      {"replication.retry_max_ms", IntSetting(&c->replication_retry_max_ms, 1, kMaxMs)},
      {"replication.push_timeout_ms", IntSetting(&c->replication_push_timeout_ms, 100, kMaxMs)},
      {"replication.sync_timeout_ms", IntSetting(&c->replication_sync_timeout_ms, 1, kMaxMs)},
      {"replication.min_position_wait_ms", IntSetting(&c->replication_min_position_wait_ms, 0, 60000)},
      {"replication.snapshot_after_bytes", IntSetting(&c->replication_snapshot_after_bytes, -1, 1ll << 50)},
      {"replication.max_segment_bytes", IntSetting(&c->replication_max_segment_bytes, 1 << 20, 1ll << 30)},
      {"replication.max_base_bytes", IntSetting(&c->replication_max_base_bytes, 1 << 20, 1ll << 50)},
      {"backup.dir", StringSetting([c](const std::string& v) -> Status {
         c->backup_dir = v;  // empty: DATA/backups
         return Status::Ok();
       })},
      {"backup.schedule", StringSetting([c](const std::string& v) -> Status {
         c->backup_schedule = v;  // checked with the time zone in Validate
         return Status::Ok();
       })},
      {"backup.time_zone", StringSetting([c](const std::string& v) -> Status {
         c->backup_time_zone = v;
         return Status::Ok();
       })},
      {"backup.zstd_level", IntSetting(&c->backup_zstd_level, 1, 19)},
      {"backup.pages_per_step", IntSetting(&c->backup_pages_per_step, 1, 1 << 20)},
      {"backup.keep_last", IntSetting(&c->backup_keep_last, 0, 100000)},
      {"backup.keep_daily_days", IntSetting(&c->backup_keep_daily_days, 0, 100000)},
      {"backup.keep_weekly_weeks", IntSetting(&c->backup_keep_weekly_weeks, 0, 100000)},
      {"check.quick_check_interval_s", IntSetting(&c->check_quick_check_interval_s, 0, 366ll * 24 * 3600)},
      {"check.scrub_interval_s", IntSetting(&c->check_scrub_interval_s, 0, 366ll * 24 * 3600)},
      {"check.scrub_pages_per_second", IntSetting(&c->check_scrub_pages_per_second, 1, 1000000)},
      {"limits.max_key_bytes", IntSetting(&c->max_key_bytes, 1, 65536)},
      {"limits.max_body_bytes", IntSetting(&c->max_body_bytes, 1024, 1ll << 30)},
      {"limits.max_metadata_bytes", IntSetting(&c->max_metadata_bytes, 2, 16ll << 20)},
      {"limits.max_inflight_body_bytes", IntSetting(&c->max_inflight_body_bytes, 1024, 1ll << 40)},
      {"limits.max_batch_ops", IntSetting(&c->max_batch_ops, 1, 100000)},
      {"limits.default_list_limit", IntSetting(&c->default_list_limit, 1, 100000)},
      {"limits.max_list_limit", IntSetting(&c->max_list_limit, 1, 100000)},
      {"limits.default_search_limit", IntSetting(&c->default_search_limit, 1, 10000)},
      {"limits.max_search_limit", IntSetting(&c->max_search_limit, 1, 10000)},
      {"log.level", StringSetting([c](const std::string& v) { return ApplyLogLevel(c, v); })},
      {"log.format", StringSetting([c](const std::string& v) { return ApplyLogFormat(c, v); })},
      {"log.access_log", BoolSetting(&c->access_log)},
  };
}

Status ApplyTable(const toml::table& table, const std::string& prefix,
                  const std::map<std::string, Setter>& settings) {
  for (const auto& [k, node] : table) {
    std::string key = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
    if (const auto* sub = node.as_table()) {
      WALSHIP_RETURN_IF_ERROR(ApplyTable(*sub, key, settings));
      continue;
    }
    auto it = settings.find(key);
    if (it == settings.end()) return Status::InvalidArgument("unknown key " + key);
    WALSHIP_RETURN_IF_ERROR(it->second(node).Wrap(key));
  }
  return Status::Ok();
}

Status Validate(const Config& c) {
  if (c.default_list_limit > c.max_list_limit) {
    return Status::InvalidArgument("limits.default_list_limit (" + std::to_string(c.default_list_limit) +
                                   ") is above limits.max_list_limit (" + std::to_string(c.max_list_limit) + ")");
  }
  if (c.default_search_limit > c.max_search_limit) {
    return Status::InvalidArgument("limits.default_search_limit is above limits.max_search_limit");
  }
  if (c.max_metadata_bytes > c.max_body_bytes || c.max_key_bytes > c.max_body_bytes) {
    return Status::InvalidArgument("limits.max_body_bytes must be at least limits.max_key_bytes and limits.max_metadata_bytes");
  }
  if (c.standby() && c.max_inflight_body_bytes < c.replication_max_segment_bytes) {
    return Status::InvalidArgument("limits.max_inflight_body_bytes (" + std::to_string(c.max_inflight_body_bytes) +
                                   ") is below replication.max_segment_bytes (" +
                                   std::to_string(c.replication_max_segment_bytes) +
                                   "): this standby could never receive a segment of that size");
  }
  if (c.replication_retry_initial_ms > c.replication_retry_max_ms) {
    return Status::InvalidArgument("replication.retry_initial_ms is above replication.retry_max_ms");
  }
  if (c.standby() && !c.standby_url.empty()) {
    return Status::InvalidArgument("replication.standby is set on a standby: a standby ships to no one (set replication.primary)");
  }
  if (!c.standby() && !c.primary_url.empty()) {
    return Status::InvalidArgument("replication.primary is set on a primary: did you mean --role standby?");
  }
  if (c.replication_mode == "sync" && (c.standby() || c.standby_url.empty())) {
    return Status::InvalidArgument(
        "replication.mode = \"sync\" needs a primary with replication.standby set: writes wait for that standby");
  }
  if (c.standby() && !c.segments_capture) {
    return Status::InvalidArgument("segments.capture = false on a standby: the standby keeps every segment it applies");
  }
  auto zone = TimeZone::Load(c.backup_time_zone);
  if (!zone.ok()) return zone.status().Wrap("backup.time_zone");
  if (!c.backup_schedule.empty()) {
    auto cron = CronSchedule::Parse(c.backup_schedule, *zone);
    if (!cron.ok()) return cron.status().Wrap("backup.schedule");
  }
  return Status::Ok();
}

}  // namespace

Result<std::string> NormalizePeerUrl(const std::string& text) {
  const std::string scheme = "http://";
  if (text.rfind(scheme, 0) != 0) {
    return Status::InvalidArgument("peer URL \"" + text + "\" must start with http://");
  }
  std::string rest = text.substr(scheme.size());
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  if (rest.find('/') != std::string::npos || rest.find('?') != std::string::npos) {
    return Status::InvalidArgument("peer URL \"" + text + "\" must be http://HOST:PORT, with no path");
  }
  auto address = ParseListenAddress(rest);
  if (!address.ok() || address->host.empty() || address->port == 0) {
    return Status::InvalidArgument("peer URL \"" + text + "\" must be http://HOST:PORT with a port from 1 to 65535");
  }
  return scheme + rest;
}

Result<ListenAddress> ParseListenAddress(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return Status::InvalidArgument("listen address \"" + text + "\" is not HOST:PORT");
  }
  ListenAddress a;
  a.host = text.substr(0, colon);
  if (a.host.size() > 2 && a.host.front() == '[' && a.host.back() == ']') {
    a.host = a.host.substr(1, a.host.size() - 2);
  }
  std::string port = text.substr(colon + 1);
  int value = -1;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || ptr != port.data() + port.size() || value < 0 || value > 65535) {
    return Status::InvalidArgument("listen address \"" + text + "\": port must be a number from 0 to 65535");
  }
  a.port = value;
  return a;
}

Result<Config> ParseConfig(const std::string& toml_text, const std::string& origin) {
  Config c;
  toml::table parsed;
  try {
    // toml++ reports syntax errors by exception; it stops here.
    parsed = toml::parse(toml_text, origin);
  } catch (const toml::parse_error& err) {
    return Status::InvalidArgument(origin + ": line " + std::to_string(err.source().begin.line) + ": " +
                                   std::string(err.description()));
  }
  auto settings = SettingsFor(&c);
  WALSHIP_RETURN_IF_ERROR(ApplyTable(parsed, "", settings).Wrap(origin));
  return c;
}

Result<Config> LoadConfig(const std::optional<std::string>& path, const ConfigOverrides& flags) {
  Config c;
  if (path) {
    auto text = ReadWholeFile(*path);
    if (!text.ok()) return text.status().Wrap("config " + *path);
    auto parsed = ParseConfig(*text, "config " + *path);
    if (!parsed.ok()) return parsed.status();
    c = std::move(parsed).value();
  }
  if (flags.listen) {
    auto a = ParseListenAddress(*flags.listen);
    if (!a.ok()) return a.status().Wrap("--listen");
    c.listen = *a;
  }
  if (flags.data_dir) {
    if (flags.data_dir->empty()) return Status::InvalidArgument("--data: must not be empty");
    c.data_dir = *flags.data_dir;
  }
  if (flags.log_level) WALSHIP_RETURN_IF_ERROR(ApplyLogLevel(&c, *flags.log_level).Wrap("--log-level"));
  if (flags.log_format) WALSHIP_RETURN_IF_ERROR(ApplyLogFormat(&c, *flags.log_format).Wrap("--log-format"));
  if (flags.role) WALSHIP_RETURN_IF_ERROR(ApplyRole(&c, *flags.role).Wrap("--role"));
  if (flags.replication_mode) {
    WALSHIP_RETURN_IF_ERROR(ApplyReplicationMode(&c, *flags.replication_mode).Wrap("--replication-mode"));
  }
  if (flags.standby_url) {
    auto url = NormalizePeerUrl(*flags.standby_url);
    if (!url.ok()) return url.status().Wrap("--standby");
    c.standby_url = *url;
  }
  if (flags.primary_url) {
    auto url = NormalizePeerUrl(*flags.primary_url);
    if (!url.ok()) return url.status().Wrap("--primary");
    c.primary_url = *url;
  }
  WALSHIP_RETURN_IF_ERROR(Validate(c).Wrap(path ? "config " + *path : "config"));
  return c;
}

}  // namespace walship
