// GET /healthz, /readyz, /v1/status, /metrics.
#include "base/clock.h"
#include "http/error_map.h"
#include "http/json_codec.h"
#include "http/server.h"
#include "replication/db_checksum.h"

namespace walship::http {
namespace {

nlohmann::json TimeOrNull(int64_t unix_ms) {
  return unix_ms != 0 ? nlohmann::json(FormatRfc3339Millis(unix_ms)) : nlohmann::json(nullptr);
}

// Transactions the standby has not applied; -1 before it reported any.
int64_t PrimaryLagTxids(const RouteContext& ctx, const ShipperStats& s) {
  if (!s.standby.has_database) return -1;
  return std::max<int64_t>(0, ctx.store.position().txid - s.standby.txid);
}

nlohmann::json ReplicationStatusJson(RouteContext& ctx) {
  const int64_t now = ctx.clock.NowUnixMillis();
  if (StandbyReplica* replica = ctx.store.replica()) {
    ReplicaState s = replica->State();
    Status health = replica->Health();
    const int64_t lag = s.primary_txid >= 0 && s.has_database ? std::max<int64_t>(0, s.primary_txid - s.txid) : -1;
    return {{"role", "standby"},
            {"primary", ctx.config.primary_url.empty() ? nlohmann::json(nullptr) : nlohmann::json(ctx.config.primary_url)},
            {"applied_sequence", s.has_database ? nlohmann::json(s.sequence) : nlohmann::json(nullptr)},
            {"applied_position", s.has_database ? nlohmann::json(std::to_string(s.timeline) + "/" + std::to_string(s.txid))
                                                : nlohmann::json(nullptr)},
            {"last_applied_at", TimeOrNull(s.last_applied_unix_ms)},
            {"last_applied_commit_at", TimeOrNull(s.last_commit_unix_ms)},
            {"primary_txid", s.primary_txid >= 0 ? nlohmann::json(s.primary_txid) : nlohmann::json(nullptr)},
            {"lag_txids", lag >= 0 ? nlohmann::json(lag) : nlohmann::json(nullptr)},
            // How old the newest applied transaction is while newer ones exist.
            {"lag_seconds", lag > 0 ? (now - s.last_commit_unix_ms) / 1000.0 : 0.0},
            {"cluster_id", s.cluster_hex},
            {"error", health.ok() ? nlohmann::json(nullptr) : nlohmann::json(health.ToString())}};
  }
  nlohmann::json out{{"role", "primary"}, {"mode", ctx.config.replication_mode},
                     {"standby", ctx.config.standby_url.empty() ? nlohmann::json(nullptr)
                                                                : nlohmann::json(ctx.config.standby_url)}};
  if (ctx.shipper == nullptr) return out;
  ShipperStats s = ctx.shipper->Stats();
  const int64_t lag = PrimaryLagTxids(ctx, s);
  out["connected"] = s.connected;
  out["standby_position"] = s.standby.has_database
                                ? nlohmann::json(std::to_string(s.standby.timeline) + "/" + std::to_string(s.standby.txid))
                                : nlohmann::json(nullptr);
  out["standby_applied_sequence"] = s.standby.has_database ? nlohmann::json(s.standby.sequence) : nlohmann::json(nullptr);
  out["last_shipped_sequence"] = s.last_shipped_sequence;
  out["last_shipped_at"] = TimeOrNull(s.last_shipped_unix_ms);
  out["lag_txids"] = lag >= 0 ? nlohmann::json(lag) : nlohmann::json(nullptr);
  out["lag_seconds"] = s.behind_since_unix_ms != 0 ? (now - s.behind_since_unix_ms) / 1000.0 : 0.0;
  out["segments_shipped"] = s.segments_shipped;
  out["bytes_shipped"] = s.bytes_shipped;
  out["retries"] = s.retries;
  out["errors"] = s.errors;
  out["last_error"] = s.last_error.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.last_error);
  return out;
}

void AddReplicationGauges(RouteContext& ctx) {
  Store& store = ctx.store;
  if (store.replica() != nullptr) {
    StandbyReplica* replica = store.replica();
    ctx.metrics.AddGaugeFunction("walship_standby_applied_txid", "The last transaction the standby applied",
                                 [replica] { return static_cast<double>(replica->State().txid); });
    ctx.metrics.AddGaugeFunction("walship_standby_lag_txids",
                                 "Transactions the primary reported that the standby has not applied", [replica] {
                                   ReplicaState s = replica->State();
                                   return s.primary_txid < 0 ? 0.0 : static_cast<double>(std::max<int64_t>(0, s.primary_txid - s.txid));
                                 });
    return;
  }
  if (ctx.shipper == nullptr) return;
  const SegmentShipper* shipper = ctx.shipper;
  Clock& clock = ctx.clock;
  ctx.metrics.AddGaugeFunction("walship_replication_lag_txids", "Transactions the standby has not applied yet",
                               [&store, shipper] {
                                 ShipperStats s = shipper->Stats();
                                 if (!s.standby.has_database) return static_cast<double>(store.position().txid + 1);
                                 return static_cast<double>(std::max<int64_t>(0, store.position().txid - s.standby.txid));
                               });
  ctx.metrics.AddGaugeFunction("walship_replication_lag_seconds",
                               "Seconds since the standby last had every sealed segment (0: it has)",
                               [shipper, &clock] {
                                 ShipperStats s = shipper->Stats();
                                 return s.behind_since_unix_ms == 0 ? 0.0 : (clock.NowUnixMillis() - s.behind_since_unix_ms) / 1000.0;
                               });
  ctx.metrics.AddGaugeFunction("walship_replication_standby_connected", "1 when the last exchange with the standby worked",
                               [shipper] { return shipper->Stats().connected ? 1.0 : 0.0; });
}

}  // namespace

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

  AddReplicationGauges(ctx);

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
        {"role", ctx.store.replica() != nullptr ? "standby" : "primary"},
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
    body["state"] = ctx.store.in_maintenance() ? "maintenance" : ctx.store.refused() ? "refused" : "serving";
    body["restore"] = RestoreStatusJson(ctx.store.RestoreProgress());
    if (std::optional<CaptureStats> c = ctx.store.Capture()) {
      body["segments"] = {{"dir", ctx.store.segments_dir()},
                          {"last_sequence", c->last_sequence},
                          {"last_txid", c->last_txid},
                          {"db_checksum", DbChecksumHex(c->db_checksum)},
                          {"bases", c->bases}};
    } else {
      body["segments"] = nullptr;  // refused: no capture runs
    }
    body["replication"] = ReplicationStatusJson(ctx);
    body["backups"] = BackupsStatusJson(ctx.backups, ctx.clock.NowUnixMillis());
    if (std::optional<CorruptionFinding> f = ctx.store.CorruptionFound()) {
      body["corruption"] = {{"found_at", FormatRfc3339Millis(f->found_unix_ms)},
                            {"source", f->source},
                            {"message", f->message},
                            {"recommended", f->recommended}};
    } else {
      body["corruption"] = nullptr;
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
