#include "node/store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "base/sha256.h"
#include "node/metered_vfs.h"
#include "tests/support/store_fixture.h"
#include "tests/support/temp_dir.h"

namespace walship {
namespace {

using walship::testing::DeleteOp;
using walship::testing::PutOp;
using walship::testing::SubmitEach;
using walship::testing::TempDir;
using walship::testing::WriterGate;
using Strings = std::vector<std::string>;

class StoreTest : public walship::testing::OpenStoreTest {
 protected:

  void Reopen() {
    store_.reset();
    Open();
  }

  WriteOutcome Put(const std::string& key, const std::string& content) { return store_->Write({PutOp(key, content)}); }

  Strings ListKeys(const std::string& prefix, const std::optional<std::string>& after, int64_t limit,
                   std::optional<std::string>* more = nullptr) {
    auto page = store_->List(prefix, after, limit);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    Strings keys;
    if (!page.ok()) return keys;
    for (const auto& r : page->items) keys.push_back(r.key);
    if (more) *more = page->last_key_if_more;
    return keys;
  }

};

TEST_F(StoreTest, OpenCreatesTheDatabaseAndIsReady) {
  Open();
  EXPECT_TRUE(store_->Ready().ok());
  EXPECT_EQ(store_->database_path(), tmp_.Sub("data/index.db"));
  EXPECT_TRUE(std::filesystem::exists(tmp_.Sub("data/index.db")));
  EXPECT_TRUE(std::filesystem::exists(tmp_.Sub("data/LOCK")));
  EXPECT_EQ(store_->position(), (Position{1, 0}));
}

TEST_F(StoreTest, PutGetReplaceDelete) {
  Open();
  WriteOutcome created = store_->Write({PutOp("notes/a", "first", R"({"tag":"x"})")});
  ASSERT_TRUE(created.status.ok()) << created.status.ToString();
  ASSERT_EQ(created.results.size(), 1u);
  EXPECT_TRUE(created.results[0].created);
  EXPECT_EQ(created.results[0].record.version, 1);
  EXPECT_EQ(created.position.ToString(), "1/1");

  auto got = store_->Get("notes/a");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->content, "first");
  EXPECT_EQ(got->metadata_json, R"({"tag":"x"})");
  EXPECT_EQ(got->version, 1);
  EXPECT_EQ(got->sha256, Sha256Hex("first"));
  EXPECT_EQ(got->created_at_ms, 1'700'000'000'000);
  EXPECT_EQ(got->updated_at_ms, 1'700'000'000'000);

  clock_.AdvanceMillis(5'000);
  WriteOutcome replaced = Put("notes/a", "second");
  ASSERT_TRUE(replaced.status.ok()) << replaced.status.ToString();
  EXPECT_FALSE(replaced.results[0].created);
  EXPECT_EQ(replaced.results[0].record.version, 2);
  EXPECT_EQ(replaced.position.ToString(), "1/2");
  got = store_->Get("notes/a");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->content, "second");
  EXPECT_EQ(got->metadata_json, "{}");
  EXPECT_EQ(got->version, 2);
  EXPECT_EQ(got->created_at_ms, 1'700'000'000'000);
  EXPECT_EQ(got->updated_at_ms, 1'700'000'005'000);

  WriteOutcome deleted = store_->Write({DeleteOp("notes/a")});
  ASSERT_TRUE(deleted.status.ok()) << deleted.status.ToString();
  EXPECT_EQ(deleted.results[0].kind, WriteOp::Kind::kDelete);
  EXPECT_EQ(deleted.results[0].record.version, 2);
  EXPECT_EQ(deleted.position.ToString(), "1/3");
  got = store_->Get("notes/a");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), Code::kNotFound);
  EXPECT_EQ(got.status().message(), "archive notes/a does not exist");
  EXPECT_EQ(store_->position().ToString(), "1/3");
}

TEST_F(StoreTest, FailedPreconditionsChangeNothingAndUseNoTxid) {
  Open();
  ASSERT_TRUE(Put("k", "v1").status.ok());

  WriteOp create_only = PutOp("k", "v2");
  create_only.if_none_match_any = true;
  WriteOutcome o = store_->Write({create_only});
  EXPECT_EQ(o.status.code(), Code::kPreconditionFailed);
  EXPECT_EQ(o.status.message(), "archive k already exists (version 1) and If-None-Match: * was given");
  EXPECT_TRUE(o.results.empty());

  WriteOp stale = PutOp("k", "v2");
  stale.if_match = 5;
  o = store_->Write({stale});
  EXPECT_EQ(o.status.code(), Code::kPreconditionFailed);
  EXPECT_EQ(o.status.message(), "archive k is at version 1, If-Match expected version 5");

  o = store_->Write({DeleteOp("ghost")});
  EXPECT_EQ(o.status.code(), Code::kNotFound);
  EXPECT_EQ(o.status.message(), "archive ghost does not exist");

  EXPECT_EQ(store_->Get("k")->content, "v1");
  EXPECT_EQ(store_->position().ToString(), "1/1");

  WriteOp fresh = PutOp("k", "v2");
  fresh.if_match = 1;
  o = store_->Write({fresh});
  ASSERT_TRUE(o.status.ok()) << o.status.ToString();
  EXPECT_EQ(o.position.ToString(), "1/2");
}

TEST_F(StoreTest, BatchIsAtomicAllOrNothing) {
  Open();
  ASSERT_TRUE(Put("keep", "original").status.ok());
  WriteOutcome o = store_->Write({PutOp("a", "1"), PutOp("keep", "changed"), DeleteOp("ghost")});
  EXPECT_EQ(o.status.code(), Code::kNotFound);
  EXPECT_EQ(o.status.message(), "ops[2]: archive ghost does not exist");
  EXPECT_TRUE(o.results.empty());
  EXPECT_EQ(store_->Get("a").status().code(), Code::kNotFound);
  EXPECT_EQ(store_->Get("keep")->content, "original");
  EXPECT_EQ(store_->Get("keep")->version, 1);
  EXPECT_EQ(store_->position().ToString(), "1/1");
}

TEST_F(StoreTest, BatchAppliesInOrderInOneTransaction) {
  Open();
  WriteOp second = PutOp("a", "two");
  second.if_match = 1;  // sees the first op's write
  WriteOutcome o = store_->Write({PutOp("a", "one"), second, PutOp("b", "bee"), DeleteOp("b")});
  ASSERT_TRUE(o.status.ok()) << o.status.ToString();
  ASSERT_EQ(o.results.size(), 4u);
  EXPECT_TRUE(o.results[0].created);
  EXPECT_EQ(o.results[1].record.version, 2);
  EXPECT_EQ(o.results[3].kind, WriteOp::Kind::kDelete);
  EXPECT_EQ(o.position.ToString(), "1/1");  // one transaction, one txid
  EXPECT_EQ(store_->Get("a")->content, "two");
  EXPECT_EQ(store_->Get("b").status().code(), Code::kNotFound);
}

TEST_F(StoreTest, FailingRequestInAGroupFailsAlone) {
  Open();
  ASSERT_TRUE(Put("taken", "x").status.ok());  // 1/1

  WriterGate gate;
  ASSERT_TRUE(store_->Submit(WriteRequest{{PutOp("gate", "g")}, gate.Callback()}).ok());
  gate.WaitUntilHeld();  // the writer is busy: what follows queues up as one group
  EXPECT_TRUE(gate.outcome().status.ok());
  EXPECT_EQ(gate.outcome().position.ToString(), "1/2");

  constexpr int kRequests = 20;
  std::vector<std::promise<WriteOutcome>> promises(kRequests);
  std::vector<std::thread> threads;
  for (int i = 0; i < kRequests; ++i) {
    threads.emplace_back([&, i] {
      WriteOp op = PutOp("g/" + std::to_string(i), "content " + std::to_string(i));
      if (i == 7) {  // create-only on a key that exists: fails its precondition
        op.key = "taken";
        op.if_none_match_any = true;
      }
      if (i == 13) op = DeleteOp("ghost");  // fails: not found
      Status s = store_->Submit(
          WriteRequest{{op}, [&promises, i](WriteOutcome o) { promises[i].set_value(std::move(o)); }});
      ASSERT_TRUE(s.ok()) << s.ToString();
    });
  }
  for (auto& t : threads) t.join();
  gate.Release();

  for (int i = 0; i < kRequests; ++i) {
    WriteOutcome o = promises[i].get_future().get();
    if (i == 7) {
      EXPECT_EQ(o.status.code(), Code::kPreconditionFailed);
      EXPECT_EQ(o.status.message(), "archive taken already exists (version 1) and If-None-Match: * was given");
    } else if (i == 13) {
      EXPECT_EQ(o.status.code(), Code::kNotFound);
      EXPECT_EQ(o.status.message(), "archive ghost does not exist");
    } else {
      ASSERT_TRUE(o.status.ok()) << i << ": " << o.status.ToString();
      EXPECT_EQ(o.position.ToString(), "1/3") << "request " << i << " was not in the same group";
      auto got = store_->Get("g/" + std::to_string(i));
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      EXPECT_EQ(got->content, "content " + std::to_string(i));
    }
  }
  EXPECT_EQ(store_->Get("taken")->content, "x");
  EXPECT_EQ(store_->position().ToString(), "1/3");
}

TEST_F(StoreTest, RequestsInAGroupSeeEarlierRequestsInQueueOrder) {
  Open();
  WriterGate gate;
  ASSERT_TRUE(store_->Submit(WriteRequest{{PutOp("gate", "g")}, gate.Callback()}).ok());
  gate.WaitUntilHeld();

  WriteOp create = PutOp("k", "one");
  create.if_none_match_any = true;
  WriteOp update = PutOp("k", "two");
  update.if_match = 1;
  // The second create fails: the first one created it in the same transaction.
  auto p = SubmitEach(*store_, {{create}, {create}, {update}});
  gate.Release();

  WriteOutcome first = p[0].get();
  WriteOutcome second = p[1].get();
  WriteOutcome third = p[2].get();
  ASSERT_TRUE(first.status.ok()) << first.status.ToString();
  EXPECT_EQ(second.status.code(), Code::kPreconditionFailed);
  ASSERT_TRUE(third.status.ok()) << third.status.ToString();
  EXPECT_EQ(third.results[0].record.version, 2);
  EXPECT_EQ(first.position, third.position);
  EXPECT_EQ(store_->Get("k")->content, "two");
}

TEST_F(StoreTest, GroupWhereEveryRequestFailsUsesNoTxid) {
  Open();
  ASSERT_TRUE(Put("a", "x").status.ok());
  WriterGate gate;
  ASSERT_TRUE(store_->Submit(WriteRequest{{PutOp("gate", "g")}, gate.Callback()}).ok());
  gate.WaitUntilHeld();
  auto p = SubmitEach(*store_, {{DeleteOp("ghost0")}, {DeleteOp("ghost1")}, {DeleteOp("ghost2")}});
  gate.Release();
  for (auto& f : p) EXPECT_EQ(f.get().status.code(), Code::kNotFound);
  EXPECT_EQ(store_->position().ToString(), "1/2");
  WriteOutcome next = Put("b", "y");
  ASSERT_TRUE(next.status.ok());
  EXPECT_EQ(next.position.ToString(), "1/3");  // no gap
}

TEST_F(StoreTest, ConcurrentWritersGetDurableDistinctOrderedPositions) {
  Open();
  constexpr int kThreads = 8;
  constexpr int kPerThread = 25;
  std::mutex mu;
  std::map<std::string, Position> acked;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Position last{1, 0};
      for (int i = 0; i < kPerThread; ++i) {
        std::string key = "t" + std::to_string(t) + "/" + std::to_string(i);
        WriteOutcome o = store_->Write({PutOp(key, "body of " + key)});
        ASSERT_TRUE(o.status.ok()) << o.status.ToString();
        // One client's writes are committed in order.
        EXPECT_GT(o.position.txid, last.txid);
        last = o.position;
        std::lock_guard lock(mu);
        acked[key] = o.position;
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(acked.size(), static_cast<size_t>(kThreads * kPerThread));
  const int64_t final_txid = store_->position().txid;
  std::set<int64_t> txids;
  for (const auto& [key, pos] : acked) {
    EXPECT_EQ(pos.timeline, 1);
    EXPECT_GE(pos.txid, 1);
    EXPECT_LE(pos.txid, final_txid);
    txids.insert(pos.txid);
    auto got = store_->Get(key);
    ASSERT_TRUE(got.ok()) << key;
    EXPECT_EQ(got->content, "body of " + key);
  }
  // Every txid was used by at least one request: each group advances it by exactly one.
  EXPECT_EQ(static_cast<int64_t>(txids.size()), final_txid);
  Histogram& groups = metrics_.GetHistogram("walship_group_commit_requests", "", SizeBuckets());
  EXPECT_EQ(static_cast<int64_t>(groups.Count()), final_txid);
  EXPECT_DOUBLE_EQ(groups.Sum(), kThreads * kPerThread);
}

TEST_F(StoreTest, DataAndPositionSurviveCloseAndReopen) {
  Open();
  ASSERT_TRUE(Put("a", "alpha").status.ok());
  ASSERT_TRUE(Put("b", "beta").status.ok());
  ASSERT_TRUE(store_->Write({DeleteOp("a")}).status.ok());
  EXPECT_EQ(store_->position().ToString(), "1/3");
  Reopen();
  EXPECT_EQ(store_->position().ToString(), "1/3");
  EXPECT_EQ(store_->Get("b")->content, "beta");
  EXPECT_EQ(store_->Get("a").status().code(), Code::kNotFound);
  WriteOutcome next = Put("c", "gamma");
  ASSERT_TRUE(next.status.ok());
  EXPECT_EQ(next.position.ToString(), "1/4");
  Reopen();
  EXPECT_EQ(store_->position().ToString(), "1/4");
}

TEST_F(StoreTest, CloseCommitsEverythingQueued) {
  Open();
  constexpr int kRequests = 50;
  std::atomic<int> ok{0};
  std::atomic<int> done{0};
  for (int i = 0; i < kRequests; ++i) {
    ASSERT_TRUE(store_
                    ->Submit(WriteRequest{{PutOp("q/" + std::to_string(i), "x")},
                                          [&](WriteOutcome o) {
                                            if (o.status.ok()) ++ok;
                                            ++done;
                                          }})
                    .ok());
  }
  store_->Close();
  EXPECT_EQ(done.load(), kRequests);
  EXPECT_EQ(ok.load(), kRequests);
  Reopen();
  auto page = store_->List("q/", std::nullopt, 1000);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->items.size(), static_cast<size_t>(kRequests));
}

TEST_F(StoreTest, ClosedStoreRefusesWithShuttingDown) {
  Open();
  ASSERT_TRUE(Put("a", "x").status.ok());
  store_->Close();
  store_->Close();  // idempotent
  WriteOutcome o = Put("b", "y");
  EXPECT_EQ(o.status.code(), Code::kUnavailable);
  EXPECT_EQ(o.status.reason(), "shutting_down");
  EXPECT_EQ(o.status.message(), "the store is closed");
  EXPECT_EQ(store_->Get("a").status().reason(), "shutting_down");
  EXPECT_EQ(store_->List("", std::nullopt, 10).status().code(), Code::kUnavailable);
  EXPECT_EQ(store_->Search("x", 10).status().code(), Code::kUnavailable);
  Status ready = store_->Ready();
  EXPECT_EQ(ready.code(), Code::kUnavailable);
  EXPECT_EQ(ready.message(), "the store is closed");
}

TEST_F(StoreTest, SecondOpenOfTheSameDataDirIsRefused) {
  Open();
  MetricsRegistry other_metrics;
  auto second = Store::Open(config_, clock_, other_metrics);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Code::kUnavailable);
  EXPECT_EQ(second.status().message(), "open store in " + config_.data_dir + ": data folder " + config_.data_dir +
                                           " is in use by another walship process (pid " +
                                           std::to_string(::getpid()) + "): lock " + config_.data_dir +
                                           "/LOCK is held");
  // The first store is unaffected.
  EXPECT_TRUE(store_->Ready().ok());
  EXPECT_TRUE(Put("still", "writable").status.ok());
}

TEST_F(StoreTest, DataDirThatIsAFileIsRefused) {
  ASSERT_TRUE(WriteFileAtomically(tmp_.Sub("data"), "not a dir").ok());
  auto s = Store::Open(config_, clock_, metrics_);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(s.status().message(),
            "open store in " + config_.data_dir + ": " + config_.data_dir + " exists and is not a directory");
}

TEST_F(StoreTest, ListPaginatesWithinAPrefix) {
  Open();
  for (const char* k : {"notes/c", "notes/a", "notes/e", "notes/b", "notes/d", "notesx", "other/a"}) {
    ASSERT_TRUE(Put(k, std::string("content of ") + k).status.ok());
  }
  std::optional<std::string> more;
  EXPECT_EQ(ListKeys("notes/", std::nullopt, 2, &more), (Strings{"notes/a", "notes/b"}));
  ASSERT_TRUE(more.has_value());
  EXPECT_EQ(ListKeys("notes/", more, 2, &more), (Strings{"notes/c", "notes/d"}));
  ASSERT_TRUE(more.has_value());
  EXPECT_EQ(ListKeys("notes/", more, 2, &more), (Strings{"notes/e"}));
  EXPECT_FALSE(more.has_value());
  EXPECT_EQ(ListKeys("", std::nullopt, 100).size(), 7u);

  auto page = store_->List("notes/a", std::nullopt, 10);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].content_bytes, static_cast<int64_t>(std::string("content of notes/a").size()));
  EXPECT_EQ(page->items[0].version, 1);
}

TEST_F(StoreTest, SearchRanksAndSeesNewWrites) {
  Open();
  ASSERT_TRUE(Put("fruit/one", "apple cherry kiwi lemon").status.ok());
  ASSERT_TRUE(Put("fruit/three", "apple apple apple cherry").status.ok());
  ASSERT_TRUE(Put("veg", "carrot leek onion potato").status.ok());
  auto hits = store_->Search("apple", 10);
  ASSERT_TRUE(hits.ok()) << hits.status().ToString();
  ASSERT_EQ(hits->size(), 2u);
  EXPECT_EQ((*hits)[0].key, "fruit/three");
  EXPECT_EQ((*hits)[1].key, "fruit/one");
  EXPECT_GT((*hits)[0].score, (*hits)[1].score);

  // Replacing content re-indexes it at once.
  ASSERT_TRUE(Put("fruit/three", "banana").status.ok());
  hits = store_->Search("apple", 10);
  ASSERT_TRUE(hits.ok());
  ASSERT_EQ(hits->size(), 1u);
  EXPECT_EQ((*hits)[0].key, "fruit/one");
  hits = store_->Search("banana", 10);
  ASSERT_TRUE(hits.ok());
  ASSERT_EQ(hits->size(), 1u);
  EXPECT_EQ((*hits)[0].version, 2);

  ASSERT_TRUE(store_->Write({DeleteOp("fruit/one")}).status.ok());
  hits = store_->Search("apple", 10);
  ASSERT_TRUE(hits.ok());
  EXPECT_TRUE(hits->empty());
  EXPECT_EQ(store_->Search("", 10).status().message(), "search query has no words");
}

TEST_F(StoreTest, ReadsDoNotWaitForABusyWriter) {
  Open();
  ASSERT_TRUE(Put("a", "x").status.ok());
  WriterGate gate;
  ASSERT_TRUE(store_->Submit(WriteRequest{{PutOp("b", "y")}, gate.Callback()}).ok());
  gate.WaitUntilHeld();  // the writer thread is stuck; readers must not be
  auto got = store_->Get("b");  // committed before the callback ran
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->content, "y");
  EXPECT_EQ(store_->List("", std::nullopt, 10)->items.size(), 2u);
  gate.Release();
}

// --- Failures of Store::Open after the data folder is locked ---------------
//
// These run in a child process (a death test) so that a crash in the failure
// path fails only this test, not the whole suite.

bool CheckOpenFails(const Config& config, Code code, const std::string& message) {
  ManualClock clock;
  MetricsRegistry metrics;
  auto s = Store::Open(config, clock, metrics);
  if (s.ok()) {
    std::fprintf(stderr, "Store::Open succeeded\n");
    return false;
  }
  bool good = s.status().code() == code && s.status().message() == message;
  if (!good) std::fprintf(stderr, "Store::Open gave: %s\n", s.status().ToString().c_str());
  // A failed open must release the data folder.
  auto lock = DirectoryLock::Acquire(config.data_dir);
  if (!lock.ok()) {
    std::fprintf(stderr, "data folder still locked: %s\n", lock.status().ToString().c_str());
    good = false;
  }
  return good;
}

TEST(StoreOpenFailureTest, NewerSchemaIsRefusedAndLeftUntouched) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        TempDir tmp;
        Config config;
        config.data_dir = tmp.Sub("data");
        bool good = EnsureDirectory(config.data_dir).ok();
        {
          // As a newer walship would have left it: WAL mode, schema version 99.
          auto db = SqliteDb::Open(config.DatabasePath(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
          good = good && db.ok() &&
                 (*db)->Exec("PRAGMA journal_mode=WAL; CREATE TABLE schema_version (version INTEGER NOT NULL);"
                             "INSERT INTO schema_version VALUES (99); CREATE TABLE future (x)")
                     .ok();
        }
        std::string before = ReadWholeFile(config.DatabasePath()).value();
        good = CheckOpenFails(config, Code::kUnsupported,
                              "open store in " + config.data_dir +
                                  ": migrate schema: database is at schema version 99, newer than this walship "
                                  "knows (3)") &&
               good;
        auto after = ReadWholeFile(config.DatabasePath());
        if (!after.ok() || Sha256Hex(*after) != Sha256Hex(before)) {
          std::fprintf(stderr, "the database file changed\n");
          good = false;
        }
        std::filesystem::remove_all(tmp.path());
        std::_Exit(good ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST(StoreOpenFailureTest, GarbageDatabaseIsReportedAsCorruption) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        TempDir tmp;
        Config config;
        config.data_dir = tmp.Sub("data");
        bool good = EnsureDirectory(config.data_dir).ok() &&
                    WriteFileAtomically(config.DatabasePath(), std::string(8192, 'x')).ok();
        good = CheckOpenFails(config, Code::kCorruption,
                              "open store in " + config.data_dir +
                                  ": prepare \"PRAGMA journal_mode=WAL\": file is not a database") &&
               good;
        std::filesystem::remove_all(tmp.path());
        std::_Exit(good ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace walship
