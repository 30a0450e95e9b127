// `walship restore`'s flags: each target form parses, and each bad one is
// refused with a message naming the flag and the text.
#include "ops/restore_command.h"

#include <gtest/gtest.h>

#include <sstream>

#include "base/clock.h"
#include "tests/support/temp_dir.h"

namespace walship {
namespace {

TEST(RestoreTargetTest, EachFormParses) {
  auto latest = ParseRestoreTarget("", "", "");
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(latest->kind, RestoreTarget::Kind::kLatest);
  EXPECT_EQ(ParseRestoreTarget("latest", "", "")->kind, RestoreTarget::Kind::kLatest);

  auto position = ParseRestoreTarget("", "", "2/42");
  ASSERT_TRUE(position.ok());
  EXPECT_EQ(position->kind, RestoreTarget::Kind::kPosition);
  EXPECT_EQ(position->timeline, 2u);
  EXPECT_EQ(position->txid, 42u);
  EXPECT_EQ(position->ToString(), "position 2/42");
  auto bare = ParseRestoreTarget("", "", "42");
  ASSERT_TRUE(bare.ok());
  EXPECT_FALSE(bare->timeline.has_value());
  EXPECT_EQ(bare->ToString(), "position 42");

  auto time = ParseRestoreTarget("", "2026-11-27T09:00:00.250+01:00", "");
  ASSERT_TRUE(time.ok());
  EXPECT_EQ(time->kind, RestoreTarget::Kind::kTime);
  EXPECT_EQ(FormatRfc3339Millis(time->unix_ms), "2026-11-27T08:00:00.250Z");
}

TEST(RestoreTargetTest, BadTargetsNameTheFlag) {
  const std::string position_help =
      "\": not a position; use TIMELINE/TXID as write responses carry it (e.g. 1/42), or a txid alone";
  for (const std::string bad : {"abc", "1/", "/5", "0/5", "1/0", "0", "1/2/3", "-1", "1/99999999999999999999999"}) {
    auto t = ParseRestoreTarget("", "", bad);
    ASSERT_FALSE(t.ok()) << bad;
    EXPECT_EQ(t.status().code(), Code::kInvalidArgument);
    EXPECT_EQ(t.status().message(), "--to-position \"" + bad + position_help);
  }
  auto time = ParseRestoreTarget("", "yesterday", "");
  ASSERT_FALSE(time.ok());
  EXPECT_EQ(time.status().message(),
            "--to-time \"yesterday\": not an RFC 3339 time such as 2026-11-27T08:00:00Z or 2026-11-27T09:00:00+01:00");
  auto to = ParseRestoreTarget("earliest", "", "");
  ASSERT_FALSE(to.ok());
  EXPECT_EQ(to.status().message(), "--to \"earliest\": only \"latest\" (use --to-time or --to-position for others)");
  auto two = ParseRestoreTarget("latest", "", "1/5");
  ASSERT_FALSE(two.ok());
  EXPECT_EQ(two.status().message(), "give at most one of --to, --to-time and --to-position");
}

TEST(RestoreCommandTest, BadUsageExitsTwoAndAMissingFolderChangesNothing) {
  testing::TempDir tmp;
  std::ostringstream out, err;
  RestoreArgs args;
  args.data_dir = tmp.Sub("missing");
  EXPECT_EQ(RunRestore(args, out, err), 2);
  EXPECT_EQ(err.str(), "restore: data folder " + args.data_dir + " does not exist\n");

  std::ostringstream out2, err2;
  args.data_dir = tmp.path();
  args.to_position = "x";
  EXPECT_EQ(RunRestore(args, out2, err2), 2);
  EXPECT_NE(err2.str().find("--to-position \"x\""), std::string::npos) << err2.str();

  std::ostringstream out3, err3;
  args.to_position.clear();
  args.fetch_from = "https://standby:7071";
  EXPECT_EQ(RunRestore(args, out3, err3), 2);
  EXPECT_EQ(err3.str(), "restore: --fetch-from \"https://standby:7071\": https is not supported; use http://HOST:PORT\n");

  // No segment store: nothing to restore, and the folder is as it was.
  std::ostringstream out4, err4;
  args.fetch_from.clear();
  EXPECT_EQ(RunRestore(args, out4, err4), 1);
  EXPECT_EQ(err4.str(), "restore: restore " + tmp.path() + " to latest: no segment store at " + tmp.path() +
                            "/segments\nrestore: the database was not replaced\n");
}

}  // namespace
}  // namespace walship
