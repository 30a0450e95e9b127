// /v1/admin/backups: backups on request, and what the node has.
//   POST /v1/admin/backups       starts one (or joins the running one): 202
//   GET  /v1/admin/backups       every backup, newest first, with state and age
//   GET  /v1/admin/backups/{id}  one, with its progress while it runs
#include "http/error_map.h"
#include "http/json_codec.h"
#include "http/server.h"
#include "node/backup_manager.h"

namespace walship::http {

nlohmann::json BackupRecordJson(const BackupRecord& v, int64_t now_unix_ms) {
  nlohmann::json j{{"id", v.id}, {"state", v.state}};
  if (!v.position.empty()) j["position"] = v.position;
  if (!v.source.empty()) j["source"] = v.source;
  if (!v.trigger.empty()) j["trigger"] = v.trigger;
  if (v.started_unix_ms > 0) {
    j["started_at"] = FormatRfc3339Millis(v.started_unix_ms);
    j["age_seconds"] = static_cast<double>(now_unix_ms - v.started_unix_ms) / 1000.0;
  }
  if (v.finished_unix_ms > 0) j["finished_at"] = FormatRfc3339Millis(v.finished_unix_ms);
  if (!v.error.empty()) j["error"] = v.error;
  if (v.state == "running" || v.state == "verifying") {
    const double seconds = std::max(0.001, static_cast<double>(now_unix_ms - v.started_unix_ms) / 1000.0);
    const double percent = v.page_count ? 100.0 * static_cast<double>(v.pages_copied) / static_cast<double>(v.page_count) : 0.0;
    j["phase"] = v.phase;
    j["progress"] = {{"pages_copied", v.pages_copied},
                     {"page_count", v.page_count},
                     {"percent", percent},
                     {"pages_per_second", static_cast<double>(v.pages_copied) / seconds},
                     {"bytes_per_second", static_cast<double>(v.pages_copied) * v.page_size / seconds},
                     {"bytes_done", v.bytes_done}};
  } else if (v.bytes_uncompressed > 0) {
    j["bytes_uncompressed"] = v.bytes_uncompressed;
    j["bytes_compressed"] = v.bytes_compressed;
    j["page_count"] = v.page_count;
  }
  return j;
}

nlohmann::json BackupsStatusJson(const BackupManager* backups, int64_t now_unix_ms) {
  if (backups == nullptr) return nullptr;
  const BackupsStatus s = backups->Summary();
  nlohmann::json j{{"dir", s.dir}, {"schedule", s.schedule.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.schedule)}};
  j["next_run_at"] = s.next_run_unix_ms ? nlohmann::json(FormatRfc3339Millis(s.next_run_unix_ms)) : nlohmann::json(nullptr);
  j["running"] = s.running ? BackupRecordJson(*s.running, now_unix_ms) : nlohmann::json(nullptr);
  j["last_verified"] = s.last_verified ? BackupRecordJson(*s.last_verified, now_unix_ms) : nlohmann::json(nullptr);
  // A failure newer than the last verified backup: the alert.
  j["last_failure"] = s.last_failure ? BackupRecordJson(*s.last_failure, now_unix_ms) : nlohmann::json(nullptr);
  return j;
}

namespace {

BackupManager* BackupsOrReply(RouteContext& ctx, httplib::Response& res) {
  if (ctx.backups == nullptr) {
    ReplyError(res, Status::Unavailable("backups are not available on this node").WithReason("backup_unavailable"));
  }
  return ctx.backups;
}

}  // namespace

void RegisterBackupRoutes(httplib::Server& svr, RouteContext& ctx) {
  svr.Post("/v1/admin/backups", [&ctx](const httplib::Request&, httplib::Response& res) {
    BackupManager* backups = BackupsOrReply(ctx, res);
    if (backups == nullptr) return;
    bool joined = false;
    auto view = backups->Request("request", &joined);
    if (!view.ok()) return ReplyError(res, view.status());
    ReplyJson(res, 202, Dump(nlohmann::json{{"backup", BackupRecordJson(*view, ctx.clock.NowUnixMillis())},
                                            {"already_running", joined}}));
  });
  svr.Get("/v1/admin/backups", [&ctx](const httplib::Request&, httplib::Response& res) {
    BackupManager* backups = BackupsOrReply(ctx, res);
    if (backups == nullptr) return;
    auto all = backups->List();
    if (!all.ok()) return ReplyError(res, all.status());
    nlohmann::json list = nlohmann::json::array();
    const int64_t now = ctx.clock.NowUnixMillis();
    for (const auto& v : *all) list.push_back(BackupRecordJson(v, now));
    ReplyJson(res, 200, Dump(nlohmann::json{{"backups", list}}));
  });
  svr.Get("/v1/admin/backups/([0-9A-Za-z-]+)", [&ctx](const httplib::Request& req, httplib::Response& res) {
    BackupManager* backups = BackupsOrReply(ctx, res);
    if (backups == nullptr) return;
    auto view = backups->Get(req.matches[1]);
    if (!view.ok()) return ReplyError(res, view.status());
    ReplyJson(res, 200, Dump(nlohmann::json{{"backup", BackupRecordJson(*view, ctx.clock.NowUnixMillis())}}));
  });
}

}  // namespace walship::http
