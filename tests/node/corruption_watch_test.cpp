#include "node/corruption_watch.h"

#include <gtest/gtest.h>

#include <vector>

namespace walship {
namespace {

class CorruptionWatchTest : public ::testing::Test {
 protected:
  CorruptionWatchTest() {
    watch_.SetStopAction([this](const Status& s) { stops_.push_back(s); });
  }
  ManualClock clock_{1'700'000'000'000};
  MetricsRegistry metrics_;
  CorruptionWatch watch_{"/srv/walship", clock_, metrics_};
  std::vector<Status> stops_;
};

TEST_F(CorruptionWatchTest, OnlyCorruptionCountsAndNothingIsFoundBefore) {
  EXPECT_FALSE(watch_.Observe("read", Status::IOError("disk I/O error")));
  EXPECT_FALSE(watch_.Observe("read", Status::Ok()));
  EXPECT_FALSE(watch_.found());
  EXPECT_FALSE(watch_.Finding().has_value());
  EXPECT_TRUE(watch_.WriteRefusal().ok());
  EXPECT_TRUE(stops_.empty());
}

TEST_F(CorruptionWatchTest, TheFirstFindingStopsWritesOnceAndStays) {
  EXPECT_TRUE(watch_.Observe("scrub", Status::Corruption("page 7 of /srv/walship/index.db differs")));
  clock_.AdvanceMillis(1000);
  EXPECT_TRUE(watch_.Observe("read", Status::Corruption("database disk image is malformed")));

  ASSERT_EQ(stops_.size(), 1u);
  EXPECT_EQ(stops_[0].ToString(), "corruption: scrub: page 7 of /srv/walship/index.db differs");
  auto f = watch_.Finding();
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->found_unix_ms, 1'700'000'000'000);
  EXPECT_EQ(f->source, "scrub");
  EXPECT_EQ(f->message, "page 7 of /srv/walship/index.db differs");
  EXPECT_EQ(f->recommended, "walship restore --data /srv/walship");

  Status refusal = watch_.WriteRefusal();
  EXPECT_EQ(refusal.code(), Code::kUnavailable);
  EXPECT_EQ(refusal.reason(), "database_corrupt");
  EXPECT_EQ(refusal.message(),
            "writes are stopped: the database is corrupt (scrub: page 7 of /srv/walship/index.db differs); "
            "run: walship restore --data /srv/walship");
  EXPECT_EQ(metrics_.GetCounter("walship_corruption_reports_total", "").Value(), 2u);
  EXPECT_EQ(metrics_.GetGauge("walship_corruption_found", "").Value(), 1);
}

TEST_F(CorruptionWatchTest, TheStopActionMayReportAgain) {
  // The writer's sticky error comes back through its listener.
  CorruptionWatch watch("/d", clock_, metrics_);
  int stops = 0;
  watch.SetStopAction([&](const Status& s) {
    ++stops;
    EXPECT_TRUE(watch.Observe("writer", s));
  });
  EXPECT_TRUE(watch.Observe("quick_check", Status::Corruption("quick_check of /d/index.db: Page 3: bad")));
  EXPECT_EQ(stops, 1);
  EXPECT_EQ(watch.Finding()->source, "quick_check");
}

}  // namespace
}  // namespace walship
