// CronSchedule: when a backup job fires, written as a classic 5-field cron
// expression and evaluated in a time zone.
//
// Syntax ("minute hour day-of-month month day-of-week", fields separated by
// spaces or tabs):
//   minute 0-59, hour 0-23, day-of-month 1-31, month 1-12 or JAN-DEC,
//   day-of-week 0-7 or SUN-SAT (0 and 7 are both Sunday).
//   Each field is a comma-separated list of items; an item is `*`, `a`,
//   `a-b`, `*/n`, `a-b/n` or `a/n` (a through the field's maximum, every n).
//   Names are case-insensitive and may appear in ranges ("MON-FRI"). A step
//   must be from 1 to the field's maximum (larger ones are surely typos).
//   Macros: @hourly, @daily, @midnight, @weekly (Sunday 00:00), @monthly,
//   @yearly, @annually.
//
// Day rule (as Vixie cron): when both day-of-month and day-of-week are
// restricted, a day matches if EITHER matches ("0 0 13 * FRI" fires on every
// 13th and on every Friday). A field that begins with `*` (also `*/2`) counts
// as unrestricted; then only the other day field decides.
//
// Time zones and daylight saving: the schedule matches local wall-clock time
// in its zone, checked once per UTC minute. So:
//  - In a spring-forward gap the skipped local times never occur: "30 2 * * *"
//    in Europe/Berlin does not fire on the last Sunday of March.
//  - In an autumn repeated hour a matching local time occurs twice and fires
//    twice: "30 2 * * *" in Berlin fires at 02:30 CEST and again at 02:30 CET.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "backup/time_zone.h"
#include "base/status.h"

namespace walship {

class CronSchedule {
 public:
  // Errors are InvalidArgument naming the expression, the field and the fault:
  //   cron "61 * * * *": minute: 61 is out of range 0-59
  static Result<CronSchedule> Parse(std::string_view expression, TimeZone zone);

  // The first whole UTC minute strictly after `unix_millis` at which the
  // schedule fires, in Unix milliseconds. Looks at most kSearchYears ahead;
  // nullopt when nothing fires in that time ("0 0 30 2 *": February 30; also
  // "0 0 29 2 *" after 2096, as 2100 is no leap year) and for instants
  // outside the years 1-9999. Cost: a few steps per candidate day, not one
  // per minute.
  std::optional<int64_t> NextAfter(int64_t unix_millis) const;

  // The expression exactly as given to Parse().
  std::string ToString() const { return expression_; }

  const TimeZone& zone() const { return zone_; }

  static constexpr int kSearchYears = 5;

 private:
  CronSchedule(std::string expression, TimeZone zone) : expression_(std::move(expression)), zone_(std::move(zone)) {}

  bool DayMatches(int64_t days_since_epoch) const;
  // The first local minute at or after `local_minute_start` (seconds on the
  // local wall-clock axis, a multiple of 60) that matches, if any is <= `limit`.
  std::optional<int64_t> NextLocalMatch(int64_t local_minute_start, int64_t limit) const;

  std::string expression_;
  TimeZone zone_;
  // Bit i set: value i matches.
  uint64_t minutes_ = 0;
  uint32_t hours_ = 0;
  uint32_t days_of_month_ = 0;  // bits 1-31
  uint32_t months_ = 0;         // bits 1-12
  uint32_t days_of_week_ = 0;   // bits 0-6, Sunday = 0 (7 folded into 0)
  bool day_of_month_restricted_ = false;
  bool day_of_week_restricted_ = false;
};

}  // namespace walship
