#include "ops/serve_command.h"

#include <sys/resource.h>
#include <sys/select.h>

#include <cstdio>

#include "base/clock.h"
#include "base/log.h"
#include "http/server.h"
#include "node/node.h"
#include "node/sqlite_db.h"
#include "node/store.h"

namespace walship {

namespace {

// Debian's cpp-httplib 0.11 waits on sockets with select(), which cannot
// watch a descriptor >= FD_SETSIZE (1024) and corrupts memory if asked to.
// Capping the soft limit makes accept() fail with EMFILE instead (httplib
// then retries), so too many connections degrade service, never memory.
void CapOpenFilesForSelect() {
  struct rlimit lim {};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur > FD_SETSIZE) {
    lim.rlim_cur = FD_SETSIZE;
    if (setrlimit(RLIMIT_NOFILE, &lim) == 0) {
      LogEvent(spdlog::level::debug, "open files capped for select()", {{"limit", FD_SETSIZE}});
    }
  }
}

}  // namespace

int RunServe(const std::optional<std::string>& config_path, const ConfigOverrides& overrides) {
  auto config = LoadConfig(config_path, overrides);
  if (!config.ok()) {
    std::fprintf(stderr, "walship: %s\n", config.status().message().c_str());
    return 2;
  }
  if (Status s = ConfigureLogging(config->log_level, config->log_format); !s.ok()) {
    std::fprintf(stderr, "walship: %s\n", s.message().c_str());
    return 2;
  }
  CapOpenFilesForSelect();
  if (Status s = RouteSqliteLogToNodeLog(); !s.ok()) {
    LogError("cannot start", {{"error", s.ToString()}});
    return 1;
  }
  Clock& clock = SystemClock::Instance();
  MetricsRegistry metrics;
  LogInfo("starting walship", {{"version", WALSHIP_VERSION}, {"data", config->data_dir},
                               {"config", config_path.value_or("(defaults)")}});

  auto store = Store::Open(*config, clock, metrics);
  if (!store.ok()) {
    LogError("cannot start", {{"error", store.status().ToString()}});
    return 1;
  }
  http::HttpServer server(http::RouteContext{*config, **store, metrics, clock, clock.NowUnixMillis()});
  auto port = server.Bind();
  if (!port.ok()) {
    LogError("cannot start", {{"error", port.status().ToString()}});
    (*store)->Close();
    return 1;
  }
  server.Start();
  const auto& host = config->listen.host;
  std::string url = "http://" + (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
                    std::to_string(*port);
  Node node(*config, **store, server);
  return node.Run([&] { LogInfo("listening", {{"url", url}, {"port", *port}}); });
}

}  // namespace walship
