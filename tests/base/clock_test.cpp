#include "base/clock.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>

namespace walship {
namespace {

TEST(FormatRfc3339MillisTest, Epoch) { EXPECT_EQ(FormatRfc3339Millis(0), "1970-01-01T00:00:00.000Z"); }

TEST(FormatRfc3339MillisTest, KeepsMillisecondsWithLeadingZeros) {
  EXPECT_EQ(FormatRfc3339Millis(1'700'000'000'000), "2023-11-14T22:13:20.000Z");
  EXPECT_EQ(FormatRfc3339Millis(1'700'000'000'123), "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(FormatRfc3339Millis(1'700'000'000'007), "2023-11-14T22:13:20.007Z");
  EXPECT_EQ(FormatRfc3339Millis(1'700'000'000'999), "2023-11-14T22:13:20.999Z");
}

TEST(FormatRfc3339MillisTest, LeapDays) {
  EXPECT_EQ(FormatRfc3339Millis(951'782'400'000), "2000-02-29T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339Millis(1'709'251'199'999), "2024-02-29T23:59:59.999Z");
  EXPECT_EQ(FormatRfc3339Millis(1'709'251'200'000), "2024-03-01T00:00:00.000Z");
}

TEST(FormatRfc3339MillisTest, NegativeMillisRoundTowardsThePast) {
  // -1 ms is the last millisecond of 1969, not "1970-01-01T00:00:00.-01Z".
  EXPECT_EQ(FormatRfc3339Millis(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(FormatRfc3339Millis(-999), "1969-12-31T23:59:59.001Z");
  EXPECT_EQ(FormatRfc3339Millis(-1000), "1969-12-31T23:59:59.000Z");
  EXPECT_EQ(FormatRfc3339Millis(-1001), "1969-12-31T23:59:58.999Z");
  EXPECT_EQ(FormatRfc3339Millis(-86'400'000), "1969-12-31T00:00:00.000Z");
}

TEST(FormatRfc3339MillisTest, FourDigitYearRange) {
  EXPECT_EQ(FormatRfc3339Millis(253'402'300'799'999), "9999-12-31T23:59:59.999Z");
  EXPECT_EQ(FormatRfc3339Millis(-62'167'219'200'000), "0000-01-01T00:00:00.000Z");
}

TEST(ManualClockTest, MovesOnlyWhenTold) {
  ManualClock clock(1'000);
  EXPECT_EQ(clock.NowUnixMillis(), 1'000);
  EXPECT_EQ(clock.MonotonicNanos(), 1'000'000'000);
  EXPECT_EQ(clock.NowUnixMillis(), 1'000);
  clock.AdvanceMillis(250);
  EXPECT_EQ(clock.NowUnixMillis(), 1'250);
  EXPECT_EQ(clock.MonotonicNanos(), 1'250'000'000);
}

TEST(ManualClockTest, DefaultStartsInNovember2023) {
  ManualClock clock;
  EXPECT_EQ(FormatRfc3339Millis(clock.NowUnixMillis()), "2023-11-14T22:13:20.000Z");
}

TEST(SystemClockTest, WallClockIsNowAndMonotonicDoesNotGoBack) {
  SystemClock& clock = SystemClock::Instance();
  EXPECT_EQ(&clock, &SystemClock::Instance());
  const int64_t expected = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  EXPECT_NEAR(static_cast<double>(clock.NowUnixMillis()), static_cast<double>(expected), 5'000.0);
  int64_t prev = clock.MonotonicNanos();
  for (int i = 0; i < 1000; ++i) {
    int64_t now = clock.MonotonicNanos();
    ASSERT_GE(now, prev);
    prev = now;
  }
}

}  // namespace
}  // namespace walship
