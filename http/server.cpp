#include "http/server.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>
#include <regex>

#include "base/log.h"
#include "base/thread_name.h"
#include "http/error_map.h"

namespace walship::http {
namespace {

// Set by the pre-routing hook, read by the logger: httplib handles one
// request at a time per thread, so a thread-local carries it across.
thread_local int64_t t_request_start_ns = 0;

struct KnownRoute {
  std::regex pattern;
  const char* allow;  // the Allow header for 405
};

const std::vector<KnownRoute>& KnownRoutes() {
  static const std::vector<KnownRoute> kRoutes = {
      {std::regex("/v1/archives"), "GET"},
      {std::regex("/v1/archives/[\\s\\S]+"), "GET, PUT, DELETE"},  // keys may hold any character
      {std::regex("/v1/search"), "GET"},
      {std::regex("/v1/batch"), "POST"},
      {std::regex("/healthz"), "GET"},
      {std::regex("/readyz"), "GET"},
      {std::regex("/v1/status"), "GET"},
      {std::regex("/metrics"), "GET"},
      {std::regex("/v1/replication/position"), "GET"},
      {std::regex("/v1/admin/resync"), "POST"},
      // Only what the routes match: /v1/replication/bases/five is no route.
      {std::regex("/v1/replication/segments/[0-9]+"), "GET, PUT"},
      {std::regex("/v1/replication/bases/[0-9]+"), "PUT"},
  };
  return kRoutes;
}

bool IsAcceptableRequestId(const std::string& id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

std::string NewRequestId() {
  static const std::string prefix = [] {
    std::random_device rd;
    char buf[16];
    std::snprintf(buf, sizeof buf, "%08x", rd());
    return std::string(buf);
  }();
  static std::atomic<uint64_t> counter{0};
  return prefix + "-" + std::to_string(++counter);
}

int64_t ContentLength(const httplib::Request& req) {
  if (!req.has_header("Content-Length")) return -1;
  const std::string v = req.get_header_value("Content-Length");
  char* end = nullptr;
  long long n = std::strtoll(v.c_str(), &end, 10);
  if (end == v.c_str() || *end != '\0' || n < 0) return -1;
  return n;
}

}  // namespace

std::string MethodLabel(const std::string& method) {
  for (const char* m : {"GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS", "PATCH"}) {
    if (method == m) return m;
  }
  return "other";  // client-chosen strings must not mint metric series
}

std::string RouteLabel(const std::string& path) {
  if (path.rfind("/v1/archives/", 0) == 0) return "/v1/archives/{key}";
  if (path.rfind("/v1/replication/segments/", 0) == 0) return "/v1/replication/segments/{sequence}";
  if (path.rfind("/v1/replication/bases/", 0) == 0) return "/v1/replication/bases/{sequence}";
  if (path == "/v1/replication/position" || path == "/v1/admin/resync") return path;
  for (const char* p : {"/v1/archives", "/v1/search", "/v1/batch", "/healthz", "/readyz", "/v1/status", "/metrics"}) {
    if (path == p) return p;
  }
  return "other";
}

bool BodyBudget::TryReserve(int64_t n) {
  int64_t used = used_.load();
  do {
    if (used + n > limit_) return false;
  } while (!used_.compare_exchange_weak(used, used + n));
  return true;
}

bool RequestBody::Append(const char* data, size_t len) {
  if (budget_ != nullptr) {
    if (!budget_->TryReserve(static_cast<int64_t>(len))) return false;
    reserved_ += static_cast<int64_t>(len);
  }
  text.append(data, len);
  return true;
}

BodyLimit BodyLimitFor(const Config& config, const std::string& path) {
  if (path.rfind("/v1/replication/bases/", 0) == 0) {
    return {config.replication_max_base_bytes, "replication.max_base_bytes"};
  }
  if (path.rfind("/v1/replication/", 0) == 0) {
    return {config.replication_max_segment_bytes, "replication.max_segment_bytes"};
  }
  return {config.max_body_bytes, "limits.max_body_bytes"};
}

std::string BodyOverLimitMessage(const httplib::Request& req, const BodyLimit& limit) {
  // Names the setting: a primary whose segments a standby refuses logs this
  // answer, and the fix is on the standby.
  return "request body is " + req.get_header_value("Content-Length") + " bytes, over the limit of " +
         std::to_string(limit.bytes) + " (" + std::string(limit.setting) + ")";
}

Status ReadBodyChunks(const httplib::ContentReader& reader, const RouteContext& ctx, int64_t max_bytes,
                      BodyTimeout timeout, const std::function<Status(const char* data, size_t len)>& take) {
  const int64_t timeout_ns = ctx.config.body_timeout_ms * 1'000'000;
  int64_t deadline_ns = ctx.clock.MonotonicNanos() + timeout_ns;
  int64_t received = 0;
  Status stopped;
  bool ok = reader([&](const char* data, size_t len) {
    if (received + static_cast<int64_t>(len) > max_bytes) {
      stopped = Status::TooLarge("request body is over the limit of " + std::to_string(max_bytes) + " bytes");
      return false;
    }
    if (ctx.draining != nullptr && ctx.draining->load()) {
      stopped = Status::Unavailable("the node is shutting down").WithReason("shutting_down");
      return false;
    }
    const int64_t now = ctx.clock.MonotonicNanos();
    if (now > deadline_ns) {
      stopped = timeout == BodyTimeout::kWhole
                    ? Status::DeadlineExceeded("request body did not arrive within " +
                                               std::to_string(ctx.config.body_timeout_ms) + " ms")
                    : Status::DeadlineExceeded("request body stalled: nothing arrived for " +
                                               std::to_string(ctx.config.body_timeout_ms) + " ms");
      return false;
    }
    if (timeout == BodyTimeout::kBetweenChunks) deadline_ns = now + timeout_ns;
    stopped = take(data, len);
    received += static_cast<int64_t>(len);
    return stopped.ok();
  });
  if (!stopped.ok()) return stopped;
  if (!ok) return Status::InvalidArgument("request body could not be read");
  return Status::Ok();
}

Status ReadBodyLimited(const httplib::ContentReader& reader, const RouteContext& ctx, RequestBody* body,
                       int64_t max_bytes) {
  if (max_bytes < 0) max_bytes = ctx.config.max_body_bytes;
  return ReadBodyChunks(reader, ctx, max_bytes, BodyTimeout::kWhole, [&](const char* data, size_t len) {
    if (body->Append(data, len)) return Status::Ok();
    return Status::Unavailable("request bodies in flight are over limits.max_inflight_body_bytes (" +
                               std::to_string(ctx.config.max_inflight_body_bytes) + "); try again")
        .WithReason("overloaded");
  });
}

bool TunedHttplibServer::RaiseListenBacklog(int backlog) {
  return ::listen(svr_sock_, backlog) == 0;
}

void ReplyBodyError(httplib::Response& res, const Status& status) {
  if (status.reason() == "shutting_down") {
    res.set_header("Connection", "close");
    return ReplyError(res, status);
  }
  ReplyErrorAndClose(res, status);
}

HttpServer::HttpServer(RouteContext ctx)
    : ctx_(std::move(ctx)), body_budget_(ctx_.config.max_inflight_body_bytes) {
  ctx_.draining = &draining_;
  ctx_.body_budget = &body_budget_;
  const Config& c = ctx_.config;
  const size_t threads = static_cast<size_t>(c.http_threads);
  svr_.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  // Measured: with Nagle on and keep-alive capped at 5 requests, latency is
  // two orders of magnitude worse. Small JSON answers must leave at once.
  svr_.set_tcp_nodelay(true);
  svr_.set_keep_alive_max_count(static_cast<size_t>(c.keep_alive_max_requests));
  svr_.set_keep_alive_timeout(static_cast<time_t>(c.keep_alive_timeout_s));
  svr_.set_read_timeout(c.read_timeout_ms / 1000, (c.read_timeout_ms % 1000) * 1000);
  svr_.set_write_timeout(c.write_timeout_ms / 1000, (c.write_timeout_ms % 1000) * 1000);
  svr_.set_payload_max_length(
      static_cast<size_t>(std::max({c.max_body_bytes, c.replication_max_segment_bytes, c.replication_max_base_bytes})));
  InstallHooks();
  RegisterArchiveRoutes(svr_, ctx_);
  RegisterBatchRoute(svr_, ctx_);
  RegisterOpsRoutes(svr_, ctx_);
  RegisterReplicationRoutes(svr_, ctx_);
  RegisterBackupRoutes(svr_, ctx_);
  RegisterRestoreRoutes(svr_, ctx_);
}

HttpServer::~HttpServer() { StopAndWait(); }

void HttpServer::InstallHooks() {
  svr_.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    t_request_start_ns = ctx_.clock.MonotonicNanos();
    std::string id = req.get_header_value("X-Request-Id");
    res.set_header("X-Request-Id", IsAcceptableRequestId(id) ? id : NewRequestId());
    // Both refusals leave any body unread, so the connection must close.
    // While draining, httplib ends every connection after its current
    // request by itself (and writes no content-provider bodies once stopped).
    if (draining_) {
      res.set_header("Connection", "close");
      ReplyError(res, 503, "shutting_down", "the node is shutting down");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (const BodyLimit limit = BodyLimitFor(ctx_.config, req.path); ContentLength(req) > limit.bytes) {
      // refused before reading it
      ReplyErrorAndClose(res, 413, "too_large", BodyOverLimitMessage(req, limit));
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });

  // Runs before the pre-routing hook, for requests that wait for "100 Continue".
  svr_.set_expect_100_continue_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (const BodyLimit limit = BodyLimitFor(ctx_.config, req.path); ContentLength(req) > limit.bytes) {
      t_request_start_ns = ctx_.clock.MonotonicNanos();
      res.set_header("X-Request-Id", NewRequestId());
      ReplyErrorAndClose(res, 413, "too_large", BodyOverLimitMessage(req, limit));
      return 413;
    }
    return 100;
  });

  // Errors httplib detects itself (no route, unreadable request, body over
  // the limit while reading) get the same JSON shape as ours.
  svr_.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req,
                                                                 httplib::Response& res) {
    // Ours already: keep it. "Handled" makes httplib frame it (Content-Length).
    if (!res.body.empty() || res.content_provider_) return httplib::Server::HandlerResponse::Handled;
    // httplib refused the request before our pre-routing hook saw it
    // (unparseable, URI too long): it still gets an id and a fresh clock.
    if (!res.has_header("X-Request-Id")) {
      res.set_header("X-Request-Id", NewRequestId());
      t_request_start_ns = 0;
    }
    if (res.status == 404) {
      for (const auto& route : KnownRoutes()) {
        if (std::regex_match(req.path, route.pattern)) {
          res.set_header("Allow", route.allow);
          ReplyError(res, 405, "method_not_allowed",
                     "method " + req.method + " is not allowed on " + req.path + " (allowed: " + route.allow + ")");
          return httplib::Server::HandlerResponse::Handled;
        }
      }
      ReplyError(res, 404, "not_found", "no route for " + req.method + " " + req.path);
    } else if (res.status == 413) {
      ReplyError(res, 413, "too_large", "request body is over the limit");
    } else if (res.status == 414) {
      ReplyError(res, 414, "uri_too_long", "request URI is too long");
    } else if (res.status == 400) {
      ReplyError(res, 400, "bad_request", "the request could not be parsed");
    } else {
      ReplyError(res, res.status, "error", "HTTP status " + std::to_string(res.status));
    }
    return httplib::Server::HandlerResponse::Handled;
  }));

  svr_.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown exception";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    LogError("handler threw", {{"error", what}});
    ReplyError(res, 500, "internal", "internal error: " + what);
  });

  svr_.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    const double seconds =
        t_request_start_ns == 0 ? 0.0 : static_cast<double>(ctx_.clock.MonotonicNanos() - t_request_start_ns) / 1e9;
    t_request_start_ns = 0;
    const std::string route = RouteLabel(req.path);
    ctx_.metrics
        .GetCounter("walship_http_requests_total", "HTTP requests by route, method and status code",
                    {{"route", route}, {"method", MethodLabel(req.method)}, {"code", std::to_string(res.status)}})
        .Add();
    ctx_.metrics
        .GetHistogram("walship_http_request_seconds", "HTTP request latency by route", LatencyBuckets(),
                      {{"route", route}})
        .Observe(seconds);
    if (ctx_.config.access_log) {
      // The shipper asks an idle standby where it is every second: a
      // successful ask is logged only at debug level, or it would drown the log.
      const bool routine = req.path == "/v1/replication/position" && res.status == 200;
      LogEvent(routine ? spdlog::level::debug : spdlog::level::info, "request",
               {{"id", res.get_header_value("X-Request-Id")},
                          {"method", req.method},
                          {"path", req.path},
                          {"status", res.status},
                          {"ms", seconds * 1000.0},
                          {"bytes_in", std::max<int64_t>(ContentLength(req), static_cast<int64_t>(req.body.size()))},
                          {"bytes_out", res.body.size()},
                          {"remote", req.remote_addr}});
    }
  });
}

Result<int> HttpServer::Bind() {
  const auto& l = ctx_.config.listen;
  int port = l.port;
  if (port == 0) {
    port = svr_.bind_to_any_port(l.host);
    if (port <= 0) return Status::Unavailable("cannot listen on " + l.host + ": no free port could be bound");
  } else if (!svr_.bind_to_port(l.host, port)) {
    return Status::Unavailable("cannot listen on " + l.host + ":" + std::to_string(port) +
                               " (address in use, or not an address of this machine)");
  }
  if (!svr_.RaiseListenBacklog(SOMAXCONN)) {
    return Status::IOError("listen on " + l.host + ":" + std::to_string(port) + " with backlog " +
                           std::to_string(SOMAXCONN) + ": " + std::strerror(errno));
  }
  return port;
}

void HttpServer::Start() {
  thread_ = std::thread([this] {
    NameThisThread("ws-http");  // the request pool's threads, started from this one, inherit it
    svr_.listen_after_bind();
  });
  // httplib's stop() does nothing until the listen loop runs: a signal in
  // between would leave StopAndWait() joining forever.
  for (int i = 0; i < 5000 && !svr_.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

void HttpServer::BeginDrain() { draining_ = true; }

void HttpServer::StopAndWait() {
  draining_ = true;
  svr_.stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace walship::http
