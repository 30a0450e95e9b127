// The HTTP server (cpp-httplib): tuning, request ids, the access log,
// request metrics, JSON errors for everything, and the drain.
//
// Threads: httplib's pool runs handlers; handlers read through the store's
// read pool and queue writes to the writer thread. Node state is not touched here.
#pragma once

#include <httplib.h>

#include <atomic>
#include <functional>
#include <string>
#include <string_view>
#include <thread>

#include <nlohmann/json.hpp>

#include "base/clock.h"
#include "base/metrics.h"
#include "node/backup_manager.h"
#include "node/config.h"
#include "node/node.h"
#include "node/store.h"
#include "replication/segment_shipper.h"

namespace walship::http {

// Bytes of request bodies held by all connections at once, against
// limits.max_inflight_body_bytes. Thread-safe.
class BodyBudget {
 public:
  explicit BodyBudget(int64_t limit) : limit_(limit) {}
  bool TryReserve(int64_t n);
  void Release(int64_t n) { used_.fetch_sub(n); }
  int64_t used() const { return used_.load(); }

 private:
  const int64_t limit_;
  std::atomic<int64_t> used_{0};
};

// A request body and its share of the budget, given back when it goes.
class RequestBody {
 public:
  explicit RequestBody(BodyBudget* budget) : budget_(budget) {}
  RequestBody(const RequestBody&) = delete;
  RequestBody& operator=(const RequestBody&) = delete;
  ~RequestBody() {
    if (budget_ != nullptr) budget_->Release(reserved_);
  }
  // Appends if the budget allows; false (and nothing appended) otherwise.
  bool Append(const char* data, size_t len);
  std::string text;

 private:
  BodyBudget* budget_;
  int64_t reserved_ = 0;
};

// What route handlers need; outlives the server.
struct RouteContext {
  const Config& config;
  Store& store;
  MetricsRegistry& metrics;
  Clock& clock;
  int64_t started_unix_ms;
  const SegmentShipper* shipper = nullptr;  // a primary with a standby; else null
  BackupManager* backups = nullptr;         // null: backups unavailable (answered 503)
  const std::atomic<bool>* draining = nullptr;  // set by HttpServer: true once the drain began
  BodyBudget* body_budget = nullptr;            // set by HttpServer
};

// httplib::Server with a listen backlog fit for a server. Debian's compiled
// cpp-httplib 0.11 listens with a backlog of 5: a burst of new connections
// overflows the accept queue and some clients get a reset after sending
// their request, never knowing whether a write happened.
class TunedHttplibServer : public httplib::Server {
 public:
  // Re-listens on the bound socket with `backlog` (Linux allows a second listen()).
  bool RaiseListenBacklog(int backlog);
};

class HttpServer final : public Frontend {
 public:
  explicit HttpServer(RouteContext ctx);
  ~HttpServer() override;

  // Binds the listen address; returns the port (the chosen one for port 0).
  Result<int> Bind();
  // Serves on a thread of its own until StopAndWait().
  void Start();

  void BeginDrain() override;
  void StopAndWait() override;

 private:
  void InstallHooks();

  RouteContext ctx_;
  TunedHttplibServer svr_;
  std::thread thread_;
  std::atomic<bool> draining_{false};
  BodyBudget body_budget_;
};

// "/v1/archives/{key}" for "/v1/archives/a/b": the metrics label of a path.
std::string RouteLabel(const std::string& path);
// The method as a metrics label: the standard ones, else "other".
std::string MethodLabel(const std::string& method);

// Reads a request body of at most limits.max_body_bytes. Content-Length
// bodies over the limit never get here (the pre-routing hook answers 413
// unread); chunked bodies are cut off as soon as they pass the limit, so
// memory stays bounded. A body that trickles in past server.body_timeout_ms,
// or is still arriving when the drain begins, is abandoned: one slow client
// must not hold a thread, nor the shutdown, hostage.
// `max_bytes` < 0: limits.max_body_bytes.
Status ReadBodyLimited(const httplib::ContentReader& reader, const RouteContext& ctx, RequestBody* body,
                       int64_t max_bytes = -1);
// How server.body_timeout_ms bounds a body: the whole of it, or each gap
// between two chunks (a base snapshot may take minutes in all).
enum class BodyTimeout { kWhole, kBetweenChunks };
// The loop under ReadBodyLimited: hands each chunk to `take` until the body
// ends, passes `max_bytes`, the drain begins, the timeout passes, or `take`
// fails (its status is returned).
Status ReadBodyChunks(const httplib::ContentReader& reader, const RouteContext& ctx, int64_t max_bytes,
                      BodyTimeout timeout, const std::function<Status(const char* data, size_t len)>& take);
// The body limit of a route, and the setting it comes from:
// replication.max_base_bytes for bases, replication.max_segment_bytes under
// /v1/replication/, else limits.max_body_bytes.
struct BodyLimit {
  int64_t bytes = 0;
  std::string_view setting;
};
BodyLimit BodyLimitFor(const Config& config, const std::string& path);
// "request body is 5000 bytes, over the limit of 4096 (limits.max_body_bytes)"
std::string BodyOverLimitMessage(const httplib::Request& req, const BodyLimit& limit);
// Answers a ReadBodyLimited failure and ends the connection (the rest of the
// body is unread). While draining, httplib ends it by itself and would not
// write a content-provider body, so that case answers plainly.
void ReplyBodyError(httplib::Response& res, const Status& status);

void RegisterArchiveRoutes(httplib::Server& svr, RouteContext& ctx);
void RegisterBatchRoute(httplib::Server& svr, RouteContext& ctx);
void RegisterOpsRoutes(httplib::Server& svr, RouteContext& ctx);
void RegisterReplicationRoutes(httplib::Server& svr, RouteContext& ctx);
void RegisterBackupRoutes(httplib::Server& svr, RouteContext& ctx);
void RegisterRestoreRoutes(httplib::Server& svr, RouteContext& ctx);
// The "restore" object of /v1/status (null when no online restore ran).
nlohmann::json RestoreStatusJson(const std::optional<OnlineRestoreProgress>& restore);
// The "backups" object of /v1/status (null without a backup manager).
nlohmann::json BackupsStatusJson(const BackupManager* backups, int64_t now_unix_ms);
// Waits for the read's min_position parameter, if any ("TIMELINE/TXID").
Status AwaitMinPosition(RouteContext& ctx, const httplib::Request& req);
// "TIMELINE/TXID" as in every write response.
Result<Position> ParsePosition(const std::string& text);

}  // namespace walship::http
