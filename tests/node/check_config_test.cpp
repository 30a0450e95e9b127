// The [check] section: the quick_check and scrub schedules (node/scrub_scheduler.h).
#include <gtest/gtest.h>

#include "node/config.h"

namespace walship {
namespace {

TEST(CheckConfigTest, DefaultsCheckHourly) {
  Config c;
  EXPECT_EQ(c.check_quick_check_interval_s, 3600);
  EXPECT_EQ(c.check_scrub_interval_s, 3600);
  EXPECT_EQ(c.check_scrub_pages_per_second, 2000);
}

TEST(CheckConfigTest, KeysAreReadAndZeroTurnsACheckOff) {
  auto c = ParseConfig("[check]\nquick_check_interval_s = 0\nscrub_interval_s = 60\nscrub_pages_per_second = 1\n",
                       "config t.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->check_quick_check_interval_s, 0);
  EXPECT_EQ(c->check_scrub_interval_s, 60);
  EXPECT_EQ(c->check_scrub_pages_per_second, 1);
}

TEST(CheckConfigTest, BadValuesNameTheKeyAndTheRange) {
  auto negative = ParseConfig("[check]\nscrub_interval_s = -1\n", "config t.toml");
  ASSERT_FALSE(negative.ok());
  EXPECT_EQ(negative.status().message(),
            "config t.toml: check.scrub_interval_s: must be between 0 and 31622400, got -1");
  auto zero_rate = ParseConfig("[check]\nscrub_pages_per_second = 0\n", "config t.toml");
  ASSERT_FALSE(zero_rate.ok());
  EXPECT_EQ(zero_rate.status().message(),
            "config t.toml: check.scrub_pages_per_second: must be between 1 and 1000000, got 0");
  auto text = ParseConfig("[check]\nquick_check_interval_s = \"hourly\"\n", "config t.toml");
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.status().message(), "config t.toml: check.quick_check_interval_s: expected an integer");
  auto unknown = ParseConfig("[check]\nscrub_rate = 5\n", "config t.toml");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().message(), "config t.toml: unknown key check.scrub_rate");
}

}  // namespace
}  // namespace walship
