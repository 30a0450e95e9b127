#include "http/error_map.h"

#include <memory>
#include <nlohmann/json.hpp>

namespace walship::http {

int HttpStatusFor(const Status& status) {
  // Refused at start-up (a damaged WAL with committed transactions behind
  // the damage): the bytes are kept for an operator; until then, try later.
  if (status.reason() == "wal_corrupt") return 503;
  // A standby whose replica no longer matches the primary: it applies
  // nothing more until resynced; readers and the shipper should go elsewhere.
  if (status.reason() == "replica_diverged") return 503;
  // A pushed segment whose bytes do not decode: the request was bad, not the node.
  if (status.reason() == "segment_corrupt") return 422;
  // Synchronous replication: committed here, not confirmed by the standby in time.
  if (status.reason() == "replication_timeout") return 504;
  switch (status.code()) {
    case Code::kOk: return 200;
    case Code::kInvalidArgument: return 400;
    case Code::kNotFound: return 404;
    case Code::kPreconditionFailed: return 412;
    case Code::kConflict: return 409;
    case Code::kTooLarge: return 413;
    case Code::kUnsupported: return 415;
    case Code::kUnavailable: return 503;
    case Code::kDeadlineExceeded: return 408;
    case Code::kIOError:
    case Code::kCorruption:
    case Code::kInternal: return 500;
  }
  return 500;
}

std::string_view ErrorCodeFor(const Status& status) {
  if (!status.reason().empty()) return status.reason();
  return CodeName(status.code());
}

std::string ErrorBody(std::string_view code, std::string_view message) {
  nlohmann::json body = {{"error", {{"code", code}, {"message", message}}}};
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void ReplyJson(httplib::Response& res, int http_status, const std::string& body) {
  res.status = http_status;
  res.set_content(body, "application/json");
}

void ReplyError(httplib::Response& res, int http_status, std::string_view code, std::string_view message) {
  ReplyJson(res, http_status, ErrorBody(code, message));
}

void ReplyErrorAndClose(httplib::Response& res, int http_status, std::string_view code,
                        std::string_view message) {
  auto body = std::make_shared<std::string>(ErrorBody(code, message));
  res.status = http_status;
  res.set_header("Connection", "close");
  res.set_content_provider(body->size(), "application/json",
                           [body](size_t offset, size_t length, httplib::DataSink& sink) {
                             sink.write(body->data() + offset, length);
                             return false;  // written; now end the connection
                           });
}

namespace {

// An online restore is short-lived: clients may retry after this long.
constexpr const char* kMaintenanceRetryAfterSeconds = "2";

void SetRetryAfter(httplib::Response& res, const Status& status) {
  if (status.reason() == "maintenance") res.set_header("Retry-After", kMaintenanceRetryAfterSeconds);
}

}  // namespace

void ReplyErrorAndClose(httplib::Response& res, const Status& status) {
  SetRetryAfter(res, status);
  ReplyErrorAndClose(res, HttpStatusFor(status), ErrorCodeFor(status), status.message());
}

void ReplyError(httplib::Response& res, const Status& status) {
  SetRetryAfter(res, status);
  ReplyError(res, HttpStatusFor(status), ErrorCodeFor(status), status.message());
}

}  // namespace walship::http
