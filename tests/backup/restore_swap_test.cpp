// The restore's swap and its roll-forward from every state a crash can
// leave: the original files untouched until the intent exists, the restored
// database complete after it, the damaged files kept in quarantine.
#include "backup/restore_swap.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "base/fs.h"
#include "tests/support/temp_dir.h"

namespace walship {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

class RestoreSwapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = tmp_.Sub("data");
    ASSERT_TRUE(EnsureDirectory(data_ + "/restore/ID").ok());
    Write("index.db", "old database");
    Write("index.db-wal", "old wal");
    Write("index.db-shm", "old shm");
    Write("restore/ID/index.db", "restored database");
  }

  void Write(const std::string& name, const std::string& text) {
    ASSERT_TRUE(WriteFileAtomically(data_ + "/" + name, text).ok());
  }
  std::string Read(const std::string& name) {
    auto bytes = ReadWholeFile(data_ + "/" + name);
    return bytes.ok() ? *bytes : "(" + bytes.status().message() + ")";
  }
  void WriteIntent() { Write(kRestoreSwapIntentFile, R"({"id": "ID", "restored": "restore/ID/index.db"})"); }

  void ExpectSwapped() {
    EXPECT_EQ(Read("index.db"), "restored database");
    EXPECT_FALSE(fs::exists(data_ + "/index.db-wal"));
    EXPECT_FALSE(fs::exists(data_ + "/index.db-shm"));
    EXPECT_EQ(Read("quarantine/restore-ID/index.db"), "old database");
    EXPECT_EQ(Read("quarantine/restore-ID/index.db-wal"), "old wal");
    EXPECT_EQ(Read("quarantine/restore-ID/index.db-shm"), "old shm");
    EXPECT_FALSE(fs::exists(data_ + "/" + kRestoreSwapIntentFile));
    EXPECT_FALSE(fs::exists(data_ + "/restore"));
  }

  TempDir tmp_;
  std::string data_;
};

TEST_F(RestoreSwapTest, SwapsAndKeepsTheDamagedFiles) {
  auto swapped = SwapInRestoredDatabase(data_, data_ + "/restore/ID/index.db", "ID");
  ASSERT_TRUE(swapped.ok()) << swapped.status().ToString();
  EXPECT_EQ(swapped->quarantine_dir, data_ + "/quarantine/restore-ID");
  EXPECT_EQ(swapped->moved.size(), 3u);
  ExpectSwapped();
}

TEST_F(RestoreSwapTest, WithoutAnIntentNothingOfTheUsersIsTouchedAndTheScratchGoes) {
  auto finished = FinishInterruptedRestoreSwap(data_);
  ASSERT_TRUE(finished.ok()) << finished.status().ToString();
  EXPECT_FALSE(finished->has_value());
  EXPECT_EQ(Read("index.db"), "old database");
  EXPECT_EQ(Read("index.db-wal"), "old wal");
  EXPECT_FALSE(fs::exists(data_ + "/restore")) << "a partial build nobody names is removed";
  EXPECT_FALSE(fs::exists(data_ + "/quarantine"));
}

TEST_F(RestoreSwapTest, RollsForwardAfterACrashRightAfterTheIntent) {
  WriteIntent();
  auto finished = FinishInterruptedRestoreSwap(data_);
  ASSERT_TRUE(finished.ok()) << finished.status().ToString();
  ASSERT_TRUE(finished->has_value());
  ExpectSwapped();
}

TEST_F(RestoreSwapTest, RollsForwardAfterACrashBetweenTheMoves) {
  WriteIntent();
  ASSERT_TRUE(MoveIntoFolder(data_ + "/index.db-wal", data_ + "/quarantine/restore-ID", "index.db-wal").ok());
  auto finished = FinishInterruptedRestoreSwap(data_);
  ASSERT_TRUE(finished.ok()) << finished.status().ToString();
  ExpectSwapped();
}

TEST_F(RestoreSwapTest, AfterTheRenameTheRestoredDatabaseIsNeverMovedAside) {
  WriteIntent();
  for (const char* name : {"index.db-wal", "index.db-shm", "index.db"}) {
    ASSERT_TRUE(MoveIntoFolder(data_ + "/" + name, data_ + "/quarantine/restore-ID", name).ok());
  }
  ASSERT_EQ(::rename((data_ + "/restore/ID/index.db").c_str(), (data_ + "/index.db").c_str()), 0);
  auto finished = FinishInterruptedRestoreSwap(data_);
  ASSERT_TRUE(finished.ok()) << finished.status().ToString();
  ExpectSwapped();
}

TEST_F(RestoreSwapTest, AnUnreadableIntentChangesNothingAndSaysWhy) {
  Write(kRestoreSwapIntentFile, R"({"id": "../x", "restored": "/etc/passwd"})");
  auto finished = FinishInterruptedRestoreSwap(data_);
  ASSERT_FALSE(finished.ok());
  EXPECT_EQ(finished.status().code(), Code::kCorruption);
  EXPECT_EQ(finished.status().message(),
            "finish the interrupted restore in " + data_ + ": " + data_ + "/" + kRestoreSwapIntentFile +
                ": not a restore swap intent (move it away only once you know which database is the right one)");
  EXPECT_EQ(Read("index.db"), "old database");
  EXPECT_EQ(Read("index.db-wal"), "old wal");
  EXPECT_EQ(Read("restore/ID/index.db"), "restored database");
}

TEST_F(RestoreSwapTest, ASecondSwapWaitsForTheFirst) {
  WriteIntent();
  auto swapped = SwapInRestoredDatabase(data_, data_ + "/restore/ID/index.db", "ID");
  ASSERT_FALSE(swapped.ok());
  EXPECT_EQ(swapped.status().code(), Code::kConflict);
  EXPECT_EQ(Read("index.db"), "old database");
}

}  // namespace
}  // namespace walship
