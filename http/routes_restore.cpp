// POST /v1/admin/restore: the online restore (Store::StartRestore), and the
// "restore" object of /v1/status.
#include <cstdlib>

#include "backup/restore_plan.h"
#include "http/error_map.h"
#include "http/json_codec.h"
#include "http/node_client.h"
#include "http/server.h"

namespace walship::http {
namespace {

// The body is small: four strings.
constexpr int64_t kMaxRestoreBodyBytes = 64 * 1024;

// {"to": "latest"} | {"to_time": RFC 3339} | {"to_position": "TIMELINE/TXID"},
// and "fetch_from": "http://HOST:PORT"; an empty body restores to latest.
Result<OnlineRestoreRequest> ParseRestoreRequest(const std::string& content_type, const std::string& body) {
  std::string to, to_time, to_position, fetch_from;
  if (!body.empty()) {
    auto j = ParseJsonObjectBody(content_type, body, {"to", "to_time", "to_position", "fetch_from"});
    if (!j.ok()) return j.status();
    for (const auto& [name, value] : j->items()) {
      if (!value.is_string()) return Status::InvalidArgument("\"" + name + "\" must be a string");
    }
    to = j->value("to", "");
    to_time = j->value("to_time", "");
    to_position = j->value("to_position", "");
    fetch_from = j->value("fetch_from", "");
  }
  auto target = ParseRestoreTarget(to, to_time, to_position, RestoreTargetNames{"to", "to_time", "to_position"});
  if (!target.ok()) return target.status();
  OnlineRestoreRequest request;
  request.target = *target;
  if (!fetch_from.empty()) {
    auto url = ParseNodeUrl(fetch_from, "fetch_from");
    if (!url.ok()) return url.status();
    // Used on the restore's thread only, for as long as the function lives.
    auto fetcher = std::make_shared<SegmentFetcher>(*url);
    request.fetch = [fetcher](uint64_t sequence) { return fetcher->Fetch(sequence); };
    request.fetch_source = url->base;
  }
  // Tests only: a restore slow enough to watch (and to be in maintenance).
  if (const char* delay = std::getenv("WALSHIP_FAILPOINT_RESTORE_STEP_SLEEP_MS")) {
    request.step_delay_ms = std::atoi(delay);
  }
  return request;
}

}  // namespace

nlohmann::json RestoreStatusJson(const std::optional<OnlineRestoreProgress>& restore) {
  if (!restore) return nullptr;
  const OnlineRestoreProgress& p = *restore;
  auto text_or_null = [](const std::string& s) { return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s); };
  nlohmann::json out{{"id", p.id},
                     {"state", p.state},
                     {"target", p.target},
                     {"started_at", FormatRfc3339Millis(p.started_unix_ms)},
                     {"finished_at", p.finished_unix_ms != 0 ? nlohmann::json(FormatRfc3339Millis(p.finished_unix_ms))
                                                             : nlohmann::json(nullptr)},
                     {"step", p.step},
                     {"error", text_or_null(p.error)}};
  if (p.state == "restored") {
    out["position"] = p.position;
    out["new_timeline"] = p.new_timeline;
    out["segments_applied"] = p.segments_applied;
    out["segments_fetched"] = p.segments_fetched;
    out["wal_transactions"] = p.wal_commits;
    out["quarantine"] = text_or_null(p.quarantine_dir);
    out["not_restored"] = text_or_null(p.not_restored);
  }
  return out;
}

void RegisterRestoreRoutes(httplib::Server& svr, RouteContext& ctx) {
  svr.Post("/v1/admin/restore", [&ctx](const httplib::Request& req, httplib::Response& res,
                                       const httplib::ContentReader& reader) {
    RequestBody body(ctx.body_budget);
    // `curl -X POST URL` sends no body at all (no Content-Length): latest.
    const bool has_body = req.has_header("Content-Length") || req.has_header("Transfer-Encoding");
    if (Status s = has_body ? ReadBodyLimited(reader, ctx, &body, kMaxRestoreBodyBytes) : Status::Ok(); !s.ok()) {
      return ReplyBodyError(res, s.Wrap("restore"));
    }
    auto request = ParseRestoreRequest(req.get_header_value("Content-Type"), body.text);
    if (!request.ok()) return ReplyError(res, request.status().Wrap("restore"));
    // A backup reads the live database through its own connection: it
    // finishes (or is cancelled) before the file is replaced under it.
    if (ctx.backups != nullptr) {
      if (std::optional<BackupRecord> running = ctx.backups->Summary().running) {
        return ReplyError(res, Status::Conflict("restore: backup " + running->id +
                                                " is running; try again when it ends (GET /v1/admin/backups/" +
                                                running->id + ")")
                                   .WithReason("backup_running"));
      }
    }
    auto started = ctx.store.StartRestore(std::move(request).value());
    if (!started.ok()) return ReplyError(res, started.status().Wrap("restore"));
    res.set_header("Location", "/v1/status");
    ReplyJson(res, 202, Dump(nlohmann::json{{"restore", RestoreStatusJson(*started)}}));
  });
}

}  // namespace walship::http
