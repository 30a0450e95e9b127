// GET/PUT/DELETE /v1/archives/{key}, GET /v1/archives (listing), GET /v1/search.
#include "base/log.h"
#include "http/error_map.h"
#include "http/json_codec.h"
#include "http/server.h"
#include "node/keys.h"

namespace walship::http {
namespace {

using nlohmann::json;

void ReplyWritten(httplib::Response& res, const WriteOutcome& out, int http_status) {
  const std::string position = out.position.ToString();
  res.set_header("X-Walship-Position", position);
  const OpResult& r = out.results.front();
  if (r.kind == WriteOp::Kind::kPut) {
    // Every PUT answers here: the record's text plus its position. Parsing
    // that text into a JSON value to add the position and dumping it again
    // was 13% of the HTTP threads' samples under PUTs (perf, 32 clients).
    res.set_header("ETag", ETagFor(r.record));
    // A position is "<timeline>/<txid>", digits only: nothing to escape.
    const std::string position_member = ",\"position\":\"" + position + "\"";
    return ReplyJson(res, http_status, RecordJsonText(r.record, /*with_content=*/false, position_member));
  }
  ReplyJson(res, http_status,
            Dump(json{{"key", r.record.key},
                      {"deleted", true},
                      {"deleted_version", r.record.version},
                      {"position", position}}));
}

void PutArchive(RouteContext& ctx, const httplib::Request& req, httplib::Response& res,
                const httplib::ContentReader& reader) {
  // Read the body first: a refusal that left it unread on a keep-alive
  // connection would have it parsed as the next request.
  RequestBody body(ctx.body_budget);
  if (Status s = ReadBodyLimited(reader, ctx, &body); !s.ok()) return ReplyBodyError(res, s);
  const std::string key = req.matches[1];
  if (Status s = ValidateKey(key, static_cast<size_t>(ctx.config.max_key_bytes)); !s.ok()) return ReplyError(res, s);
  auto if_match = ParseIfMatch(req.get_header_value("If-Match"));
  if (!if_match.ok()) return ReplyError(res, if_match.status());
  auto if_none = ParseIfNoneMatch(req.get_header_value("If-None-Match"));
  if (!if_none.ok()) return ReplyError(res, if_none.status());
  if (*if_match && *if_none) {
    return ReplyError(res, Status::InvalidArgument("If-Match and If-None-Match cannot both be given"));
  }
  auto op = ParsePutBody(key, req.get_header_value("Content-Type"), body.text, ctx.config);
  if (!op.ok()) return ReplyError(res, op.status());
  if (*if_match) {
    op->if_match = (*if_match)->version;
    op->if_match_tag = (*if_match)->tag;
  }
  op->if_none_match_any = *if_none;
  std::vector<WriteOp> ops;
  ops.push_back(std::move(op).value());
  WriteOutcome out = ctx.store.Write(std::move(ops));
  if (!out.status.ok()) return ReplyError(res, out.status);
  ReplyWritten(res, out, out.results.front().created ? 201 : 200);
}

void GetArchive(RouteContext& ctx, const httplib::Request& req, httplib::Response& res) {
  const std::string key = req.matches[1];
  if (Status s = ValidateKey(key, static_cast<size_t>(ctx.config.max_key_bytes)); !s.ok()) return ReplyError(res, s);
  if (Status s = AwaitMinPosition(ctx, req); !s.ok()) return ReplyError(res, s);
  auto rec = ctx.store.Get(key);
  if (!rec.ok()) return ReplyError(res, rec.status());
  const std::string etag = ETagFor(*rec);
  res.set_header("ETag", etag);
  if (req.get_header_value("If-None-Match") == etag) {
    res.status = 304;
    return;
  }
  ReplyJson(res, 200, RecordJsonText(*rec, /*with_content=*/true));
}

void DeleteArchive(RouteContext& ctx, const httplib::Request& req, httplib::Response& res) {
  const std::string key = req.matches[1];
  if (Status s = ValidateKey(key, static_cast<size_t>(ctx.config.max_key_bytes)); !s.ok()) return ReplyError(res, s);
  auto if_match = ParseIfMatch(req.get_header_value("If-Match"));
  if (!if_match.ok()) return ReplyError(res, if_match.status());
  WriteOp op;
  op.kind = WriteOp::Kind::kDelete;
  op.key = key;
  if (*if_match) {
    op.if_match = (*if_match)->version;
    op.if_match_tag = (*if_match)->tag;
  }
  WriteOutcome out = ctx.store.Write({op});
  if (!out.status.ok()) return ReplyError(res, out.status);
  ReplyWritten(res, out, 200);
}

void ListArchives(RouteContext& ctx, const httplib::Request& req, httplib::Response& res) {
  const Config& c = ctx.config;
  std::string prefix = req.get_param_value("prefix");
  if (static_cast<int64_t>(prefix.size()) > c.max_key_bytes || !IsValidUtf8(prefix)) {
    return ReplyError(res, Status::InvalidArgument("prefix must be valid UTF-8 of at most " +
                                                   std::to_string(c.max_key_bytes) + " bytes"));
  }
  int64_t limit = c.default_list_limit;
  if (req.has_param("limit")) {
    auto l = ParseLimit(req.get_param_value("limit"), "limit", 1, c.max_list_limit);
    if (!l.ok()) return ReplyError(res, l.status());
    limit = *l;
  }
  std::optional<std::string> after;
  if (req.has_param("cursor") && !req.get_param_value("cursor").empty()) {
    auto k = DecodeCursor(req.get_param_value("cursor"));
    if (!k.ok()) return ReplyError(res, k.status());
    after = std::move(k).value();
  }
  if (Status s = AwaitMinPosition(ctx, req); !s.ok()) return ReplyError(res, s);
  auto page = ctx.store.List(prefix, after, limit);
  if (!page.ok()) return ReplyError(res, page.status());
  std::string body = "{\"items\":[";
  for (size_t i = 0; i < page->items.size(); ++i) {
    if (i > 0) body += ',';
    body += RecordJsonText(page->items[i], /*with_content=*/false);
  }
  body += "],\"next_cursor\":";
  body += page->last_key_if_more ? Dump(json(EncodeCursor(*page->last_key_if_more))) : "null";
  body += '}';
  ReplyJson(res, 200, body);
}

void Search(RouteContext& ctx, const httplib::Request& req, httplib::Response& res) {
  const Config& c = ctx.config;
  std::string q = req.get_param_value("q");
  if (q.empty()) return ReplyError(res, Status::InvalidArgument("query parameter q is required"));
  if (!IsValidUtf8(q)) return ReplyError(res, Status::InvalidArgument("q must be valid UTF-8"));
  int64_t limit = c.default_search_limit;
  if (req.has_param("limit")) {
    auto l = ParseLimit(req.get_param_value("limit"), "limit", 1, c.max_search_limit);
    if (!l.ok()) return ReplyError(res, l.status());
    limit = *l;
  }
  if (Status s = AwaitMinPosition(ctx, req); !s.ok()) return ReplyError(res, s);
  auto hits = ctx.store.Search(q, limit);
  if (!hits.ok()) return ReplyError(res, hits.status());
  json arr = json::array();
  for (const auto& h : *hits) arr.push_back(SearchHitJson(h));
  ReplyJson(res, 200, Dump(json{{"query", q}, {"hits", std::move(arr)}}));
}

}  // namespace

void RegisterArchiveRoutes(httplib::Server& svr, RouteContext& ctx) {
  svr.Put("/v1/archives/([\\s\\S]+)", [&ctx](const httplib::Request& req, httplib::Response& res,
                                      const httplib::ContentReader& reader) { PutArchive(ctx, req, res, reader); });
  svr.Get("/v1/archives/([\\s\\S]+)", [&ctx](const auto& req, auto& res) { GetArchive(ctx, req, res); });
  svr.Delete("/v1/archives/([\\s\\S]+)", [&ctx](const auto& req, auto& res) { DeleteArchive(ctx, req, res); });
  svr.Get("/v1/archives", [&ctx](const auto& req, auto& res) { ListArchives(ctx, req, res); });
  svr.Get("/v1/search", [&ctx](const auto& req, auto& res) { Search(ctx, req, res); });
}

}  // namespace walship::http
