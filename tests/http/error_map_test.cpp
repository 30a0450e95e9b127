#include "http/error_map.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace walship::http {
namespace {

using nlohmann::json;

TEST(HttpStatusForTest, EveryCodeMaps) {
  struct Case {
    Code code;
    int http;
    const char* name;
  };
  const Case cases[] = {
      {Code::kOk, 200, "ok"},
      {Code::kInvalidArgument, 400, "invalid_argument"},
      {Code::kNotFound, 404, "not_found"},
      {Code::kPreconditionFailed, 412, "precondition_failed"},
      {Code::kConflict, 409, "conflict"},
      {Code::kTooLarge, 413, "too_large"},
      {Code::kUnsupported, 415, "unsupported"},
      {Code::kUnavailable, 503, "unavailable"},
      {Code::kIOError, 500, "io_error"},
      {Code::kCorruption, 500, "corruption"},
      {Code::kInternal, 500, "internal"},
  };
  for (const auto& c : cases) {
    Status s = c.code == Code::kOk ? Status::Ok() : Status(c.code, "m");
    EXPECT_EQ(HttpStatusFor(s), c.http) << c.name;
    EXPECT_EQ(ErrorCodeFor(s), c.name);
  }
}

TEST(ErrorCodeForTest, ReasonOverridesTheCodeName) {
  Status stopped = Status::Unavailable("writes are stopped: io_error: x").WithReason("writes_stopped");
  EXPECT_EQ(ErrorCodeFor(stopped), "writes_stopped");
  EXPECT_EQ(HttpStatusFor(stopped), 503);  // the reason does not change the status
  Status wrapped = stopped.Wrap("put archive a");
  EXPECT_EQ(ErrorCodeFor(wrapped), "writes_stopped");
}

TEST(ErrorBodyTest, IsTheDocumentedShape) {
  std::string body = ErrorBody("not_found", "archive a does not exist");
  EXPECT_EQ(body, R"({"error":{"code":"not_found","message":"archive a does not exist"}})");
}

TEST(ErrorBodyTest, EscapesAndSurvivesInvalidUtf8) {
  std::string body = ErrorBody("invalid_argument", std::string("key \"a\\b\"\n\xff"));
  json j = json::parse(body);
  EXPECT_EQ(j["error"]["code"], "invalid_argument");
  EXPECT_EQ(j["error"]["message"], "key \"a\\b\"\n\xEF\xBF\xBD");
}

TEST(ReplyErrorTest, FromAStatus) {
  httplib::Response res;
  ReplyError(res, Status::PreconditionFailed("archive k is at version 2, If-Match expected version 1"));
  EXPECT_EQ(res.status, 412);
  EXPECT_EQ(res.get_header_value("Content-Type"), "application/json");
  EXPECT_EQ(res.body,
            R"({"error":{"code":"precondition_failed","message":"archive k is at version 2, If-Match expected version 1"}})");
}

TEST(ReplyErrorTest, ReasonBecomesTheCode) {
  httplib::Response res;
  ReplyError(res, Status::Unavailable("the store is closed").WithReason("shutting_down"));
  EXPECT_EQ(res.status, 503);
  EXPECT_EQ(res.body, R"({"error":{"code":"shutting_down","message":"the store is closed"}})");
}

TEST(ReplyErrorTest, RefusedWalIsUnavailableNotAServerError) {
  httplib::Response res;
  ReplyError(res, Status::Corruption("/d/index.db-wal: wal frame 7 at byte 6968: ...").WithReason("wal_corrupt"));
  EXPECT_EQ(res.status, 503);
  EXPECT_EQ(res.body, R"({"error":{"code":"wal_corrupt","message":"/d/index.db-wal: wal frame 7 at byte 6968: ..."}})");
  EXPECT_EQ(HttpStatusFor(Status::Corruption("page 3: bad")), 500);
}

TEST(ReplyErrorTest, ExplicitStatusAndCode) {
  httplib::Response res;
  ReplyError(res, 405, "method_not_allowed", "use GET");
  EXPECT_EQ(res.status, 405);
  EXPECT_EQ(res.body, R"({"error":{"code":"method_not_allowed","message":"use GET"}})");
}

}  // namespace
}  // namespace walship::http
