// A raw SQLite write connection driven the way node/writer.cpp drives it,
// with a WalCapture hooked in by hand: the test assigns the txids, calls
// AfterCommit after each commit, and checkpoints with BeforeCheckpoint then a
// TRUNCATE checkpoint. Every test ends by replaying the store and comparing
// the result with the live database, byte for byte and by checksum.
#pragma once

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <sqlite3.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/fs.h"
#include "base/metrics.h"
#include "replication/db_checksum.h"
#include "replication/segment_replay.h"
#include "replication/segment_store.h"
#include "replication/wal_capture.h"
#include "tests/support/temp_dir.h"

namespace walship::testing {

inline constexpr uint32_t kCapturePageSize = 4096;

inline void ExecOrFail(sqlite3* db, const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  EXPECT_EQ(rc, SQLITE_OK) << sql << ": " << (err ? err : "");
  sqlite3_free(err);
}

// Opened like the node's write connection: WAL, no automatic checkpoint, no
// checkpoint on close, no busy handler (a checkpoint that meets a reader
// answers SQLITE_BUSY at once).
inline sqlite3* OpenWriteConnection(const std::string& path) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr), SQLITE_OK);
  int unused = 0;
  EXPECT_EQ(sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, &unused), SQLITE_OK);
  ExecOrFail(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA wal_autocheckpoint=0;");
  return db;
}

inline sqlite3* OpenReadOnlyConnection(const std::string& path) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  return db;
}

// Routes the node's log into memory for the life of the object.
class LogRecorder {
 public:
  LogRecorder() : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(256)), previous_(spdlog::default_logger()) {
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("wal-capture-test", sink_));
  }
  ~LogRecorder() { spdlog::set_default_logger(previous_); }
  bool Contains(const std::string& text) const {
    for (const auto& line : sink_->last_formatted()) {
      if (line.find(text) != std::string::npos) return true;
    }
    return false;
  }

 private:
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
  std::shared_ptr<spdlog::logger> previous_;
};

// Wall-clock time moves only by hand (commit times); monotonic time stands
// still, so nothing the capture paces by elapsed time happens on its own:
// frames are captured exactly when the test calls BeforeCheckpoint.
class StillClock final : public Clock {
 public:
  int64_t NowUnixMillis() const override { return millis_; }
  int64_t MonotonicNanos() const override { return monotonic_ns_; }
  void AdvanceMillis(int64_t ms) { millis_ += ms; }
  // Only tests of the collect interval move it.
  void AdvanceMonotonicMillis(int64_t ms) { monotonic_ns_ += ms * 1'000'000; }

 private:
  int64_t millis_ = 1'700'000'000'000;
  int64_t monotonic_ns_ = 0;
};

class WalCaptureFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    db_path_ = tmp_.Sub("index.db");
    auto store = SegmentStore::Open(tmp_.Sub("segments"));
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
  }
  void TearDown() override { CloseWriter(); }

  static CaptureIdentity Identity() {
    CaptureIdentity id;
    id.cluster.fill(0x5a);
    id.node_id = 7;
    return id;
  }

  void OpenWriter() {
    db_ = OpenWriteConnection(db_path_);
    // As node/writer.cpp: where each commit frame went, for AfterCommit.
    sqlite3_wal_hook(
        db_,
        [](void* frames, sqlite3*, const char*, int n) {
          *static_cast<uint32_t*>(frames) = static_cast<uint32_t>(n);
          return SQLITE_OK;
        },
        &wal_commit_frame_);
  }
  // Drops the capture without a checkpoint and closes the connection, which
  // keeps the WAL: what a crash leaves, for the capture.
  void CloseWriter() {
    capture_.reset();
    if (db_ != nullptr) {
      EXPECT_EQ(sqlite3_close(db_), SQLITE_OK);
    }
    db_ = nullptr;
  }

  // The schema in one transaction, like node/schema.cpp: txid 0.
  void CreateSchema() {
    ExecOrFail(db_,
               "BEGIN IMMEDIATE;"
               "CREATE TABLE items (id INTEGER PRIMARY KEY, k TEXT NOT NULL UNIQUE, v BLOB NOT NULL);"
               "CREATE TABLE position (id INTEGER PRIMARY KEY, txid INTEGER NOT NULL);"
               "INSERT INTO position VALUES (1, 0);"
               "COMMIT;");
    txid_ = 0;
  }

  // A new database with its chain started on the empty file.
  void StartNewDatabase() {
    OpenWriter();
    CreateSchema();
    Status s = StartCapture(/*created_database=*/true);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  Status StartCapture(bool created_database) { return StartCaptureAt(txid_, created_database); }
  Status StartCaptureAt(int64_t txid, bool created_database) {
    auto c = WalCapture::Start(db_, db_path_, *store_, Identity(), txid, created_database, 3, clock_, metrics_);
    if (!c.ok()) return c.status();
    capture_ = std::move(c).value();
    return Status::Ok();
  }

  // One transaction; with a capture, AfterCommit gets the next txid.
  void Commit(const std::string& sql) {
    ExecOrFail(db_, "BEGIN IMMEDIATE;" + sql + "; UPDATE position SET txid = txid + 1; COMMIT;");
    ++txid_;
    clock_.AdvanceMillis(3);
    if (capture_) capture_->AfterCommit(txid_, clock_.NowUnixMillis(), wal_commit_frame_);
  }
  // Inserts or overwrites `rows` rows named tag-1.. with `bytes` random bytes each.
  void PutRows(const std::string& tag, int rows, int bytes = 300) {
    Commit("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < " + std::to_string(rows) +
           ") INSERT OR REPLACE INTO items (k, v) SELECT '" + tag + "-' || i, randomblob(" + std::to_string(bytes) +
           ") FROM n");
  }

  // The writer's checkpoint (node/writer.cpp): the hook, a passive pass,
  // the hook again, then TRUNCATE. Returns the last pass's SQLite code; the
  // hook must succeed.
  int Checkpoint() {
    Status s = capture_->BeforeCheckpoint(db_, "test");
    EXPECT_TRUE(s.ok()) << s.ToString();
    if (!s.ok()) return SQLITE_ERROR;
    int rc = sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    EXPECT_EQ(rc, SQLITE_OK) << "the passive pass";
    s = capture_->BeforeWalReset();
    EXPECT_TRUE(s.ok()) << s.ToString();
    if (!s.ok()) return SQLITE_ERROR;
    return sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
  }
  // The writer's deferred checkpoint: asks PrepareCheckpoint until it says
  // go (the hand-over sealed, the pin after it), for at most 2 s.
  bool PrepareUntilReady() {
    for (int i = 0; i < 2000; ++i) {
      if (capture_->PrepareCheckpoint()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return false;
  }
  // Everything committed sealed and durable, nothing checkpointed.
  void SealAll() {
    Status s = capture_->BeforeCheckpoint(db_, "test");
    ASSERT_TRUE(s.ok()) << s.ToString();
    s = capture_->BeforeWalReset();
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  std::vector<DecodedSegmentHeader> Headers() const {
    std::vector<DecodedSegmentHeader> out;
    auto entries = store_->List();
    EXPECT_TRUE(entries.ok()) << entries.status().ToString();
    if (!entries.ok()) return out;
    for (const auto& e : *entries) {
      auto bytes = store_->ReadBytes(e);
      EXPECT_TRUE(bytes.ok()) << bytes.status().ToString();
      if (!bytes.ok()) continue;
      auto h = DecodeSegmentHeader(*bytes);
      EXPECT_TRUE(h.ok()) << h.status().ToString();
      if (h.ok()) out.push_back(std::move(h).value());
    }
    return out;
  }

  // Sequences one apart; within a chain, txids contiguous and each segment
  // linked to the one before it.
  static void ExpectContiguous(const std::vector<DecodedSegmentHeader>& headers) {
    for (size_t i = 1; i < headers.size(); ++i) {
      const SegmentHeader& a = headers[i - 1].header;
      const SegmentHeader& b = headers[i].header;
      EXPECT_EQ(b.sequence, a.sequence + 1) << "segment " << b.sequence;
      if (b.chain_start()) continue;
      EXPECT_EQ(b.first_txid, a.last_txid + 1) << "segment " << b.sequence;
      EXPECT_EQ(b.previous_sha256, headers[i - 1].segment_sha256) << "segment " << b.sequence;
      EXPECT_EQ(b.db_checksum_before, a.db_checksum_after) << "segment " << b.sequence;
      EXPECT_EQ(b.db_pages_before, a.db_pages_after) << "segment " << b.sequence;
    }
  }

  // The final checkpoint and close, then the replay of the whole store must
  // give the live file, byte for byte.
  void ExpectReplayEqualsLive(bool from_base) {
    ASSERT_EQ(Checkpoint(), SQLITE_OK);
    CloseWriter();
    ExpectContiguous(Headers());
    const std::string replayed = tmp_.Sub("replayed-" + std::to_string(++replays_) + ".db");
    auto summary = ReplaySegments(*store_, replayed);
    ASSERT_TRUE(summary.ok()) << summary.status().ToString();
    EXPECT_EQ(summary->from_base, from_base);
    EXPECT_EQ(summary->last_txid, txid_);
    auto live = DbChecksum::ComputeFromFile(db_path_, kCapturePageSize);
    auto copy = DbChecksum::ComputeFromFile(replayed, kCapturePageSize);
    ASSERT_TRUE(live.ok()) << live.status().ToString();
    ASSERT_TRUE(copy.ok()) << copy.status().ToString();
    EXPECT_EQ(DbChecksumHex(copy->Value()), DbChecksumHex(live->Value()));
    EXPECT_EQ(DbChecksumHex(summary->db_checksum), DbChecksumHex(live->Value()));
    auto a = ReadWholeFile(db_path_);
    auto b = ReadWholeFile(replayed);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_TRUE(*a == *b) << "the replayed database (" << b->size() << " bytes) differs from the live one ("
                          << a->size() << " bytes)";
  }

  TempDir tmp_;
  std::string db_path_;
  StillClock clock_;
  MetricsRegistry metrics_;
  std::unique_ptr<SegmentStore> store_;
  sqlite3* db_ = nullptr;
  std::unique_ptr<WalCapture> capture_;
  int64_t txid_ = -1;  // the last committed txid
  uint32_t wal_commit_frame_ = 0;  // the last commit's frame, from the wal hook
  int replays_ = 0;
};

}  // namespace walship::testing
