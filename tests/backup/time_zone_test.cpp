#include "backup/time_zone.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "tests/support/temp_dir.h"

namespace walship {
namespace {

// Unix seconds of a UTC wall-clock time.
int64_t Utc(int year, unsigned month, unsigned day, int hour = 0, int minute = 0, int second = 0) {
  using namespace std::chrono;
  sys_days date{std::chrono::year{year} / month / day};
  return date.time_since_epoch().count() * 86400 + hour * 3600 + minute * 60 + second;
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A TZif file built by hand: `transitions` are (time, type index) pairs,
// `offsets` the UTC offsets of the local time types. Version '\0' writes a
// version 1 file (32-bit block only); '2' adds the 64-bit block and `footer`.
std::string BuildTzif(char version, const std::vector<std::pair<int64_t, uint8_t>>& transitions,
                      const std::vector<int32_t>& offsets, const std::string& footer) {
  auto put = [](std::string* out, uint64_t value, int width) {
    for (int i = width - 1; i >= 0; --i) out->push_back(static_cast<char>((value >> (8 * i)) & 0xff));
  };
  auto block = [&](int time_width) {
    std::string out = "TZif";
    out.push_back(version);
    out.append(15, '\0');
    for (uint64_t count : {uint64_t{0}, uint64_t{0}, uint64_t{0}, uint64_t{transitions.size()},
                           uint64_t{offsets.size()}, uint64_t{4}}) {
      put(&out, count, 4);
    }
    for (const auto& transition : transitions) put(&out, static_cast<uint64_t>(transition.first), time_width);
    for (const auto& transition : transitions) out.push_back(static_cast<char>(transition.second));
    for (int32_t offset : offsets) {
      put(&out, static_cast<uint32_t>(offset), 4);
      out.append(2, '\0');  // not DST, abbreviation index 0
    }
    out.append("ABC", 4);  // the abbreviations, with their terminating NUL
    return out;
  };
  std::string file = block(4);
  if (version != '\0') file += block(8) + "\n" + footer + "\n";
  return file;
}

TEST(TimeZoneTest, UtcNeedsNoFile) {
  for (const char* name : {"UTC", "Etc/UTC"}) {
    Result<TimeZone> zone = TimeZone::Load(name, "/nonexistent-zoneinfo");
    ASSERT_TRUE(zone.ok()) << zone.status().ToString();
    EXPECT_EQ(zone->name(), name);
    EXPECT_EQ(zone->OffsetSecondsAt(Utc(2026, 7, 1)), 0);
    EXPECT_EQ(zone->OffsetSecondsAt(-5'000'000'000), 0);
    EXPECT_FALSE(zone->NextOffsetChangeAfter(0).has_value());
  }
  EXPECT_EQ(TimeZone::Utc().name(), "UTC");
  EXPECT_EQ(TimeZone::Utc().OffsetSecondsAt(Utc(2026, 1, 1)), 0);
}

TEST(TimeZoneTest, BerlinWinterSummerAndTheSwitches) {
  Result<TimeZone> berlin = TimeZone::Load("Europe/Berlin");
  ASSERT_TRUE(berlin.ok()) << berlin.status().ToString();
  EXPECT_EQ(berlin->name(), "Europe/Berlin");
  EXPECT_EQ(berlin->OffsetSecondsAt(Utc(2026, 1, 15, 12)), 3600);
  EXPECT_EQ(berlin->OffsetSecondsAt(Utc(2026, 7, 15, 12)), 7200);
  // 2026-03-29 02:00 CET -> 03:00 CEST, 2026-10-25 03:00 CEST -> 02:00 CET.
  EXPECT_EQ(berlin->OffsetSecondsAt(Utc(2026, 3, 29, 0, 59, 59)), 3600);
  EXPECT_EQ(berlin->OffsetSecondsAt(Utc(2026, 3, 29, 1)), 7200);
  EXPECT_EQ(berlin->OffsetSecondsAt(Utc(2026, 10, 25, 0, 59, 59)), 7200);
  EXPECT_EQ(berlin->OffsetSecondsAt(Utc(2026, 10, 25, 1)), 3600);
  EXPECT_EQ(berlin->NextOffsetChangeAfter(Utc(2026, 1, 1)), Utc(2026, 3, 29, 1));
  EXPECT_EQ(berlin->NextOffsetChangeAfter(Utc(2026, 3, 29, 1)), Utc(2026, 10, 25, 1));
  // Before the first transition: local mean time, +0:53:28.
  EXPECT_EQ(berlin->OffsetSecondsAt(Utc(1880, 1, 1)), 53 * 60 + 28);
}

TEST(TimeZoneTest, NewYorkWinterSummerAndTheSwitches) {
  Result<TimeZone> new_york = TimeZone::Load("America/New_York");
  ASSERT_TRUE(new_york.ok()) << new_york.status().ToString();
  EXPECT_EQ(new_york->OffsetSecondsAt(Utc(2026, 1, 15, 12)), -5 * 3600);
  EXPECT_EQ(new_york->OffsetSecondsAt(Utc(2026, 7, 15, 12)), -4 * 3600);
  // 2026-03-08 02:00 EST -> 03:00 EDT (07:00Z), 2026-11-01 02:00 EDT -> 01:00 EST (06:00Z).
  EXPECT_EQ(new_york->OffsetSecondsAt(Utc(2026, 3, 8, 6, 59, 59)), -5 * 3600);
  EXPECT_EQ(new_york->OffsetSecondsAt(Utc(2026, 3, 8, 7)), -4 * 3600);
  EXPECT_EQ(new_york->OffsetSecondsAt(Utc(2026, 11, 1, 5, 59, 59)), -4 * 3600);
  EXPECT_EQ(new_york->OffsetSecondsAt(Utc(2026, 11, 1, 6)), -5 * 3600);
}

TEST(TimeZoneTest, AfterTheLastTransitionTheFooterRuleApplies) {
  // Debian's files list transitions up to 2037; later years come from the
  // footer ("CET-1CEST,M3.5.0,M10.5.0/3", "EST5EDT,M3.2.0,M11.1.0").
  Result<TimeZone> berlin = TimeZone::Load("Europe/Berlin");
  Result<TimeZone> new_york = TimeZone::Load("America/New_York");
  ASSERT_TRUE(berlin.ok() && new_york.ok());
  EXPECT_EQ(berlin->OffsetSecondsAt(Utc(2040, 1, 15)), 3600);
  EXPECT_EQ(berlin->OffsetSecondsAt(Utc(2040, 7, 15)), 7200);
  EXPECT_EQ(berlin->OffsetSecondsAt(Utc(2040, 3, 25, 0, 59, 59)), 3600);  // last Sunday of March 2040
  EXPECT_EQ(berlin->OffsetSecondsAt(Utc(2040, 3, 25, 1)), 7200);
  EXPECT_EQ(berlin->NextOffsetChangeAfter(Utc(2040, 1, 1)), Utc(2040, 3, 25, 1));
  EXPECT_EQ(berlin->NextOffsetChangeAfter(Utc(2040, 3, 25, 1)), Utc(2040, 10, 28, 1));
  EXPECT_EQ(new_york->OffsetSecondsAt(Utc(2050, 7, 4)), -4 * 3600);
  EXPECT_EQ(new_york->OffsetSecondsAt(Utc(2050, 12, 25)), -5 * 3600);
}

TEST(TimeZoneTest, ExtremeInstantsAreAnsweredWithoutOverflow) {
  Result<TimeZone> berlin = TimeZone::Load("Europe/Berlin");
  ASSERT_TRUE(berlin.ok());
  const int64_t lowest = std::numeric_limits<int64_t>::min();
  const int64_t highest = std::numeric_limits<int64_t>::max();
  EXPECT_EQ(berlin->OffsetSecondsAt(lowest), 53 * 60 + 28);
  int32_t far_future = berlin->OffsetSecondsAt(highest);
  EXPECT_TRUE(far_future == 3600 || far_future == 7200) << far_future;
  EXPECT_FALSE(berlin->NextOffsetChangeAfter(highest).has_value());
  EXPECT_TRUE(berlin->NextOffsetChangeAfter(lowest).has_value());
}

TEST(TimeZoneTest, SlimFileWithOnlyAFooterFollowsTheRule) {
  testing::TempDir dir;
  WriteFile(dir.Sub("Test/SlimBerlin"), BuildTzif('2', {}, {3600}, "CET-1CEST,M3.5.0,M10.5.0/3"));
  Result<TimeZone> zone = TimeZone::Load("Test/SlimBerlin", dir.path());
  ASSERT_TRUE(zone.ok()) << zone.status().ToString();
  EXPECT_EQ(zone->OffsetSecondsAt(Utc(2026, 3, 29, 0, 59, 59)), 3600);
  EXPECT_EQ(zone->OffsetSecondsAt(Utc(2026, 3, 29, 1)), 7200);
  EXPECT_EQ(zone->OffsetSecondsAt(Utc(2026, 10, 25, 0, 59, 59)), 7200);
  EXPECT_EQ(zone->OffsetSecondsAt(Utc(2026, 10, 25, 1)), 3600);
  EXPECT_EQ(zone->NextOffsetChangeAfter(Utc(2026, 5, 1)), Utc(2026, 10, 25, 1));

  // Southern hemisphere, quoted names, Julian days and times past 24 h.
  WriteFile(dir.Sub("Test/Sydney"), BuildTzif('2', {}, {36000}, "AEST-10AEDT,M10.1.0,M4.1.0/3"));
  WriteFile(dir.Sub("Test/Quoted"), BuildTzif('3', {}, {-10800}, "<-03>3<-02>,J60/26,300/-1"));
  Result<TimeZone> sydney = TimeZone::Load("Test/Sydney", dir.path());
  Result<TimeZone> quoted = TimeZone::Load("Test/Quoted", dir.path());
  ASSERT_TRUE(sydney.ok() && quoted.ok()) << sydney.status().ToString() << quoted.status().ToString();
  EXPECT_EQ(sydney->OffsetSecondsAt(Utc(2026, 1, 15)), 11 * 3600);
  EXPECT_EQ(sydney->OffsetSecondsAt(Utc(2026, 7, 15)), 10 * 3600);
  // 2026-04-05 03:00 AEDT = 2026-04-04 16:00Z.
  EXPECT_EQ(sydney->OffsetSecondsAt(Utc(2026, 4, 4, 15, 59, 59)), 11 * 3600);
  EXPECT_EQ(sydney->OffsetSecondsAt(Utc(2026, 4, 4, 16)), 10 * 3600);
  // J60 is March 1 even in a leap year; 26:00 local (-03) is March 2 05:00Z.
  EXPECT_EQ(quoted->OffsetSecondsAt(Utc(2028, 3, 2, 4, 59, 59)), -3 * 3600);
  EXPECT_EQ(quoted->OffsetSecondsAt(Utc(2028, 3, 2, 5)), -2 * 3600);
  // Zero-based day 300 of 2028 is October 27; -1:00 local (-02) is October 26 23:00 local = 10-27 01:00Z.
  EXPECT_EQ(quoted->OffsetSecondsAt(Utc(2028, 10, 27, 0, 59, 59)), -2 * 3600);
  EXPECT_EQ(quoted->OffsetSecondsAt(Utc(2028, 10, 27, 1)), -3 * 3600);
}

TEST(TimeZoneTest, VersionOneFileKeepsTheLastOffsetForever) {
  testing::TempDir dir;
  WriteFile(dir.Sub("Old"), BuildTzif('\0', {{Utc(2000, 1, 1), 1}, {Utc(2001, 1, 1), 2}}, {100, 3600, 7200}, ""));
  Result<TimeZone> zone = TimeZone::Load("Old", dir.path());
  ASSERT_TRUE(zone.ok()) << zone.status().ToString();
  EXPECT_EQ(zone->OffsetSecondsAt(Utc(1999, 6, 1)), 100);  // type 0 before the first transition
  EXPECT_EQ(zone->OffsetSecondsAt(Utc(2000, 6, 1)), 3600);
  EXPECT_EQ(zone->OffsetSecondsAt(Utc(2090, 6, 1)), 7200);
  EXPECT_FALSE(zone->NextOffsetChangeAfter(Utc(2001, 1, 1)).has_value());
}

TEST(TimeZoneTest, ZoneinfoRootCanBeOverridden) {
  testing::TempDir dir;
  WriteFile(dir.Sub("Europe/Berlin"), ReadFile("/usr/share/zoneinfo/Asia/Tokyo"));
  Result<TimeZone> zone = TimeZone::Load("Europe/Berlin", dir.path());
  ASSERT_TRUE(zone.ok()) << zone.status().ToString();
  EXPECT_EQ(zone->OffsetSecondsAt(Utc(2026, 7, 1)), 9 * 3600);  // Tokyo's data under Berlin's name
}

TEST(TimeZoneTest, RejectsBadNames) {
  auto message = [](const std::string& name) {
    Result<TimeZone> zone = TimeZone::Load(name);
    EXPECT_EQ(zone.status().code(), Code::kInvalidArgument) << name;
    return zone.status().message();
  };
  EXPECT_EQ(message(""), "time zone \"\": the name is empty");
  EXPECT_EQ(message("/etc/passwd"), "time zone \"/etc/passwd\": the name must be relative, like \"Europe/Berlin\"");
  EXPECT_EQ(message("../../etc/passwd"), "time zone \"../../etc/passwd\": the name must not contain \"..\"");
  EXPECT_EQ(message("Europe/../../etc/passwd"),
            "time zone \"Europe/../../etc/passwd\": the name must not contain \"..\"");
  EXPECT_EQ(message("Europe/Ber lin"),
            "time zone \"Europe/Ber lin\": the name may only contain letters, digits and \"/_+-.\"");
  EXPECT_EQ(message("Mars/Base"), "unknown time zone \"Mars/Base\"");
  EXPECT_EQ(message("Europe"), "unknown time zone \"Europe\"");  // a folder, not a zone
}

TEST(TimeZoneTest, RejectsMalformedFiles) {
  testing::TempDir dir;
  const std::string berlin = ReadFile("/usr/share/zoneinfo/Europe/Berlin");
  ASSERT_GT(berlin.size(), 1000u);
  auto load_error = [&](const std::string& bytes) {
    WriteFile(dir.Sub("Test/Broken"), bytes);
    Result<TimeZone> zone = TimeZone::Load("Test/Broken", dir.path());
    EXPECT_EQ(zone.status().code(), Code::kInvalidArgument);
    return zone.status().message();
  };
  const std::string prefix = "time zone \"Test/Broken\": malformed TZif file: ";
  EXPECT_EQ(load_error(""), prefix + "truncated header");
  EXPECT_EQ(load_error(berlin.substr(0, 20)), prefix + "truncated header");
  EXPECT_EQ(load_error(berlin.substr(0, 100)), prefix + "truncated version 1 data");
  EXPECT_EQ(load_error(berlin.substr(0, berlin.size() - 200)), prefix + "truncated data");
  EXPECT_EQ(load_error(berlin.substr(0, berlin.size() - 1)), prefix + "missing or truncated footer");
  EXPECT_EQ(load_error("TZxf" + berlin.substr(4)), prefix + "not a TZif file (bad magic)");
  EXPECT_EQ(load_error(std::string("TZif9") + berlin.substr(5)), prefix + "unsupported TZif version byte 57");
  EXPECT_EQ(load_error(BuildTzif('2', {}, {3600}, "nonsense")),
            prefix + "footer \"nonsense\": expected the standard-time offset");
  EXPECT_EQ(load_error(BuildTzif('2', {}, {3600}, "CET-1CEST")),
            prefix + "footer \"CET-1CEST\": daylight-saving time without switch rules");
  EXPECT_EQ(load_error(BuildTzif('2', {}, {3600}, "CET-1CEST,M13.1.0,M10.5.0")),
            prefix + "footer \"CET-1CEST,M13.1.0,M10.5.0\": bad start rule");
  EXPECT_EQ(load_error(BuildTzif('2', {{200, 0}, {100, 0}}, {3600}, "")),
            prefix + "transition times are not ascending");
  EXPECT_EQ(load_error(BuildTzif('2', {{100, 3}}, {3600}, "")),
            prefix + "a transition uses local time type 3 of 1");
  EXPECT_EQ(load_error(BuildTzif('2', {}, {}, "")), prefix + "no local time types");
  EXPECT_EQ(load_error(BuildTzif('2', {}, {100 * 3600}, "")), prefix + "implausible UTC offset 360000 s");
}

}  // namespace
}  // namespace walship
