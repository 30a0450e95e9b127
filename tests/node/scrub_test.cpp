// Corruption detection on a live store: the scrub (node/scrub.h), the
// quick_check, and corruption met by a read or by the writer; each stops
// writes through the CorruptionWatch.
#include "node/scrub.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include "node/quick_check.h"
#include "node/store.h"
#include "replication/db_checksum.h"
#include "replication/db_file_pages.h"
#include "tests/support/store_fixture.h"

namespace walship {
namespace {

using walship::testing::PutOp;

constexpr uint32_t kPageSize = 4096;

// Page `pgno` of the database file at `path`, read or rewritten through a
// SQLite connection's own file handle: closing a descriptor of our own would
// drop the store's POSIX locks on the file, while SQLite keeps a closed
// connection's descriptor open as long as another connection holds locks.
std::string ReadFilePage(const std::string& path, uint32_t pgno) {
  auto db = SqliteDb::Open(path, SQLITE_OPEN_READONLY);
  EXPECT_TRUE(db.ok()) << db.status().ToString();
  auto page = ReadDatabaseFilePage((*db)->raw(), kPageSize, pgno);
  EXPECT_TRUE(page.ok()) << page.status().ToString();
  return page.ok() ? *page : std::string();
}

void WriteFilePage(const std::string& path, uint32_t pgno, const std::string& page) {
  auto db = SqliteDb::Open(path, SQLITE_OPEN_READWRITE);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  sqlite3_file* file = nullptr;
  ASSERT_EQ(sqlite3_file_control((*db)->raw(), "main", SQLITE_FCNTL_FILE_POINTER, &file), SQLITE_OK);
  ASSERT_EQ(file->pMethods->xWrite(file, page.data(), static_cast<int>(page.size()),
                                   static_cast<sqlite3_int64>(pgno - 1) * kPageSize),
            SQLITE_OK);
}

class ScrubTest : public walship::testing::OpenStoreTest {
 protected:
  ScrubTest() {
    // No schedule: the tests run the checks themselves.
    config_.check_quick_check_interval_s = 0;
    config_.check_scrub_interval_s = 0;
    config_.check_scrub_pages_per_second = 7;  // small batches: a pass takes several
    config_.checkpoint_wal_bytes = 1ll << 40;
  }

  void Put(const std::string& key, char fill) {
    WriteOutcome out = store_->Write({PutOp(key, std::string(3000, fill))});
    ASSERT_TRUE(out.status.ok()) << out.status.ToString();
  }

  // 30 archives, then a restart: the shutdown checkpoint leaves every page
  // in the file, the WAL empty, and the checksum read back at start-up.
  void OpenSettled() {
    Open();
    for (int i = 0; i < 30; ++i) Put("a/" + std::to_string(i), static_cast<char>('a' + i % 26));
    store_.reset();
    Open();
  }

  uint32_t FilePages() const {
    return static_cast<uint32_t>(std::filesystem::file_size(db_path()) / kPageSize);
  }
  std::string db_path() const { return config_.DatabasePath(); }
  uint64_t CounterValue(const std::string& name, const Labels& labels = {}) {
    return metrics_.GetCounter(name, "", labels).Value();
  }
  // Waits until the checkpoint counter with `result` moves past `before`.
  void WaitForCheckpoint(const char* result, uint64_t before) {
    for (int i = 0; i < 500 && CounterValue("walship_checkpoints_total", {{"result", result}}) == before; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_GT(CounterValue("walship_checkpoints_total", {{"result", result}}), before) << result;
  }

  // Writes are refused with the finding, and the finding is the one given.
  void ExpectWritesStoppedBy(const std::string& source, const std::string& message) {
    auto found = store_->CorruptionFound();
    ASSERT_TRUE(found.has_value());
    EXPECT_EQ(found->source, source);
    EXPECT_EQ(found->message, message);
    EXPECT_EQ(found->recommended, "walship restore --data " + config_.data_dir);
    EXPECT_EQ(store_->Ready().ToString(), "corruption: " + source + ": " + message);
    WriteOutcome refused = store_->Write({PutOp("after", "x")});
    EXPECT_EQ(refused.status.code(), Code::kUnavailable);
    EXPECT_EQ(refused.status.reason(), "database_corrupt");
    EXPECT_EQ(refused.status.message(), "writes are stopped: the database is corrupt (" + source + ": " + message +
                                            "); run: walship restore --data " + config_.data_dir);
  }

};

TEST_F(ScrubTest, ACleanDatabasePassesAndIsCounted) {
  OpenSettled();
  const uint32_t pages = FilePages();
  ASSERT_GT(pages, 30u);
  ASSERT_TRUE(store_->ScrubPassNow().ok());
  EXPECT_EQ(CounterValue("walship_scrub_pages_total"), pages);
  EXPECT_EQ(CounterValue("walship_scrub_pages_skipped_total"), 0u);
  EXPECT_EQ(CounterValue("walship_scrub_passes_total"), 1u);
  EXPECT_EQ(CounterValue("walship_scrub_mismatches_total"), 0u);
  EXPECT_FALSE(store_->CorruptionFound().has_value());
  EXPECT_TRUE(store_->Ready().ok());
}

TEST_F(ScrubTest, AFlippedByteInAPageNoQueryReadStopsWrites) {
  OpenSettled();
  const uint32_t victim = FilePages() - 1;
  const std::string intact = ReadFilePage(db_path(), victim);
  std::string rotten = intact;
  rotten[1234] ^= 0x10;
  WriteFilePage(db_path(), victim, rotten);

  const std::string message = "page " + std::to_string(victim) + " of " + db_path() +
                              " differs from its image in the database checksum (read " +
                              DbChecksumHex(DbChecksum::PageHash(victim, rotten)) + ", checksummed " +
                              DbChecksumHex(DbChecksum::PageHash(victim, intact)) + ")";
  Status s = store_->ScrubPassNow();
  EXPECT_EQ(s.code(), Code::kCorruption);
  EXPECT_EQ(s.reason(), "scrub_mismatch");
  EXPECT_EQ(s.message(), "scrub: " + message);
  ExpectWritesStoppedBy("scrub", message);
  EXPECT_EQ(CounterValue("walship_scrub_mismatches_total"), 1u);
  EXPECT_EQ(ReadFilePage(db_path(), victim), rotten) << "the scrub reports; it never rewrites a page";
}

TEST_F(ScrubTest, PagesWithNewerImagesInTheWalAreSkippedNotFlagged) {
  OpenSettled();
  // Every archive rewritten: the file's pages are now older than the checksum's.
  for (int i = 0; i < 30; ++i) Put("a/" + std::to_string(i), 'z');
  ASSERT_TRUE(store_->ScrubPassNow().ok());
  EXPECT_GT(CounterValue("walship_scrub_pages_skipped_total"), 0u);

  // A reader holds an old snapshot: the checkpoint copies only the frames it
  // may (an incomplete checkpoint), the rest stays in the WAL.
  auto reader = SqliteDb::Open(db_path(), SQLITE_OPEN_READONLY);
  ASSERT_TRUE(reader.ok());
  ASSERT_TRUE((*reader)->Exec("BEGIN").ok());
  ASSERT_TRUE((*reader)->QueryInt("SELECT count(*) FROM archives").ok());
  for (int i = 0; i < 30; ++i) Put("a/" + std::to_string(i), 'y');
  const uint64_t incomplete = CounterValue("walship_checkpoints_total", {{"result", "incomplete"}});
  store_->RequestCheckpoint();
  WaitForCheckpoint("incomplete", incomplete);
  ASSERT_TRUE(store_->ScrubPassNow().ok());

  // The reader leaves; a complete checkpoint empties the WAL: nothing skipped.
  ASSERT_TRUE((*reader)->Exec("COMMIT").ok());
  reader->reset();
  const uint64_t complete = CounterValue("walship_checkpoints_total", {{"result", "complete"}});
  store_->RequestCheckpoint();
  WaitForCheckpoint("complete", complete);
  const uint64_t skipped = CounterValue("walship_scrub_pages_skipped_total");
  ASSERT_TRUE(store_->ScrubPassNow().ok());
  EXPECT_EQ(CounterValue("walship_scrub_pages_skipped_total"), skipped);
  EXPECT_FALSE(store_->CorruptionFound().has_value());
}

TEST_F(ScrubTest, PassesUnderWritesAndCheckpointsFindNothing) {
  config_.check_scrub_pages_per_second = 64;
  OpenSettled();
  std::atomic<bool> stop{false};
  std::thread writes([&] {
    for (int i = 0; !stop; ++i) {
      WriteOutcome out = store_->Write({PutOp("w/" + std::to_string(i % 50), std::string(2000 + i % 3000, 'w'))});
      if (!out.status.ok()) {
        ADD_FAILURE() << out.status.ToString();
        return;
      }
      if (i % 20 == 0) store_->RequestCheckpoint();
    }
  });
  Status s;
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
  int passes = 0;
  while (s.ok() && (passes < 3 || std::chrono::steady_clock::now() < until)) {
    s = store_->ScrubPassNow();
    ++passes;
  }
  stop = true;
  writes.join();
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_FALSE(store_->CorruptionFound().has_value());
  EXPECT_GT(CounterValue("walship_checkpoints_total", {{"result", "complete"}}), 0u);
  EXPECT_GT(CounterValue("walship_scrub_pages_skipped_total"), 0u);
}

// The b-tree page header's first byte, the page type, set to one that does not exist.
void BreakPageType(const std::string& path, uint32_t pgno) {
  std::string page = ReadFilePage(path, pgno);
  page[0] = static_cast<char>(0x77);
  WriteFilePage(path, pgno, page);
}

TEST_F(ScrubTest, AReadThatMeetsACorruptPageStopsWrites) {
  OpenSettled();
  for (uint32_t p = 2; p <= FilePages(); ++p) BreakPageType(db_path(), p);
  auto got = store_->Get("a/3");
  ASSERT_FALSE(got.ok());
  const std::string message =
      "get archive a/3: step \"SELECT key, metadata, version, sha256, create...\": database disk image is malformed";
  EXPECT_EQ(got.status().ToString(), "corruption: " + message);
  ExpectWritesStoppedBy("read", message);
}

TEST_F(ScrubTest, AWriteThatMeetsACorruptPageStopsWrites) {
  OpenSettled();
  for (uint32_t p = 2; p <= FilePages(); ++p) BreakPageType(db_path(), p);
  WriteOutcome out = store_->Write({PutOp("a/3", "new")});
  EXPECT_EQ(out.status.code(), Code::kCorruption) << out.status.ToString();
  auto found = store_->CorruptionFound();
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->source, "writer");
  EXPECT_EQ(found->message, out.status.message());
  EXPECT_EQ(store_->Ready().code(), Code::kCorruption);
  WriteOutcome refused = store_->Write({PutOp("after", "x")});
  EXPECT_EQ(refused.status.reason(), "database_corrupt");
}

TEST_F(ScrubTest, QuickCheckFindsABrokenPageAndStopsWrites) {
  OpenSettled();
  ASSERT_TRUE(store_->QuickCheckNow().ok());
  const uint32_t victim = FilePages();
  BreakPageType(db_path(), victim);
  Status s = store_->QuickCheckNow();
  const std::string message =
      "quick_check of " + db_path() + ": step \"PRAGMA quick_check(100)\": database disk image is malformed";
  EXPECT_EQ(s.ToString(), "corruption: " + message);
  ExpectWritesStoppedBy("quick_check", message);
  EXPECT_EQ(CounterValue("walship_quick_check_runs_total", {{"result", "corrupt"}}), 1u);
  EXPECT_EQ(CounterValue("walship_quick_check_runs_total", {{"result", "ok"}}), 1u);
}

}  // namespace
}  // namespace walship

namespace walship {
namespace {

TEST_F(ScrubTest, WithoutCaptureTheQuickCheckStillRunsAndTheScrubSaysWhyNot) {
  config_.segments_capture = false;
  Open();
  Put("a/1", 'a');
  EXPECT_TRUE(store_->QuickCheckNow().ok());
  Status s = store_->ScrubPassNow();
  EXPECT_EQ(s.ToString(), "unavailable: scrub " + db_path() + ": no WAL capture: no database checksum to compare with");
  EXPECT_FALSE(store_->CorruptionFound().has_value());
  EXPECT_TRUE(store_->Ready().ok());
}

TEST_F(ScrubTest, ACancelledQuickCheckEndsAtOnceAndFindsNothing) {
  OpenSettled();
  QuickCheckCancel cancel;
  cancel.Cancel();
  Status s = CorruptionQuickCheck(db_path(), nullptr, &cancel);
  EXPECT_EQ(s.ToString(), "unavailable: quick_check of " + db_path() + ": cancelled, the node is stopping");
  EXPECT_EQ(s.reason(), "shutting_down");
  EXPECT_FALSE(store_->CorruptionFound().has_value());
  QuickCheckCancel not_cancelled;
  EXPECT_TRUE(CorruptionQuickCheck(db_path(), nullptr, &not_cancelled).ok());
}

}  // namespace
}  // namespace walship
