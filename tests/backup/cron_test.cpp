#include "backup/cron.h"

#include <gtest/gtest.h>

#include <chrono>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "base/clock.h"

namespace walship {
namespace {

// Unix milliseconds of a UTC wall-clock time.
int64_t UtcMs(int year, unsigned month, unsigned day, int hour = 0, int minute = 0, int second = 0) {
  using namespace std::chrono;
  sys_days date{std::chrono::year{year} / month / day};
  return (date.time_since_epoch().count() * 86400 + hour * 3600 + minute * 60 + second) * 1000;
}

TimeZone Zone(const std::string& name) {
  Result<TimeZone> zone = TimeZone::Load(name);
  EXPECT_TRUE(zone.ok()) << zone.status().ToString();
  return zone.ok() ? *zone : TimeZone::Utc();
}

CronSchedule Schedule(std::string_view expression, const TimeZone& zone = TimeZone::Utc()) {
  Result<CronSchedule> schedule = CronSchedule::Parse(expression, zone);
  EXPECT_TRUE(schedule.ok()) << schedule.status().ToString();
  return schedule.ok() ? *schedule : *CronSchedule::Parse("* * * * *", zone);
}

// The next `count` fire times after `start_ms`, as UTC timestamps.
std::vector<std::string> Fires(std::string_view expression, int64_t start_ms, int count,
                               const TimeZone& zone = TimeZone::Utc()) {
  CronSchedule schedule = Schedule(expression, zone);
  std::vector<std::string> out;
  int64_t t = start_ms;
  for (int i = 0; i < count; ++i) {
    std::optional<int64_t> next = schedule.NextAfter(t);
    if (!next) {
      out.push_back("never");
      break;
    }
    out.push_back(FormatRfc3339Millis(*next));
    t = *next;
  }
  return out;
}

using Times = std::vector<std::string>;

std::string ParseError(std::string_view expression) {
  Result<CronSchedule> schedule = CronSchedule::Parse(expression, TimeZone::Utc());
  if (schedule.ok()) return "parsed";
  EXPECT_EQ(schedule.status().code(), Code::kInvalidArgument);
  return schedule.status().message();
}

TEST(CronTest, EveryMinuteFiresOnTheNextWholeMinuteStrictlyAfter) {
  EXPECT_EQ(Fires("* * * * *", UtcMs(2026, 5, 1, 12, 0, 0), 2),
            (Times{"2026-05-01T12:01:00.000Z", "2026-05-01T12:02:00.000Z"}));
  EXPECT_EQ(Fires("* * * * *", UtcMs(2026, 5, 1, 11, 59, 59) + 999, 1), (Times{"2026-05-01T12:00:00.000Z"}));
  EXPECT_EQ(Fires("* * * * *", -90'000, 2), (Times{"1969-12-31T23:59:00.000Z", "1970-01-01T00:00:00.000Z"}));
  // Outside the years 1-9999 there is no answer, and no overflow either.
  CronSchedule every_minute = Schedule("* * * * *", Zone("Europe/Berlin"));
  EXPECT_FALSE(every_minute.NextAfter(std::numeric_limits<int64_t>::max()).has_value());
  EXPECT_FALSE(every_minute.NextAfter(std::numeric_limits<int64_t>::min()).has_value());
  EXPECT_EQ(Fires("59 23 31 12 *", UtcMs(9999, 1, 1), 2), (Times{"9999-12-31T23:59:00.000Z", "never"}));
}

TEST(CronTest, RangesStepsAndLists) {
  const int64_t start = UtcMs(2026, 5, 1, 0, 7);
  EXPECT_EQ(Fires("*/15 * * * *", start, 4),
            (Times{"2026-05-01T00:15:00.000Z", "2026-05-01T00:30:00.000Z", "2026-05-01T00:45:00.000Z",
                   "2026-05-01T01:00:00.000Z"}));
  EXPECT_EQ(Fires("5-10/2 3 * * *", start, 4),
            (Times{"2026-05-01T03:05:00.000Z", "2026-05-01T03:07:00.000Z", "2026-05-01T03:09:00.000Z",
                   "2026-05-02T03:05:00.000Z"}));
  EXPECT_EQ(Fires("7/20 * * * *", start, 4),
            (Times{"2026-05-01T00:27:00.000Z", "2026-05-01T00:47:00.000Z", "2026-05-01T01:07:00.000Z",
                   "2026-05-01T01:27:00.000Z"}));
  EXPECT_EQ(Fires("1,5-6,*/30 * * * *", start, 5),
            (Times{"2026-05-01T00:30:00.000Z", "2026-05-01T01:00:00.000Z", "2026-05-01T01:01:00.000Z",
                   "2026-05-01T01:05:00.000Z", "2026-05-01T01:06:00.000Z"}));
  EXPECT_EQ(Fires("0 22-23,1 * * *", start, 4),
            (Times{"2026-05-01T01:00:00.000Z", "2026-05-01T22:00:00.000Z", "2026-05-01T23:00:00.000Z",
                   "2026-05-02T01:00:00.000Z"}));
  EXPECT_EQ(Fires("30 4 1,15 */4 *", start, 4),  // months 1, 5, 9
            (Times{"2026-05-01T04:30:00.000Z", "2026-05-15T04:30:00.000Z", "2026-09-01T04:30:00.000Z",
                   "2026-09-15T04:30:00.000Z"}));
  // Tabs and runs of blanks separate fields too.
  EXPECT_EQ(Fires("  0\t12  * * *  ", start, 1), (Times{"2026-05-01T12:00:00.000Z"}));
}

TEST(CronTest, MonthAndDayNamesAreCaseInsensitiveAndWorkInRanges) {
  // 2026-01-01 is a Thursday.
  const int64_t start = UtcMs(2026, 1, 1);
  EXPECT_EQ(Fires("0 9 * * mon-Fri", start, 3),
            (Times{"2026-01-01T09:00:00.000Z", "2026-01-02T09:00:00.000Z", "2026-01-05T09:00:00.000Z"}));
  EXPECT_EQ(Fires("0 0 1 FEB-dec/3 *", start, 3),  // February, May, August
            (Times{"2026-02-01T00:00:00.000Z", "2026-05-01T00:00:00.000Z", "2026-08-01T00:00:00.000Z"}));
  EXPECT_EQ(Fires("0 0 1 jan,JUL *", start, 2), (Times{"2026-07-01T00:00:00.000Z", "2027-01-01T00:00:00.000Z"}));
  // 0, 7 and SUN are all Sunday; 2026-01-04 is the first Sunday.
  for (const char* sunday : {"0 0 * * 0", "0 0 * * 7", "0 0 * * SUN", "0 0 * * sun", "0 0 * * 7,0"}) {
    EXPECT_EQ(Fires(sunday, start, 1), (Times{"2026-01-04T00:00:00.000Z"})) << sunday;
  }
}

TEST(CronTest, Macros) {
  const int64_t start = UtcMs(2026, 5, 13, 10, 30);  // a Wednesday
  EXPECT_EQ(Fires("@hourly", start, 1), (Times{"2026-05-13T11:00:00.000Z"}));
  EXPECT_EQ(Fires("@daily", start, 1), (Times{"2026-05-14T00:00:00.000Z"}));
  EXPECT_EQ(Fires("@midnight", start, 1), (Times{"2026-05-14T00:00:00.000Z"}));
  EXPECT_EQ(Fires("@weekly", start, 1), (Times{"2026-05-17T00:00:00.000Z"}));
  EXPECT_EQ(Fires("@monthly", start, 1), (Times{"2026-06-01T00:00:00.000Z"}));
  EXPECT_EQ(Fires("@yearly", start, 1), (Times{"2027-01-01T00:00:00.000Z"}));
  EXPECT_EQ(Fires("@annually", start, 1), (Times{"2027-01-01T00:00:00.000Z"}));
  EXPECT_EQ(Fires(" @Daily ", start, 1), (Times{"2026-05-14T00:00:00.000Z"}));
  EXPECT_EQ(Schedule("@weekly").ToString(), "@weekly");
  EXPECT_EQ(Schedule("0  3 * * *").ToString(), "0  3 * * *");
}

TEST(CronTest, RestrictedDayOfMonthOrDayOfWeekEitherMatches) {
  // Every 13th and every Friday: 2026-01-02 and 01-09 are Fridays, 01-13 a Tuesday.
  EXPECT_EQ(Fires("0 0 13 * FRI", UtcMs(2026, 1, 1), 4),
            (Times{"2026-01-02T00:00:00.000Z", "2026-01-09T00:00:00.000Z", "2026-01-13T00:00:00.000Z",
                   "2026-01-16T00:00:00.000Z"}));
  // Only one restricted: that one alone decides.
  EXPECT_EQ(Fires("0 0 13 * *", UtcMs(2026, 1, 1), 1), (Times{"2026-01-13T00:00:00.000Z"}));
  EXPECT_EQ(Fires("0 0 * * FRI", UtcMs(2026, 1, 1), 1), (Times{"2026-01-02T00:00:00.000Z"}));
  // A field starting with '*' counts as unrestricted (Vixie cron), so both
  // must match: days 1, 11, 21, 31 that are Mondays.
  EXPECT_EQ(Fires("0 0 */10 * MON", UtcMs(2026, 1, 1), 3),
            (Times{"2026-05-11T00:00:00.000Z", "2026-06-01T00:00:00.000Z", "2026-08-31T00:00:00.000Z"}));
  // The OR rule still honours the month: every Monday of February, and the 30th that never comes.
  EXPECT_EQ(Fires("0 0 30 2 MON", UtcMs(2026, 1, 1), 2),
            (Times{"2026-02-02T00:00:00.000Z", "2026-02-09T00:00:00.000Z"}));
}

TEST(CronTest, LeapDayAndNeverFiring) {
  EXPECT_EQ(Fires("0 0 29 2 *", UtcMs(2026, 1, 1), 3),
            (Times{"2028-02-29T00:00:00.000Z", "2032-02-29T00:00:00.000Z", "2036-02-29T00:00:00.000Z"}));
  // Midnight in Berlin (CET, +1) is 23:00 UTC the day before.
  EXPECT_EQ(Fires("0 0 29 2 *", UtcMs(2026, 1, 1), 1, Zone("Europe/Berlin")), (Times{"2028-02-28T23:00:00.000Z"}));
  EXPECT_EQ(Fires("0 0 30 2 *", UtcMs(2026, 1, 1), 1), (Times{"never"}));
  EXPECT_EQ(Fires("0 0 31 4,6,9,11 *", UtcMs(2026, 1, 1), 1, Zone("America/New_York")), (Times{"never"}));
  // 2100 is not a leap year: the next February 29 after 2096 is 8 years away, past the search horizon.
  EXPECT_EQ(Fires("0 0 29 2 *", UtcMs(2096, 3, 1), 1), (Times{"never"}));
  EXPECT_EQ(Fires("59 23 31 12 *", UtcMs(2026, 1, 1), 1), (Times{"2026-12-31T23:59:00.000Z"}));
}

TEST(CronTest, NeverFiringSearchIsCheap) {
  // Five years of calendar skipping, not 2.6 million minute steps: a thousand
  // of these finish well within a test's time even unoptimized.
  CronSchedule never = Schedule("0 0 30 2 *", Zone("Europe/Berlin"));
  for (int i = 0; i < 1000; ++i) EXPECT_FALSE(never.NextAfter(UtcMs(2026, 1, 1) + i * 3'600'000LL).has_value());
}

TEST(CronTest, BerlinSpringGapSkipsTheMissingLocalTimes) {
  const TimeZone berlin = Zone("Europe/Berlin");
  // 2026-03-29: 02:00 CET jumps to 03:00 CEST, so there is no 02:30 that day.
  EXPECT_EQ(Fires("30 2 * * *", UtcMs(2026, 3, 27), 3, berlin),
            (Times{"2026-03-27T01:30:00.000Z", "2026-03-28T01:30:00.000Z", "2026-03-30T00:30:00.000Z"}));
  // Hourly keeps firing every real hour: local 01:00 CET, then 03:00 CEST.
  EXPECT_EQ(Fires("0 * * * *", UtcMs(2026, 3, 28, 23, 30), 3, berlin),
            (Times{"2026-03-29T00:00:00.000Z", "2026-03-29T01:00:00.000Z", "2026-03-29T02:00:00.000Z"}));
  EXPECT_EQ(Fires("15 3 * * *", UtcMs(2026, 3, 28, 12), 2, berlin),
            (Times{"2026-03-29T01:15:00.000Z", "2026-03-30T01:15:00.000Z"}));
}

TEST(CronTest, BerlinAutumnRepeatFiresTwice) {
  const TimeZone berlin = Zone("Europe/Berlin");
  // 2026-10-25: 03:00 CEST goes back to 02:00 CET, so 02:30 happens twice.
  EXPECT_EQ(Fires("30 2 * * *", UtcMs(2026, 10, 24), 4, berlin),
            (Times{"2026-10-24T00:30:00.000Z", "2026-10-25T00:30:00.000Z", "2026-10-25T01:30:00.000Z",
                   "2026-10-26T01:30:00.000Z"}));
  EXPECT_EQ(Fires("0 * * * *", UtcMs(2026, 10, 24, 23, 30), 4, berlin),
            (Times{"2026-10-25T00:00:00.000Z", "2026-10-25T01:00:00.000Z", "2026-10-25T02:00:00.000Z",
                   "2026-10-25T03:00:00.000Z"}));
  // Starting inside the first 02:xx, the second one is found even though its local time is "earlier".
  EXPECT_EQ(Fires("10 2 * * *", UtcMs(2026, 10, 25, 0, 50), 2, berlin),
            (Times{"2026-10-25T01:10:00.000Z", "2026-10-26T01:10:00.000Z"}));
}

TEST(CronTest, NewYorkAcrossBothSwitches) {
  const TimeZone new_york = Zone("America/New_York");
  // 2026-03-08: 02:00 EST jumps to 03:00 EDT.
  EXPECT_EQ(Fires("30 2 * * *", UtcMs(2026, 3, 7), 2, new_york),
            (Times{"2026-03-07T07:30:00.000Z", "2026-03-09T06:30:00.000Z"}));
  EXPECT_EQ(Fires("0 9 * * MON-FRI", UtcMs(2026, 3, 6), 2, new_york),  // Friday (EST), then Monday (EDT)
            (Times{"2026-03-06T14:00:00.000Z", "2026-03-09T13:00:00.000Z"}));
  // 2026-11-01: 02:00 EDT goes back to 01:00 EST; 01:xx happens twice.
  EXPECT_EQ(Fires("*/20 1-2 * * *", UtcMs(2026, 11, 1, 4), 10, new_york),
            (Times{"2026-11-01T05:00:00.000Z", "2026-11-01T05:20:00.000Z", "2026-11-01T05:40:00.000Z",
                   "2026-11-01T06:00:00.000Z", "2026-11-01T06:20:00.000Z", "2026-11-01T06:40:00.000Z",
                   "2026-11-01T07:00:00.000Z", "2026-11-01T07:20:00.000Z", "2026-11-01T07:40:00.000Z",
                   "2026-11-02T06:00:00.000Z"}));
}

// Random schedules near the 2026 switches in three zones: NextAfter must
// agree with a plain walk over every UTC minute of the following four days.
TEST(CronTest, NextAfterAgreesWithAMinuteByMinuteWalk) {
  std::mt19937 random(7);
  auto pick = [&](int low, int high) { return std::uniform_int_distribution<int>(low, high)(random); };
  // "*" (all of low..high) or a list of one to three values from low..spread.
  auto field = [&](int low, int high, int spread, std::set<int>* values) {
    if (pick(0, 2) == 0) {
      for (int v = low; v <= high; ++v) values->insert(v);
      return std::string("*");
    }
    std::string text;
    for (int n = pick(1, 3); n > 0; --n) {
      int v = pick(low, spread);
      values->insert(v);
      text += (text.empty() ? "" : ",") + std::to_string(v);
    }
    return text;
  };
  const std::vector<int64_t> switches = {UtcMs(2026, 3, 8, 7), UtcMs(2026, 3, 29, 1), UtcMs(2026, 10, 25, 1),
                                         UtcMs(2026, 11, 1, 6)};
  int walks_that_found_one = 0;
  for (const TimeZone& zone : {TimeZone::Utc(), Zone("Europe/Berlin"), Zone("America/New_York")}) {
    for (int round = 0; round < 150; ++round) {
      std::set<int> minutes, hours, doms, dows;
      const std::set<int> months = {3, 10, 11};  // the months with switches
      std::vector<std::string> fields = {field(0, 59, 59, &minutes), field(0, 23, 4, &hours), field(1, 31, 31, &doms),
                                         "3,10,11", field(0, 6, 6, &dows)};
      std::string expression = fields[0] + " " + fields[1] + " " + fields[2] + " " + fields[3] + " " + fields[4];
      const bool both_restricted = fields[2] != "*" && fields[4] != "*";
      CronSchedule schedule = Schedule(expression, zone);
      const int64_t start = switches[static_cast<size_t>(pick(0, 3))] + pick(-2 * 86400, 86400) * 1000LL + pick(0, 999);
      std::optional<int64_t> expected;
      const int64_t first_minute = (start / 60000 + 1) * 60;
      const int64_t walk_end = first_minute + 4 * 86400;
      for (int64_t u = first_minute; u < walk_end && !expected; u += 60) {
        int64_t local = u + zone.OffsetSecondsAt(u);
        std::chrono::sys_days day{std::chrono::days{local / 86400}};
        std::chrono::year_month_day date{day};
        int64_t second_of_day = local % 86400;
        bool dom = doms.count(static_cast<int>(static_cast<unsigned>(date.day()))) > 0;
        bool dow = dows.count(static_cast<int>(std::chrono::weekday{day}.c_encoding())) > 0;
        if (minutes.count(static_cast<int>(second_of_day % 3600 / 60)) &&
            hours.count(static_cast<int>(second_of_day / 3600)) &&
            months.count(static_cast<int>(static_cast<unsigned>(date.month()))) &&
            (both_restricted ? dom || dow : dom && dow)) {
          expected = u * 1000;
        }
      }
      std::optional<int64_t> next = schedule.NextAfter(start);
      if (expected) {
        ++walks_that_found_one;
        EXPECT_EQ(next, expected) << expression << " in " << zone.name() << " after " << FormatRfc3339Millis(start);
      } else {
        EXPECT_TRUE(!next || *next >= walk_end * 1000) << expression << " in " << zone.name();
      }
    }
  }
  EXPECT_GT(walks_that_found_one, 200);  // the comparison was not vacuous
}

TEST(CronTest, InvalidExpressionsNameTheFieldAndTheProblem) {
  EXPECT_EQ(ParseError("61 * * * *"), "cron \"61 * * * *\": minute: 61 is out of range 0-59");
  EXPECT_EQ(ParseError("* 24 * * *"), "cron \"* 24 * * *\": hour: 24 is out of range 0-23");
  EXPECT_EQ(ParseError("* * 0 * *"), "cron \"* * 0 * *\": day-of-month: 0 is out of range 1-31");
  EXPECT_EQ(ParseError("* * 32 * *"), "cron \"* * 32 * *\": day-of-month: 32 is out of range 1-31");
  EXPECT_EQ(ParseError("* * * 13 *"), "cron \"* * * 13 *\": month: 13 is out of range 1-12");
  EXPECT_EQ(ParseError("* * * * 8"), "cron \"* * * * 8\": day-of-week: 8 is out of range 0-7");
  EXPECT_EQ(ParseError("* * *"), "cron \"* * *\": expected 5 fields, found 3");
  EXPECT_EQ(ParseError("* * * * * *"), "cron \"* * * * * *\": expected 5 fields, found 6");
  EXPECT_EQ(ParseError(""), "cron \"\": expected 5 fields, found 0");
  EXPECT_EQ(ParseError("   "), "cron \"   \": expected 5 fields, found 0");
  EXPECT_EQ(ParseError("*/0 * * * *"), "cron \"*/0 * * * *\": minute: step 0 must be at least 1");
  EXPECT_EQ(ParseError("* 1-5/0 * * *"), "cron \"* 1-5/0 * * *\": hour: step 0 must be at least 1");
  EXPECT_EQ(ParseError("5-2 * * * *"), "cron \"5-2 * * * *\": minute: range 5-2 is backwards");
  EXPECT_EQ(ParseError("* * * * SAT-MON"), "cron \"* * * * SAT-MON\": day-of-week: range SAT-MON is backwards");
  EXPECT_EQ(ParseError("* * * FOO *"), "cron \"* * * FOO *\": month: unknown name \"FOO\"");
  EXPECT_EQ(ParseError("* * * * Monday"), "cron \"* * * * Monday\": day-of-week: unknown name \"Monday\"");
  EXPECT_EQ(ParseError("* * * JAN-FOO *"), "cron \"* * * JAN-FOO *\": month: unknown name \"FOO\"");
  EXPECT_EQ(ParseError("abc * * * *"), "cron \"abc * * * *\": minute: expected a number, found \"abc\"");
  EXPECT_EQ(ParseError("* * * * 1,,2"), "cron \"* * * * 1,,2\": day-of-week: empty item in list \"1,,2\"");
  EXPECT_EQ(ParseError("1,2, * * * *"), "cron \"1,2, * * * *\": minute: empty item in list \"1,2,\"");
  EXPECT_EQ(ParseError(",1 * * * *"), "cron \",1 * * * *\": minute: empty item in list \",1\"");
  EXPECT_EQ(ParseError("5x * * * *"), "cron \"5x * * * *\": minute: unexpected \"x\" in \"5x\"");
  EXPECT_EQ(ParseError("1-5# * * * *"), "cron \"1-5# * * * *\": minute: unexpected \"#\" in \"1-5#\"");
  EXPECT_EQ(ParseError("-5 * * * *"), "cron \"-5 * * * *\": minute: unexpected \"-5\" in \"-5\"");
  EXPECT_EQ(ParseError("1-2-3 * * * *"), "cron \"1-2-3 * * * *\": minute: unexpected \"-3\" in \"1-2-3\"");
  EXPECT_EQ(ParseError("** * * * *"), "cron \"** * * * *\": minute: unexpected \"*\" in \"**\"");
  EXPECT_EQ(ParseError("*/x * * * *"), "cron \"*/x * * * *\": minute: unexpected \"x\" in \"*/x\"");
  EXPECT_EQ(ParseError("5- * * * *"), "cron \"5- * * * *\": minute: missing number after \"-\" in \"5-\"");
  EXPECT_EQ(ParseError("*/ * * * *"), "cron \"*/ * * * *\": minute: missing step after \"/\" in \"*/\"");
  EXPECT_EQ(ParseError("5/ * * * *"), "cron \"5/ * * * *\": minute: missing step after \"/\" in \"5/\"");
  EXPECT_EQ(ParseError("99999999999999999999 * * * *"),
            "cron \"99999999999999999999 * * * *\": minute: 99999999999999999999 is out of range 0-59");
  EXPECT_EQ(ParseError("*/99999999999 * * * *"),
            "cron \"*/99999999999 * * * *\": minute: step 99999999999 is out of range 1-59");
  EXPECT_EQ(ParseError("* */24 * * *"), "cron \"* */24 * * *\": hour: step 24 is out of range 1-23");
  EXPECT_EQ(ParseError("@fortnightly"), "cron \"@fortnightly\": unknown macro \"@fortnightly\"");
  EXPECT_EQ(ParseError("@daily 5"), "cron \"@daily 5\": unknown macro \"@daily 5\"");
}

TEST(CronTest, ValidEdgeForms) {
  for (const char* expression : {"0-59 0-23 1-31 1-12 0-7", "59 23 31 12 7", "0/1 * * * *", "00 01 * * *",
                                 "*/59 */23 */31 */12 */7", "* * * * *", "0 0 * jan-DEC sun-sat"}) {
    EXPECT_EQ(ParseError(expression), "parsed") << expression;
  }
}

}  // namespace
}  // namespace walship
