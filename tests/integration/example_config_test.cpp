// The example config in ops/ is the documentation of every key: it must load
// as shipped, and the flags must override it.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/support/node_process.h"
#include "tests/support/temp_dir.h"

namespace walship::testing {
namespace {

TEST(ExampleConfigTest, ShippedExampleStartsAndFlagsOverrideIt) {
  TempDir dir;
  std::string error;
  // The example says listen 127.0.0.1:7070 and data_dir "data"; the harness
  // passes --listen 127.0.0.1:0 and --data, which must win.
  auto node = NodeProcess::Start(
      {.data_dir = dir.Sub("data"), .extra_args = {"--config", WALSHIP_SOURCE_DIR "/ops/walship.example.toml"}},
      &error);
  ASSERT_NE(node, nullptr) << error;
  EXPECT_NE(node->port(), 7070);
  auto status = node->Client()->Get("/v1/status");
  ASSERT_TRUE(status);
  EXPECT_EQ(nlohmann::json::parse(status->body)["database"], dir.Sub("data") + "/index.db");
  EXPECT_EQ(node->SignalAndWait(SIGTERM), 0);
}

}  // namespace
}  // namespace walship::testing
