#include "backup/retention.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <set>
#include <string_view>

namespace walship {
namespace {

constexpr int64_t kSecondsPerDay = 86400;

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// Days since 1970-01-01 on the zone's local calendar.
int64_t LocalDay(int64_t unix_ms, const TimeZone& zone) {
  int64_t seconds = FloorDiv(unix_ms, 1000);
  return FloorDiv(seconds + zone.OffsetSecondsAt(seconds), kSecondsPerDay);
}

// Weeks counted from the Monday 1969-12-29 (day -3), so a week number
// changes exactly where ISO weeks do.
int64_t WeekOfDay(int64_t day) { return FloorDiv(day + 3, 7); }

std::chrono::year_month_day CivilDate(int64_t day) {
  return std::chrono::year_month_day{std::chrono::sys_days{std::chrono::days{day}}};
}

// "2026-11-27"
std::string DayLabel(int64_t day) {
  std::chrono::year_month_day date = CivilDate(day);
  char text[32];
  std::snprintf(text, sizeof text, "%04d-%02u-%02u", static_cast<int>(date.year()),
                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()));
  return text;
}

// "2026-W48": an ISO week belongs to the year of its Thursday.
std::string WeekLabel(int64_t week) {
  int64_t thursday = week * 7;
  std::chrono::year iso_year = CivilDate(thursday).year();
  int64_t jan1 = std::chrono::sys_days{iso_year / 1 / 1}.time_since_epoch().count();
  char text[32];
  std::snprintf(text, sizeof text, "%04d-W%02d", static_cast<int>(iso_year),
                static_cast<int>((thursday - jan1) / 7 + 1));
  return text;
}

std::string Join(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& part : parts) {
    if (!out.empty()) out += ", ";
    out += part;
  }
  return out;
}

}  // namespace

Status RetentionPolicy::Validate() const {
  for (auto [name, value] : {std::pair<std::string_view, int>{"keep_last", keep_last},
                             {"daily_days", daily_days},
                             {"weekly_weeks", weekly_weeks}}) {
    if (value < 0) {
      return Status::InvalidArgument("retention policy: " + std::string(name) + " must be 0 or more, found " +
                                     std::to_string(value));
    }
  }
  return Status::Ok();
}

RetentionPlan PlanRetention(const RetentionPolicy& policy, const std::vector<RetainedBackup>& backups,
                            int64_t now_unix_ms, const TimeZone& zone) {
  std::vector<const RetainedBackup*> verified;
  for (const RetainedBackup& backup : backups) {
    if (backup.verified) verified.push_back(&backup);
  }
  std::sort(verified.begin(), verified.end(), [](const RetainedBackup* a, const RetainedBackup* b) {
    if (a->finished_unix_ms != b->finished_unix_ms) return a->finished_unix_ms > b->finished_unix_ms;
    return a->id < b->id;
  });

  RetentionPlan plan;
  if (!policy.Validate().ok()) {
    for (const RetainedBackup* backup : verified) {
      plan.keep.push_back(backup->id);
      plan.why_kept[backup->id] = "invalid policy";
    }
    return plan;
  }

  const int64_t today = LocalDay(now_unix_ms, zone);
  const int64_t this_week = WeekOfDay(today);
  std::set<int64_t> days_taken;
  std::set<int64_t> weeks_taken;
  int64_t rank = 0;  // among backups finished at or before now, newest = 0
  for (const RetainedBackup* backup : verified) {
    std::vector<std::string> reasons;
    if (backup->finished_unix_ms > now_unix_ms) {
      reasons.push_back("newer than now");
    } else {
      if (rank == 0) reasons.push_back("newest verified");
      if (rank < policy.keep_last) reasons.push_back("last " + std::to_string(policy.keep_last));
      ++rank;
      // Newest first, so the first backup seen on a day (week) is its newest.
      int64_t day = LocalDay(backup->finished_unix_ms, zone);
      if (today - day >= 0 && today - day < policy.daily_days && days_taken.insert(day).second) {
        reasons.push_back("daily " + DayLabel(day));
      }
      int64_t week = WeekOfDay(day);
      if (this_week - week >= 0 && this_week - week < policy.weekly_weeks && weeks_taken.insert(week).second) {
        reasons.push_back("weekly " + WeekLabel(week));
      }
    }
    if (reasons.empty()) {
      plan.prune.push_back(backup->id);
    } else {
      plan.keep.push_back(backup->id);
      plan.why_kept[backup->id] = Join(reasons);
    }
  }
  return plan;
}

}  // namespace walship
