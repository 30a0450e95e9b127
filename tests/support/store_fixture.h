// Shared pieces of the node unit tests: write ops, a fixture with a migrated
// database in a temporary folder, and a gate that holds the writer thread.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/sha256.h"
#include "node/archive.h"
#include "node/fts_sync.h"
#include "node/metered_vfs.h"
#include "node/schema.h"
#include "node/sqlite_db.h"
#include "node/store.h"
#include "node/writer.h"
#include "tests/support/temp_dir.h"

namespace walship::testing {

inline WriteOp PutOp(const std::string& key, const std::string& content, const std::string& metadata = "{}") {
  WriteOp op;
  op.kind = WriteOp::Kind::kPut;
  op.key = key;
  op.content = content;
  op.metadata_json = metadata;
  op.sha256 = Sha256Hex(content);
  return op;
}

inline WriteOp DeleteOp(const std::string& key) {
  WriteOp op;
  op.kind = WriteOp::Kind::kDelete;
  op.key = key;
  return op;
}

// A database in a temporary folder with the current schema and the FTS
// staging table, as the writer opens it.
class MigratedDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = SqliteDb::Open(tmp_.Sub("index.db"), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
    ASSERT_TRUE(MigrateSchema(*db_).ok());
    ASSERT_TRUE(PrepareFtsStaging(*db_).ok());
  }

  TempDir tmp_;
  std::unique_ptr<SqliteDb> db_;
};

// A Store on a fresh data folder: adjust config_, then Open(). The store is
// closed, and the VFS's pointer to this test's fsync histogram cleared, at
// the end.
class OpenStoreTest : public ::testing::Test {
 protected:
  OpenStoreTest() { config_.data_dir = tmp_.Sub("data"); }
  void TearDown() override {
    store_.reset();
    RegisterMeteredVfs(nullptr).IgnoreError();  // only clears the pointer
  }
  void Open() {
    auto s = Store::Open(config_, clock_, metrics_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
  }

  TempDir tmp_;
  Config config_;
  ManualClock clock_{1'700'000'000'000};
  MetricsRegistry metrics_;
  std::unique_ptr<Store> store_;
};

// Queues one request per list of ops and returns the futures of their
// outcomes. With the writer held by a WriterGate, they commit as one group.
// Target is a Store or a Writer.
template <typename Target>
std::vector<std::future<WriteOutcome>> SubmitEach(Target& target, const std::vector<std::vector<WriteOp>>& requests) {
  std::vector<std::future<WriteOutcome>> outcomes;
  for (const auto& ops : requests) {
    auto done = std::make_shared<std::promise<WriteOutcome>>();
    outcomes.push_back(done->get_future());
    Status s = target.Submit(WriteRequest{ops, [done](WriteOutcome o) { done->set_value(std::move(o)); }});
    EXPECT_TRUE(s.ok()) << s.ToString();
    if (!s.ok()) done->set_value(WriteOutcome{s, {}, {}});  // never leave a future hanging
  }
  return outcomes;
}

// Polls `pred` every millisecond until it holds (true) or `timeout` passes
// (false): for what another thread (the writer, the sealer) will do.
template <typename Pred>
bool WaitFor(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// Holds the writer thread inside a request's completion until released, so
// requests submitted meanwhile are queued and committed together as one group.
// The state is shared with the callback: the writer may still be returning
// from it after the test has moved on.
class WriterGate {
 public:
  WriterGate() : state_(std::make_shared<State>()) {
    state_->entered_future = state_->entered.get_future().share();
    state_->release_future = state_->release.get_future().share();
  }
  std::function<void(WriteOutcome)> Callback() {
    return [state = state_](WriteOutcome o) {
      state->outcome = std::move(o);
      state->entered.set_value();
      state->release_future.wait();
    };
  }
  void WaitUntilHeld() { state_->entered_future.wait(); }
  void Release() { state_->release.set_value(); }
  const WriteOutcome& outcome() const { return state_->outcome; }  // after WaitUntilHeld()

 private:
  struct State {
    WriteOutcome outcome;
    std::promise<void> entered;
    std::promise<void> release;
    std::shared_future<void> entered_future;
    std::shared_future<void> release_future;
  };
  std::shared_ptr<State> state_;
};

}  // namespace walship::testing
