// http/server.cpp: which limit a request body is held to, and how a refusal
// names it (a primary logs its standby's answer; the fix is a setting there).
#include <gtest/gtest.h>

#include "http/server.h"
#include "node/config.h"

namespace walship::http {
namespace {

TEST(BodyLimitTest, EachRouteNamesTheSettingItsLimitComesFrom) {
  Config config;
  config.max_body_bytes = 4096;
  config.replication_max_segment_bytes = 1 << 20;
  config.replication_max_base_bytes = 1 << 30;
  struct Case {
    const char* path;
    int64_t bytes;
    const char* setting;
  };
  for (const Case& c : {Case{"/v1/archives/k", 4096, "limits.max_body_bytes"},
                        Case{"/v1/batch", 4096, "limits.max_body_bytes"},
                        Case{"/v1/replication/segments/7", 1 << 20, "replication.max_segment_bytes"},
                        Case{"/v1/replication/bases/7", 1 << 30, "replication.max_base_bytes"}}) {
    const BodyLimit limit = BodyLimitFor(config, c.path);
    EXPECT_EQ(limit.bytes, c.bytes) << c.path;
    EXPECT_EQ(limit.setting, c.setting) << c.path;
  }
  httplib::Request req;
  req.set_header("Content-Length", "1163507");
  EXPECT_EQ(BodyOverLimitMessage(req, BodyLimitFor(config, "/v1/replication/segments/38")),
            "request body is 1163507 bytes, over the limit of 1048576 (replication.max_segment_bytes)");
}

}  // namespace
}  // namespace walship::http
