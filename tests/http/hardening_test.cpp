// Inputs that once could crash the node or grow it without bound.
#include <gtest/gtest.h>

#include "http/json_codec.h"
#include "http/server.h"
#include "node/config.h"

namespace walship::http {
namespace {

TEST(HardeningTest, DeeplyNestedJsonIsRefusedBeforeParsing) {
  // 100,000 levels overflowed the stack in nlohmann's recursive serializer.
  const std::string deep = R"({"content":"x","metadata":{"a":)" + std::string(100000, '[') +
                           std::string(100000, ']') + "}}";
  Config config;
  config.max_body_bytes = 1 << 20;
  config.max_metadata_bytes = 1 << 20;
  auto put = ParsePutBody("k", "application/json", deep, config);
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(put.status().message(), "body is nested deeper than 64 levels");
  auto batch = ParseBatchBody("application/json", R"({"ops":)" + std::string(70, '[') + std::string(70, ']') + "}",
                              config);
  ASSERT_FALSE(batch.ok());
  EXPECT_EQ(batch.status().message(), "body is nested deeper than 64 levels");
}

TEST(HardeningTest, BracketsInsideStringsDoNotCountAsNesting) {
  Config config;
  const std::string body = R"({"content":")" + std::string(1000, '[') + R"(\"{{{","metadata":{"a":[[1]]}})";
  auto put = ParsePutBody("k", "application/json", body, config);
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_EQ(put->content, std::string(1000, '[') + "\"{{{");
}

TEST(HardeningTest, MethodLabelsAreABoundedSet) {
  EXPECT_EQ(MethodLabel("GET"), "GET");
  EXPECT_EQ(MethodLabel("DELETE"), "DELETE");
  EXPECT_EQ(MethodLabel("XMETHOD" + std::string(3000, 'A')), "other");
  EXPECT_EQ(MethodLabel("GE\xff\"T"), "other");
  EXPECT_EQ(MethodLabel("get"), "other");
}

TEST(HardeningTest, ZeroDrainTimeoutIsRefused) {
  auto c = ParseConfig("[server]\ndrain_timeout_ms = 0\n", "config t.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), "config t.toml: server.drain_timeout_ms: must be between 1 and 86400000, got 0");
}

}  // namespace
}  // namespace walship::http
