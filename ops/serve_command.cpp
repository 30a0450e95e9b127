#include "ops/serve_command.h"

#include <sys/resource.h>
#include <sys/select.h>
#include <unistd.h>

#include <cstdio>

#include "backup/restore_swap.h"
#include "base/clock.h"
#include "base/fs.h"
#include "base/log.h"
#include "http/server.h"
#include "http/standby_link.h"
#include "node/node.h"
#include "node/sqlite_db.h"
#include "node/store.h"

namespace walship {

namespace {

// A restore whose swap a crash interrupted is finished before SQLite opens
// anything: the old database must never be opened next to the new one's
// missing WAL, or the new one next to the old WAL (backup/restore_swap.h).
Status FinishRestoreBeforeServing(const std::string& data_dir) {
  if (::access(data_dir.c_str(), F_OK) != 0) return Status::Ok();  // a new node: Store::Open makes the folder
  auto lock = DirectoryLock::Acquire(data_dir);
  if (!lock.ok()) return lock.status();
  auto finished = FinishInterruptedRestoreSwap(data_dir);
  return finished.status();
}

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

  if (Status s = FinishRestoreBeforeServing(config->data_dir); !s.ok()) {
    LogError("cannot start", {{"error", s.ToString()}});
    return 1;
  }
  auto store = Store::Open(*config, clock, metrics);
  if (!store.ok()) {
    LogError("cannot start", {{"error", store.status().ToString()}});
    return 1;
  }
  // A primary with a standby ships every sealed segment to it.
  std::unique_ptr<http::HttpStandbyLink> link;
  std::unique_ptr<SegmentShipper> shipper;
  if (!config->standby() && !config->standby_url.empty()) {
    if ((*store)->segment_store() == nullptr) {
      LogError("cannot start", {{"error", "replication.standby is set but there are no segments to ship "
                                          "(segments.capture = false, or the store was refused)"}});
      (*store)->Close();
      return 1;
    }
    Store* s = store->get();
    link = std::make_unique<http::HttpStandbyLink>(config->standby_url, config->replication_push_timeout_ms,
                                                   [s] { return s->position(); });
    ShipperOptions options;
    options.retry_initial_ms = config->replication_retry_initial_ms;
    options.retry_max_ms = config->replication_retry_max_ms;
    options.snapshot_after_bytes = config->replication_snapshot_after_bytes;
    options.request_snapshot = [s] { s->RequestSnapshot(); };
    if (config->sync_replication()) options.on_caught_up = [s] { s->RequestCollect(); };
    shipper = std::make_unique<SegmentShipper>(*s->segment_store(), *link, options, clock, metrics);
    SegmentShipper* notify = shipper.get();
    s->SetSealedListener([notify](const DecodedSegmentHeader&) { notify->Notify(); });
    if (config->sync_replication()) {
      const int64_t timeout_ms = config->replication_sync_timeout_ms;
      s->SetReplicationWait([notify, timeout_ms](const Position& p) { return notify->WaitShipped(p.txid, timeout_ms); },
                            [notify] { return notify->Idle(); });
    }
    shipper->Start();
    LogInfo("shipping segments to the standby", {{"standby", config->standby_url}, {"mode", config->replication_mode}});
  }
  // Whatever way this function returns: no seal may notify a shipper that is gone.
  struct StopShipping {
    Store* store;
    SegmentShipper* shipper;
    ~StopShipping() {
      if (shipper == nullptr) return;
      store->SetSealedListener(nullptr);
      // The final checkpoint sealed the last commits: let them reach the standby.
      if (!shipper->DrainFor(2000)) LogWarn("stopping with segments the standby has not received yet", {});
      shipper->Stop();
    }
  } stop_shipping{store->get(), shipper.get()};

  // A backup folder that cannot be used (a missing mount, another node's
  // lock) must not keep the database from serving: the node runs without
  // backups, says so, and answers backup requests 503 backup_unavailable.
  auto backups = BackupManager::Open(*config, **store, clock, metrics);
  if (!backups.ok()) {
    LogError("backups are off: the backup folder cannot be used", {{"error", backups.status().ToString()}});
  }
  BackupManager* backup_manager = backups.ok() ? backups->get() : nullptr;
  if (backup_manager && shipper) {  // segment retention keeps what the standby has not acknowledged
    backup_manager->SetStandbyAcknowledged([s = shipper.get()] { return s->AcknowledgedSequence(); });
  }
  http::RouteContext route_context{*config, **store, metrics, clock, clock.NowUnixMillis()};
  route_context.shipper = shipper.get();
  route_context.backups = backup_manager;
  http::HttpServer server(route_context);
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
  node.SetBackups(backup_manager);
  return node.Run([&] { LogInfo("listening", {{"url", url}, {"port", *port}}); });
}

}  // namespace walship
