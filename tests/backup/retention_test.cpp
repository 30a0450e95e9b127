#include "backup/retention.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "base/clock.h"

namespace walship {
namespace {

using Ids = std::vector<std::string>;

int64_t UtcMs(int year, unsigned month, unsigned day, int hour = 0, int minute = 0) {
  using namespace std::chrono;
  sys_days date{std::chrono::year{year} / month / day};
  return (date.time_since_epoch().count() * 86400 + hour * 3600 + minute * 60) * 1000;
}

// "v-2026-11-30T18:30" for a verified backup, "f-..." for a failed one.
RetainedBackup Backup(int64_t finished_ms, bool verified) {
  return {std::string(verified ? "v-" : "f-") + FormatRfc3339Millis(finished_ms).substr(0, 16), finished_ms, verified};
}

TimeZone Zone(const std::string& name) {
  Result<TimeZone> zone = TimeZone::Load(name);
  EXPECT_TRUE(zone.ok()) << zone.status().ToString();
  return zone.ok() ? *zone : TimeZone::Utc();
}

// A year of backups: a verified one every 6 hours (00:30, 06:30, 12:30,
// 18:30 UTC) from 2025-12-01 to 2026-11-30, a failed one at 03:10 each day,
// and a failed one at 2026-11-30 19:00, after the last verified one.
std::vector<RetainedBackup> YearOfBackups() {
  std::vector<RetainedBackup> backups;
  const int64_t first_day = UtcMs(2025, 12, 1);
  for (int day = 0; day < 365; ++day) {
    int64_t day_start = first_day + day * 86'400'000LL;
    for (int hour : {0, 6, 12, 18}) backups.push_back(Backup(day_start + (hour * 60 + 30) * 60'000LL, true));
    backups.push_back(Backup(day_start + (3 * 60 + 10) * 60'000LL, false));
  }
  backups.push_back(Backup(UtcMs(2026, 11, 30, 19), false));
  return backups;
}

const RetentionPolicy kLast5Daily7Weekly4{5, 7, 4};

TEST(RetentionTest, YearOfSixHourlyBackupsKeepsExactlyTheExpectedOnes) {
  std::vector<RetainedBackup> backups = YearOfBackups();
  std::shuffle(backups.begin(), backups.end(), std::mt19937(42));  // input order must not matter
  // Now: Monday 2026-11-30 20:00 UTC, ISO week 2026-W49.
  RetentionPlan plan = PlanRetention(kLast5Daily7Weekly4, backups, UtcMs(2026, 11, 30, 20), TimeZone::Utc());

  const Ids expected = {
      "v-2026-11-30T18:30", "v-2026-11-30T12:30", "v-2026-11-30T06:30", "v-2026-11-30T00:30",  // last 5 ...
      "v-2026-11-29T18:30",  // ... and the newest of each of the last 7 days
      "v-2026-11-28T18:30", "v-2026-11-27T18:30", "v-2026-11-26T18:30", "v-2026-11-25T18:30",
      "v-2026-11-24T18:30",
      "v-2026-11-22T18:30",  // Sunday, the newest of 2026-W47
      "v-2026-11-15T18:30",  // Sunday, the newest of 2026-W46
  };
  EXPECT_EQ(plan.keep, expected);
  EXPECT_EQ(plan.prune.size(), 4u * 365 - expected.size());
  EXPECT_EQ(plan.why_kept.size(), expected.size());
  EXPECT_EQ(plan.why_kept["v-2026-11-30T18:30"], "newest verified, last 5, daily 2026-11-30, weekly 2026-W49");
  EXPECT_EQ(plan.why_kept["v-2026-11-30T00:30"], "last 5");
  EXPECT_EQ(plan.why_kept["v-2026-11-29T18:30"], "last 5, daily 2026-11-29, weekly 2026-W48");
  EXPECT_EQ(plan.why_kept["v-2026-11-24T18:30"], "daily 2026-11-24");
  EXPECT_EQ(plan.why_kept["v-2026-11-22T18:30"], "weekly 2026-W47");
  EXPECT_EQ(plan.why_kept["v-2026-11-15T18:30"], "weekly 2026-W46");
  // Newest first, and nothing failed in either list.
  EXPECT_EQ(plan.prune.front(), "v-2026-11-29T12:30");
  EXPECT_EQ(plan.prune.back(), "v-2025-12-01T00:30");
  for (const Ids* list : {&plan.keep, &plan.prune}) {
    for (const std::string& id : *list) EXPECT_EQ(id.substr(0, 2), "v-") << id;
  }
}

// Runs the year as it happens: after each backup finishes, plan over what
// is left and prune. A plan over every backup ever made must keep exactly
// the same ones: nothing pruned earlier would have been wanted later.
void SimulateYearPruningAsWeGo(const TimeZone& zone) {
  std::vector<RetainedBackup> history = YearOfBackups();
  std::sort(history.begin(), history.end(),
            [](const RetainedBackup& a, const RetainedBackup& b) { return a.finished_unix_ms < b.finished_unix_ms; });
  std::vector<RetainedBackup> survivors;
  std::string newest_verified;
  for (size_t made = 1; made <= history.size(); ++made) {
    const RetainedBackup& latest = history[made - 1];
    survivors.push_back(latest);
    if (latest.verified) newest_verified = latest.id;
    const int64_t now = latest.finished_unix_ms + 60'000;
    RetentionPlan plan = PlanRetention(kLast5Daily7Weekly4, survivors, now, zone);
    RetentionPlan ideal = PlanRetention(kLast5Daily7Weekly4, {history.begin(), history.begin() + made}, now, zone);
    ASSERT_EQ(plan.keep, ideal.keep) << "after " << latest.id << " in " << zone.name();
    ASSERT_EQ(plan.why_kept, ideal.why_kept) << "after " << latest.id << " in " << zone.name();
    ASSERT_TRUE(std::find(plan.keep.begin(), plan.keep.end(), newest_verified) != plan.keep.end() ||
                newest_verified.empty());
    std::set<std::string> pruned(plan.prune.begin(), plan.prune.end());
    std::erase_if(survivors, [&](const RetainedBackup& b) { return pruned.count(b.id) > 0; });
  }
  // What is left: the kept verified backups (never more than 5 + 7 + 4) and every failed one.
  size_t verified_left = std::count_if(survivors.begin(), survivors.end(), [](const auto& b) { return b.verified; });
  EXPECT_LE(verified_left, 16u) << zone.name();
  EXPECT_EQ(survivors.size() - verified_left, 366u) << zone.name();
}

TEST(RetentionTest, PruningDayByDayNeverLosesWhatALaterDayWants) {
  SimulateYearPruningAsWeGo(TimeZone::Utc());
  SimulateYearPruningAsWeGo(Zone("Europe/Berlin"));
  SimulateYearPruningAsWeGo(Zone("America/New_York"));
}

TEST(RetentionTest, AllZeroPolicyKeepsOnlyTheNewestVerified) {
  const std::vector<RetainedBackup> backups = {
      Backup(UtcMs(2026, 11, 1), true),
      Backup(UtcMs(2026, 11, 20), true),
      Backup(UtcMs(2026, 11, 25), true),
      Backup(UtcMs(2026, 11, 26), false),  // newer, but failed
  };
  RetentionPlan plan = PlanRetention(RetentionPolicy{0, 0, 0}, backups, UtcMs(2026, 11, 27), TimeZone::Utc());
  EXPECT_EQ(plan.keep, (Ids{"v-2026-11-25T00:00"}));
  EXPECT_EQ(plan.prune, (Ids{"v-2026-11-20T00:00", "v-2026-11-01T00:00"}));
  EXPECT_EQ(plan.why_kept, (std::map<std::string, std::string>{{"v-2026-11-25T00:00", "newest verified"}}));
}

TEST(RetentionTest, UnverifiedBackupsAreInNeitherList) {
  std::vector<RetainedBackup> backups;
  for (unsigned day = 1; day <= 20; ++day) backups.push_back(Backup(UtcMs(2026, 11, day), false));
  RetentionPlan plan = PlanRetention(RetentionPolicy{0, 0, 0}, backups, UtcMs(2026, 11, 27), TimeZone::Utc());
  EXPECT_TRUE(plan.keep.empty());
  EXPECT_TRUE(plan.prune.empty());
  EXPECT_TRUE(plan.why_kept.empty());

  backups.push_back(Backup(UtcMs(2026, 10, 1), true));
  backups.push_back(Backup(UtcMs(2026, 9, 1), true));
  plan = PlanRetention(RetentionPolicy{0, 0, 0}, backups, UtcMs(2026, 11, 27), TimeZone::Utc());
  EXPECT_EQ(plan.keep, (Ids{"v-2026-10-01T00:00"}));
  EXPECT_EQ(plan.prune, (Ids{"v-2026-09-01T00:00"}));
}

TEST(RetentionTest, BackupNewerThanNowIsKeptAndDisplacesNothing) {
  const int64_t now = UtcMs(2026, 11, 27, 12);
  const std::vector<RetainedBackup> backups = {
      Backup(now + 3'600'000, true),  // a clock ahead of ours
      Backup(UtcMs(2026, 11, 27, 6), true),
      Backup(UtcMs(2026, 11, 26, 6), true),
      Backup(UtcMs(2026, 11, 25, 6), true),
  };
  RetentionPlan plan = PlanRetention(RetentionPolicy{1, 2, 0}, backups, now, TimeZone::Utc());
  EXPECT_EQ(plan.keep, (Ids{"v-2026-11-27T13:00", "v-2026-11-27T06:00", "v-2026-11-26T06:00"}));
  EXPECT_EQ(plan.prune, (Ids{"v-2026-11-25T06:00"}));
  EXPECT_EQ(plan.why_kept["v-2026-11-27T13:00"], "newer than now");
  EXPECT_EQ(plan.why_kept["v-2026-11-27T06:00"], "newest verified, last 1, daily 2026-11-27");
  EXPECT_EQ(plan.why_kept["v-2026-11-26T06:00"], "daily 2026-11-26");
}

TEST(RetentionTest, CalendarDaysAndIsoWeeksFollowTheTimeZone) {
  // 2026-11-26 23:30 UTC is already 2026-11-27 00:30 in Berlin.
  const std::vector<RetainedBackup> backups = {
      Backup(UtcMs(2026, 11, 26, 23, 30), true),
      Backup(UtcMs(2026, 11, 26, 22, 30), true),
      Backup(UtcMs(2026, 11, 26, 12, 0), true),
  };
  RetentionPlan berlin = PlanRetention(RetentionPolicy{0, 2, 0}, backups, UtcMs(2026, 11, 27, 12), Zone("Europe/Berlin"));
  EXPECT_EQ(berlin.keep, (Ids{"v-2026-11-26T23:30", "v-2026-11-26T22:30"}));
  EXPECT_EQ(berlin.why_kept["v-2026-11-26T23:30"], "newest verified, daily 2026-11-27");
  EXPECT_EQ(berlin.why_kept["v-2026-11-26T22:30"], "daily 2026-11-26");
  RetentionPlan utc = PlanRetention(RetentionPolicy{0, 2, 0}, backups, UtcMs(2026, 11, 27, 12), TimeZone::Utc());
  EXPECT_EQ(utc.keep, (Ids{"v-2026-11-26T23:30"}));
  EXPECT_EQ(utc.why_kept["v-2026-11-26T23:30"], "newest verified, daily 2026-11-26");

  // ISO weeks across a year end: Friday 2027-01-01 is in 2026-W53.
  const std::vector<RetainedBackup> year_end = {
      Backup(UtcMs(2027, 1, 1, 10), true),   Backup(UtcMs(2026, 12, 28, 10), true),
      Backup(UtcMs(2026, 12, 27, 10), true),  // Sunday, the last of W52
      Backup(UtcMs(2026, 12, 26, 10), true),  Backup(UtcMs(2026, 12, 20, 10), true),
      Backup(UtcMs(2026, 12, 13, 10), true),
  };
  RetentionPlan weekly = PlanRetention(RetentionPolicy{0, 0, 3}, year_end, UtcMs(2027, 1, 1, 12), TimeZone::Utc());
  EXPECT_EQ(weekly.keep, (Ids{"v-2027-01-01T10:00", "v-2026-12-27T10:00", "v-2026-12-20T10:00"}));
  EXPECT_EQ(weekly.prune, (Ids{"v-2026-12-28T10:00", "v-2026-12-26T10:00", "v-2026-12-13T10:00"}));
  EXPECT_EQ(weekly.why_kept["v-2027-01-01T10:00"], "newest verified, weekly 2026-W53");
  EXPECT_EQ(weekly.why_kept["v-2026-12-27T10:00"], "weekly 2026-W52");
  EXPECT_EQ(weekly.why_kept["v-2026-12-20T10:00"], "weekly 2026-W51");
}

TEST(RetentionTest, EqualFinishTimesAreOrderedById) {
  const int64_t t = UtcMs(2026, 11, 20);
  const std::vector<RetainedBackup> backups = {{"c", t, true}, {"a", t, true}, {"b", t, true}, {"d", t - 1, true}};
  RetentionPlan plan = PlanRetention(RetentionPolicy{2, 0, 0}, backups, UtcMs(2026, 11, 27), TimeZone::Utc());
  EXPECT_EQ(plan.keep, (Ids{"a", "b"}));
  EXPECT_EQ(plan.prune, (Ids{"c", "d"}));
}

TEST(RetentionTest, ValidateRejectsNegativeCounts) {
  EXPECT_TRUE(RetentionPolicy{}.Validate().ok());
  EXPECT_TRUE((RetentionPolicy{0, 0, 0}.Validate().ok()));
  Status s = RetentionPolicy{-1, 7, 4}.Validate();
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_EQ(s.message(), "retention policy: keep_last must be 0 or more, found -1");
  EXPECT_EQ((RetentionPolicy{7, -2, 4}.Validate().message()), "retention policy: daily_days must be 0 or more, found -2");
  EXPECT_EQ((RetentionPolicy{7, 7, -3}.Validate().message()),
            "retention policy: weekly_weeks must be 0 or more, found -3");

  // Planning with a bad policy deletes nothing.
  const std::vector<RetainedBackup> backups = {Backup(UtcMs(2026, 1, 1), true), Backup(UtcMs(2025, 1, 1), true),
                                               Backup(UtcMs(2025, 6, 1), false)};
  RetentionPlan plan = PlanRetention(RetentionPolicy{-1, 0, 0}, backups, UtcMs(2026, 11, 27), TimeZone::Utc());
  EXPECT_EQ(plan.keep, (Ids{"v-2026-01-01T00:00", "v-2025-01-01T00:00"}));
  EXPECT_TRUE(plan.prune.empty());
  EXPECT_EQ(plan.why_kept["v-2025-01-01T00:00"], "invalid policy");
}

}  // namespace
}  // namespace walship
