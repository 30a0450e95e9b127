// GET /healthz, /readyz, /v1/status, /metrics.
#include "base/clock.h"
#include "http/error_map.h"
#include "http/json_codec.h"
#include "http/server.h"
#include "replication/db_checksum.h"

namespace walship::http {

void RegisterOpsRoutes(httplib::Server& svr, RouteContext& ctx) {
  // The registry may outlive the server: capture the store and clock, not ctx.
  Store& store = ctx.store;
  Clock& clock = ctx.clock;
  const int64_t started = ctx.started_unix_ms;
  ctx.metrics.AddGaugeFunction("walship_wal_bytes", "Size of the -wal file in bytes",
                               [&store] { return static_cast<double>(store.WalBytes()); });
  ctx.metrics.AddGaugeFunction("walship_position_txid", "Committed write transactions (the txid of the position)",
                               [&store] { return static_cast<double>(store.position().txid); });
  ctx.metrics.AddGaugeFunction("walship_ready", "1 when the database is open and writable",
                               [&store] { return store.Ready().ok() ? 1.0 : 0.0; });
  ctx.metrics.AddGaugeFunction("walship_uptime_seconds", "Seconds since the node started", [&clock, started] {
    return static_cast<double>(clock.NowUnixMillis() - started) / 1000.0;
  });

  svr.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    ReplyJson(res, 200, R"({"status":"ok"})");
  });

  svr.Get("/readyz", [&ctx](const httplib::Request&, httplib::Response& res) {
    Status s = ctx.store.Ready();
    if (ctx.store.refused()) return ReplyError(res, ctx.store.refusal());
    if (!s.ok()) return ReplyError(res, Status::Unavailable("not ready: " + s.ToString()).WithReason("not_ready"));
    ReplyJson(res, 200, R"({"status":"ready"})");
  });

  svr.Get("/v1/status", [&ctx](const httplib::Request&, httplib::Response& res) {
    Position p = ctx.store.position();
    Status ready = ctx.store.Ready();
    int64_t last_ckpt = ctx.store.LastCheckpointUnixMillis();
    nlohmann::json body{
        {"role", ctx.role},
        {"version", WALSHIP_VERSION},
        {"position", p.ToString()},
        {"timeline", p.timeline},
        {"txid", p.txid},
        {"ready", ready.ok()},
        {"database", ctx.store.database_path()},
        {"wal_bytes", ctx.store.WalBytes()},
        {"uptime_seconds", (ctx.clock.NowUnixMillis() - ctx.started_unix_ms) / 1000},
    };
    body["last_checkpoint"] = last_ckpt ? nlohmann::json(FormatRfc3339Millis(last_ckpt)) : nlohmann::json(nullptr);
    body["error"] = ready.ok() ? nlohmann::json(nullptr) : nlohmann::json(ready.ToString());
    body["state"] = ctx.store.refused() ? "refused" : "serving";
    if (std::optional<CaptureStats> c = ctx.store.Capture()) {
      body["segments"] = {{"dir", ctx.store.segments_dir()},
                          {"last_sequence", c->last_sequence},
                          {"last_txid", c->last_txid},
                          {"db_checksum", DbChecksumHex(c->db_checksum)},
                          {"bases", c->bases}};
    } else {
      body["segments"] = nullptr;  // refused: no capture runs
    }
    if (ctx.store.refused()) {
      // The position is unknown: the database was never opened.
      body["position"] = body["timeline"] = body["txid"] = nullptr;
      body["refusal"] = {{"code", ErrorCodeFor(ctx.store.refusal())},
                         {"finding", ctx.store.refusal().message()},
                         {"action", ctx.store.refusal_action()}};
    }
    ReplyJson(res, 200, Dump(body));
  });

  svr.Get("/metrics", [&ctx](const httplib::Request&, httplib::Response& res) {
    res.status = 200;
    res.set_content(ctx.metrics.RenderPrometheus(), "text/plain; version=0.0.4");
  });
}

}  // namespace walship::http
