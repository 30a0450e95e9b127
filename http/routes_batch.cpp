// POST /v1/batch: several puts and deletes in one atomic transaction.
#include "http/error_map.h"
#include "http/json_codec.h"
#include "http/server.h"

namespace walship::http {

void RegisterBatchRoute(httplib::Server& svr, RouteContext& ctx) {
  svr.Post("/v1/batch", [&ctx](const httplib::Request& req, httplib::Response& res,
                               const httplib::ContentReader& reader) {
    RequestBody body(ctx.body_budget);
    if (Status s = ReadBodyLimited(reader, ctx, &body); !s.ok()) return ReplyBodyError(res, s.Wrap("batch"));
    auto ops = ParseBatchBody(req.get_header_value("Content-Type"), body.text, ctx.config);
    if (!ops.ok()) return ReplyError(res, ops.status().Wrap("batch"));
    // One request = one savepoint: if any op fails, none is applied.
    WriteOutcome out = ctx.store.Write(std::move(ops).value());
    if (!out.status.ok()) return ReplyError(res, out.status.Wrap("batch"));
    nlohmann::json results = nlohmann::json::array();
    for (const auto& r : out.results) results.push_back(OpResultJson(r));
    res.set_header("X-Walship-Position", out.position.ToString());
    ReplyJson(res, 200, Dump(nlohmann::json{{"position", out.position.ToString()}, {"results", std::move(results)}}));
  });
}

}  // namespace walship::http
