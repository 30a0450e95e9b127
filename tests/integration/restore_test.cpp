// `walship restore` on the folders of real walship processes: a corrupted
// database comes back with every acknowledged write and the damaged files
// quarantined; restores to 10 positions recorded under load each equal the
// state at that position exactly; a damaged segment in the middle is
// reported with the exact txid range lost, and fetched from the standby
// with nothing lost; a kill -9 at any moment of a restore leaves the
// original files untouched or the restored database complete.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "base/fs.h"
#include "tests/support/failure_log.h"
#include "tests/support/node_process.h"
#include "tests/support/run_helpers.h"
#include "tests/support/sqlite_check.h"
#include "tests/support/temp_dir.h"

namespace walship::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// An acknowledged write: the key's content after it (nullopt: deleted).
struct AckedWrite {
  int64_t txid = 0;
  std::string key;
  std::optional<std::string> content;
};

using Dump = std::map<std::string, std::string>;  // key -> content, sorted

// The database file's rows, read without taking any lock or making a WAL.
Dump ReadDump(const std::string& db_path) {
  Dump out;
  sqlite3* db = nullptr;
  const std::string uri = "file:" + db_path + "?immutable=1";
  if (sqlite3_open_v2(uri.c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << "open " << db_path << ": " << sqlite3_errmsg(db);
    sqlite3_close(db);
    return out;
  }
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT key, content FROM archives", -1, &st, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << "read " << db_path << ": " << sqlite3_errmsg(db);
  } else {
    while (sqlite3_step(st) == SQLITE_ROW) {
      const auto* key = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
      const auto* content = static_cast<const char*>(sqlite3_column_blob(st, 1));
      out[key] = std::string(content == nullptr ? "" : content, static_cast<size_t>(sqlite3_column_bytes(st, 1)));
    }
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

// The state at `txid`: every acknowledged write at or before it, in order.
Dump DumpAt(const std::vector<AckedWrite>& writes, int64_t txid) {
  std::vector<const AckedWrite*> upto;
  for (const AckedWrite& w : writes) {
    if (w.txid <= txid) upto.push_back(&w);
  }
  std::stable_sort(upto.begin(), upto.end(), [](auto* a, auto* b) { return a->txid < b->txid; });
  Dump out;
  for (const AckedWrite* w : upto) {
    if (w->content) {
      out[w->key] = *w->content;
    } else {
      out.erase(w->key);
    }
  }
  return out;
}

void CopyTree(const std::string& from, const std::string& to) {
  std::error_code ec;
  fs::copy(from, to, fs::copy_options::recursive, ec);
  ASSERT_FALSE(ec) << "copy " << from << " to " << to << ": " << ec.message();
  fs::remove(to + "/LOCK", ec);  // the copy's own lock, taken afresh
}

class RestoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<NodeProcess> Start(const std::string& data_dir, const std::string& toml = "",
                                     std::vector<std::string> args = {}) {
    NodeOptions o;
    o.data_dir = data_dir;
    o.config_toml = toml;
    o.extra_args = std::move(args);
    std::string error;
    auto node = NodeProcess::Start(o, &error);
    EXPECT_NE(node, nullptr) << error;
    return node;
  }

  // `writers` threads, each owning its keys (so one key's writes are in
  // txid order), PUT and DELETE at random until `stop`.
  void Load(NodeProcess& node, int writers, const std::atomic<bool>& stop) {
    std::vector<std::thread> threads;
    for (int w = 0; w < writers; ++w) {
      threads.emplace_back([&, w] {
        auto client = node.Client();
        std::mt19937 rng(TestSeed() + static_cast<uint32_t>(w));
        std::map<std::string, bool> present;
        for (int n = 0; !stop.load(); ++n) {
          const std::string key = "w" + std::to_string(w) + "/k" + std::to_string(rng() % 12);
          AckedWrite acked{0, key, std::nullopt};
          const bool remove = present[key] && rng() % 4 == 0;
          if (!remove) acked.content = key + " write " + std::to_string(n) + std::string(rng() % 300, 'x');
          httplib::Result res = remove ? client->Delete(("/v1/archives/" + key).c_str())
                                       : client->Put(("/v1/archives/" + key).c_str(), *acked.content, "text/plain");
          if (!res || res->status >= 300) {
            failures_.Add(key + ": " + (res ? std::to_string(res->status) + " " + res->body : "no answer"));
            continue;
          }
          auto txid = ParsePosition(ParseBody(res->body).value("position", json()));
          if (!txid) {
            failures_.Add(key + ": no position in " + res->body);
            continue;
          }
          present[key] = acked.content.has_value();
          acked.txid = *txid;
          std::lock_guard lock(mu_);
          writes_.push_back(std::move(acked));
        }
      });
    }
    for (auto& t : threads) t.join();
  }

  // Runs the load for `ms`, with a backup requested half-way.
  void LoadFor(NodeProcess& node, int ms, bool backup_half_way) {
    std::atomic<bool> stop{false};
    std::thread load([&] { Load(node, 4, stop); });
    std::this_thread::sleep_for(std::chrono::milliseconds(ms / 2));
    if (backup_half_way) {
      auto res = node.Client()->Post("/v1/admin/backups", "", "application/json");
      EXPECT_TRUE(res && res->status == 202) << (res ? res->body : "no answer");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(ms / 2));
    stop = true;
    load.join();
    EXPECT_EQ(failures_.count(), 0) << failures_.Report();
  }

  int64_t LastTxid() {
    int64_t last = 0;
    for (const AckedWrite& w : writes_) last = std::max(last, w.txid);
    return last;
  }

  static int Restore(const std::vector<std::string>& args, std::string* output) {
    return RunWalship(WALSHIP_BINARY, args, output);
  }

  TempDir tmp_;
  std::mutex mu_;
  std::vector<AckedWrite> writes_;  // guarded by mu_ while Load runs
  FailureLog failures_;
};

constexpr const char* kFastCheckpoints = "[checkpoint]\ninterval_ms = 100\n";

TEST_F(RestoreTest, ACorruptedDatabaseComesBackWithEveryAcknowledgedWriteAndIsQuarantined) {
  const std::string data = tmp_.Sub("node");
  {
    auto node = Start(data, kFastCheckpoints);
    ASSERT_NE(node, nullptr);
    LoadFor(*node, 1500, /*backup_half_way=*/true);
    ASSERT_EQ(node->SignalAndWait(SIGTERM), 0);
  }
  const int64_t last = LastTxid();
  ASSERT_GT(last, 20);
  // A bit flip in the middle of the database file.
  const std::string db = data + "/index.db";
  auto bytes = ReadWholeFile(db);
  ASSERT_TRUE(bytes.ok());
  std::string damaged = *bytes;
  damaged[damaged.size() / 2] ^= 0x5a;
  damaged[damaged.size() / 2 + 1] ^= 0x5a;
  ASSERT_TRUE(WriteFileAtomically(db, damaged).ok());

  std::string out;
  ASSERT_EQ(Restore({"restore", "--data", data}, &out), 0) << out;
  EXPECT_NE(out.find("restored " + data + "/index.db to position 1/" + std::to_string(last)), std::string::npos)
      << out;
  EXPECT_EQ(IntegrityCheck(db), "ok");
  EXPECT_EQ(ReadDump(db), DumpAt(writes_, last));
  // The damaged file is kept, byte for byte, where the report says.
  std::smatch m;
  ASSERT_TRUE(std::regex_search(out, m, std::regex("are in (\\S+) \\(nothing was deleted\\)"))) << out;
  auto kept = ReadWholeFile(m[1].str() + "/index.db");
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  EXPECT_TRUE(*kept == damaged) << "the quarantined index.db is not the damaged file";
  EXPECT_FALSE(fs::exists(data + "/restore"));

  // The node serves it and goes on from where it was.
  auto node = Start(data, kFastCheckpoints);
  ASSERT_NE(node, nullptr);
  auto res = node->Client()->Put("/v1/archives/after", "after the restore", "text/plain");
  ASSERT_TRUE(res && res->status == 201) << (res ? res->body : "no answer");
  EXPECT_EQ(ParseBody(res->body).value("position", ""), "1/" + std::to_string(last + 1));
  ASSERT_EQ(node->SignalAndWait(SIGTERM), 0);
  ASSERT_EQ(Restore({"verify", "--data", data}, &out), 0) << out;
}

TEST_F(RestoreTest, TenPointsInTimeRecordedUnderLoadEachRestoreExactly) {
  const std::string data = tmp_.Sub("node");
  {
    // Points before the backup too: segment retention would remove their
    // segments once the backup is the oldest kept (docs/BACKUPS.md).
    auto node = Start(data, std::string(kFastCheckpoints) + "[segments]\nretention = false\n");
    ASSERT_NE(node, nullptr);
    LoadFor(*node, 3000, /*backup_half_way=*/true);
    ASSERT_EQ(node->SignalAndWait(SIGTERM), 0);
  }
  std::vector<int64_t> txids;
  for (const AckedWrite& w : writes_) txids.push_back(w.txid);
  std::sort(txids.begin(), txids.end());
  txids.erase(std::unique(txids.begin(), txids.end()), txids.end());
  ASSERT_GE(txids.size(), 40u);
  std::mt19937 rng(TestSeed());
  std::shuffle(txids.begin(), txids.end(), rng);
  txids.resize(10);
  for (int64_t txid : txids) {
    SCOPED_TRACE("restore to 1/" + std::to_string(txid));
    const std::string copy = tmp_.Sub("pitr-" + std::to_string(txid));
    CopyTree(data, copy);
    std::string out;
    ASSERT_EQ(Restore({"restore", "--data", copy, "--to-position", "1/" + std::to_string(txid)}, &out), 0) << out;
    EXPECT_NE(out.find("to position 1/" + std::to_string(txid)), std::string::npos) << out;
    EXPECT_EQ(ReadDump(copy + "/index.db"), DumpAt(writes_, txid));
    EXPECT_EQ(IntegrityCheck(copy + "/index.db"), "ok");
    if (txid != LastTxid()) {
      EXPECT_NE(out.find("continues on timeline 2"), std::string::npos) << out;
      EXPECT_EQ(QueryIntReadOnly(copy + "/index.db", "SELECT timeline FROM position"), 2);
    }
    fs::remove_all(copy);
  }
  // A dry run prints the plan and changes nothing.
  const auto before = ReadWholeFile(data + "/index.db");
  std::string out;
  ASSERT_EQ(Restore({"restore", "--data", data, "--dry-run"}, &out), 0) << out;
  EXPECT_NE(out.find("plan (dry run, nothing changed)"), std::string::npos) << out;
  EXPECT_NE(out.find("target: position 1/" + std::to_string(LastTxid())), std::string::npos) << out;
  EXPECT_TRUE(ReadWholeFile(data + "/index.db").value() == before.value());
  EXPECT_FALSE(fs::exists(data + "/quarantine"));
}

// The segment file in `dir` holding `txid`.
std::string SegmentHolding(const std::string& dir, int64_t txid, int64_t* first, int64_t* last) {
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    std::smatch m;
    if (!std::regex_match(name, m, std::regex("(\\d{20})-(\\d{20})-(\\d{20})\\.wseg"))) continue;
    *first = std::stoll(m[2]);
    *last = std::stoll(m[3]);
    if (*first <= txid && txid <= *last) return e.path().string();
  }
  return "";
}

TEST_F(RestoreTest, ADamagedSegmentIsReportedExactlyAndTheStandbysCopyLosesNothing) {
  auto standby = Start(tmp_.Sub("standby"), "", {"--role", "standby"});
  ASSERT_NE(standby, nullptr);
  const std::string data = tmp_.Sub("primary");
  {
    auto primary = Start(data, std::string(kFastCheckpoints) + "[replication]\nstandby = \"" + standby->url() +
                                   "\"\nmode = \"sync\"\n");
    ASSERT_NE(primary, nullptr);
    LoadFor(*primary, 1500, /*backup_half_way=*/false);
    ASSERT_EQ(primary->SignalAndWait(SIGTERM), 0);
  }
  const int64_t last = LastTxid();
  // Damage the body of a segment in the middle of the chain.
  int64_t first = 0, seg_last = 0;
  const std::string victim = SegmentHolding(data + "/segments", last / 2, &first, &seg_last);
  ASSERT_FALSE(victim.empty());
  auto bytes = ReadWholeFile(victim);
  ASSERT_TRUE(bytes.ok());
  std::string damaged = *bytes;
  damaged[damaged.size() - 5] ^= 0x01;
  ASSERT_TRUE(WriteFileAtomically(victim, damaged).ok());
  const std::string sequence = std::to_string(std::stoll(fs::path(victim).filename().string().substr(0, 20)));

  // Without another copy: restored up to the damage, the loss named exactly.
  const std::string alone = tmp_.Sub("alone");
  CopyTree(data, alone);
  std::string out;
  ASSERT_EQ(Restore({"restore", "--data", alone}, &out), 3) << out;
  EXPECT_NE(out.find("NOT RESTORED: transactions " + std::to_string(first) + "-" + std::to_string(last) +
                     " (segments " + sequence + "-"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("segment " + sequence + ": "), std::string::npos) << out;
  EXPECT_EQ(ReadDump(alone + "/index.db"), DumpAt(writes_, first - 1));
  EXPECT_EQ(QueryIntReadOnly(alone + "/index.db", "SELECT txid FROM position"), first - 1);

  // With the standby's copy: nothing lost, the store repaired; and the
  // newest segment, lost here too, comes from the standby as well.
  int64_t newest_first = 0, newest_last = 0;
  const std::string newest = SegmentHolding(data + "/segments", last, &newest_first, &newest_last);
  ASSERT_FALSE(newest.empty());
  ASSERT_NE(newest, victim);
  const std::string newest_bytes = ReadWholeFile(newest).value();
  ASSERT_TRUE(fs::remove(newest));
  ASSERT_EQ(Restore({"restore", "--data", data, "--fetch-from", standby->url()}, &out), 0) << out;
  EXPECT_NE(out.find("to position 1/" + std::to_string(last)), std::string::npos) << out;
  EXPECT_NE(out.find("(2 fetched) (1 of them after this store's newest)"), std::string::npos) << out;
  EXPECT_TRUE(ReadWholeFile(newest).value() == newest_bytes) << "the store holds the standby's copy";
  EXPECT_EQ(ReadDump(data + "/index.db"), DumpAt(writes_, last));
  EXPECT_TRUE(ReadWholeFile(victim).value() == *bytes) << "the store holds the standby's good copy";
  bool quarantined = false;
  for (const auto& e : fs::directory_iterator(data + "/segments/quarantine")) {
    quarantined |= ReadWholeFile(e.path().string()).value() == damaged;
  }
  EXPECT_TRUE(quarantined) << "the damaged copy is kept in segments/quarantine";
  ASSERT_EQ(Restore({"verify", "--data", data}, &out), 0) << out;
}

TEST_F(RestoreTest, AKillAtAnyMomentLeavesTheOriginalUntouchedOrTheRestoredComplete) {
  const std::string data = tmp_.Sub("node");
  {
    auto node = Start(data, kFastCheckpoints);
    ASSERT_NE(node, nullptr);
    LoadFor(*node, 1000, /*backup_half_way=*/false);
    node->Kill9();  // leaves a WAL: the original is index.db with its -wal
  }
  const int64_t last = LastTxid();
  const std::string env = "WALSHIP_FAILPOINT_RESTORE_STEP_SLEEP_MS=25";
  // How long a whole restore takes with the pauses, on a copy.
  const std::string timing = tmp_.Sub("timing");
  CopyTree(data, timing);
  const auto t0 = std::chrono::steady_clock::now();
  const pid_t whole = SpawnTo({WALSHIP_BINARY, "restore", "--data", timing}, tmp_.Sub("timing.out"), {env});
  int status = 0;
  ASSERT_EQ(::waitpid(whole, &status, 0), whole);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << Slurp(tmp_.Sub("timing.out"));
  const auto total = std::chrono::steady_clock::now() - t0;

  const auto original_db = ReadWholeFile(data + "/index.db").value();
  const auto original_wal = ReadWholeFile(data + "/index.db-wal").value();
  int untouched = 0, completed = 0;
  constexpr int kKills = 10;
  constexpr int kKillsInTheSwap = 4;
  for (int i = 0; i < kKills; ++i) {
    SCOPED_TRACE("kill " + std::to_string(i));
    const std::string copy = tmp_.Sub("kill-" + std::to_string(i));
    CopyTree(data, copy);
    const pid_t pid = SpawnTo({WALSHIP_BINARY, "restore", "--data", copy}, copy + ".out", {env});
    if (i < kKills - kKillsInTheSwap) {
      // Spread over the build, before the swap.
      std::this_thread::sleep_for(total * (i + 0.5) / (kKills - kKillsInTheSwap + 1));
    } else {
      // In the swap: once its intent is published, 0 to 3 steps (25 ms
      // each) into it. Timed from the start alone, a faster or slower run
      // than the timing one missed the swap altogether.
      const auto deadline = std::chrono::steady_clock::now() + total * 4;
      while (!fs::exists(copy + "/RESTORE-SWAP.json") && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(25 * (i - (kKills - kKillsInTheSwap))));
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    if (!fs::exists(copy + "/RESTORE-SWAP.json") && fs::exists(copy + "/index.db-wal")) {
      // Not swapped yet: the original files as they were.
      EXPECT_TRUE(ReadWholeFile(copy + "/index.db").value() == original_db);
      EXPECT_TRUE(ReadWholeFile(copy + "/index.db-wal").value() == original_wal);
      ++untouched;
    } else {
      ++completed;
    }
    // Either way the node starts on a whole database with every write.
    auto node = Start(copy);
    ASSERT_NE(node, nullptr) << Slurp(copy + ".out");
    auto res = node->Client()->Get("/v1/status");
    ASSERT_TRUE(res && res->status == 200);
    EXPECT_EQ(ParseBody(res->body).value("position", ""), "1/" + std::to_string(last)) << res->body;
    ASSERT_EQ(node->SignalAndWait(SIGTERM), 0);
    EXPECT_FALSE(fs::exists(copy + "/RESTORE-SWAP.json"));
    EXPECT_FALSE(fs::exists(copy + "/restore"));
    EXPECT_EQ(ReadDump(copy + "/index.db"), DumpAt(writes_, last));
    fs::remove_all(copy);
  }
  EXPECT_GT(untouched, 0);
  EXPECT_GT(completed, 0);
}

// --- The brief's failures and SQLite's ways to corrupt a database ---------
//
// Each: a node under load is killed (-9) or stopped, the damage is done, the
// node does not serve the damaged database, and `walship restore` brings
// back a verified database with every acknowledged write the segment store
// holds (and, with a sound WAL, the ones after it).

// The highest txid any segment file in DATA/segments names.
int64_t StoreLastTxid(const std::string& data) {
  int64_t last = 0;
  for (const auto& e : fs::directory_iterator(data + "/segments")) {
    std::smatch m;
    const std::string name = e.path().filename().string();
    if (std::regex_match(name, m, std::regex("(\\d{20})-(\\d{20})-(\\d{20})\\.wseg"))) {
      last = std::max<int64_t>(last, std::stoll(m[3]));
    }
  }
  return last;
}

class DamageRestoreTest : public RestoreTest {
 protected:
  // Load for `ms` with no checkpoint (the WAL keeps every frame, segments
  // are collected every 100 ms), then kill -9.
  void LoadAndKill(const std::string& data, int ms) {
    auto node = Start(data, "[checkpoint]\ninterval_ms = 600000\n");
    ASSERT_NE(node, nullptr);
    LoadFor(*node, ms, /*backup_half_way=*/false);
    node->Kill9();
  }

  // The node either refuses to start or starts without being ready.
  void ExpectNotServed(const std::string& data, const std::string& why) {
    NodeOptions o;
    o.data_dir = data;
    o.start_timeout_ms = 8000;
    std::string error;
    auto node = NodeProcess::Start(o, &error);
    if (node == nullptr) {
      EXPECT_NE(Slurp(data + ".log").find(why), std::string::npos) << Slurp(data + ".log");
      return;
    }
    auto res = node->Client()->Get("/readyz");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 503) << res->body;
    EXPECT_NE(node->ReadLog().find(why), std::string::npos) << node->ReadLog();
    node->SignalAndWait(SIGTERM);
  }

  // Restores; the result holds every acknowledged write up to its position,
  // which is at least the store's end. Returns the exit code.
  int RestoreAndCheck(const std::string& data) {
    const int64_t store_last = StoreLastTxid(data);
    std::string out;
    const int code = Restore({"restore", "--data", data}, &out);
    EXPECT_TRUE(code == 0 || code == 3) << out;
    const int64_t txid = QueryIntReadOnly(data + "/index.db", "SELECT txid FROM position");
    EXPECT_GE(txid, store_last) << out;
    EXPECT_EQ(IntegrityCheck(data + "/index.db"), "ok");
    EXPECT_EQ(ReadDump(data + "/index.db"), DumpAt(writes_, txid)) << out;
    auto node = Start(data);
    EXPECT_NE(node, nullptr);
    if (node != nullptr) {
      auto res = node->Client()->Get("/readyz");
      EXPECT_TRUE(res && res->status == 200);
      node->SignalAndWait(SIGTERM);
    }
    return code;
  }
};

TEST_F(DamageRestoreTest, ABitFlipInAMiddleWalFrameWithCommitsAfterIt) {
  const std::string data = tmp_.Sub("node");
  LoadAndKill(data, 700);
  ASSERT_FALSE(DamageAMiddleWalFrame(data + "/index.db-wal").empty());
  ExpectNotServed(data, "the WAL holds committed transactions SQLite would drop");
  const int code = RestoreAndCheck(data);
  // Acknowledged writes only the WAL held, behind the damage, are named.
  if (QueryIntReadOnly(data + "/index.db", "SELECT txid FROM position") < LastTxid()) {
    EXPECT_EQ(code, 3);
  }
}

TEST_F(DamageRestoreTest, ADeletedWal) {
  const std::string data = tmp_.Sub("node");
  LoadAndKill(data, 700);
  ASSERT_TRUE(fs::remove(data + "/index.db-wal"));
  fs::remove(data + "/index.db-shm");
  ExpectNotServed(data, "behind the segment store");
  // Writes only the deleted WAL held are gone, and nothing can know them;
  // every one the segment store holds is back.
  EXPECT_EQ(RestoreAndCheck(data), 0);
}

TEST_F(DamageRestoreTest, ATruncatedDatabaseFile) {
  const std::string data = tmp_.Sub("node");
  {
    auto node = Start(data, kFastCheckpoints);
    ASSERT_NE(node, nullptr);
    LoadFor(*node, 700, /*backup_half_way=*/false);
    ASSERT_EQ(node->SignalAndWait(SIGTERM), 0);
  }
  const int64_t size = FileSizeOrZero(data + "/index.db");
  ASSERT_GT(size, 4 * 4096);
  fs::resize_file(data + "/index.db", static_cast<uintmax_t>(size / 2 / 4096 * 4096));
  ExpectNotServed(data, "cannot start");
  EXPECT_EQ(RestoreAndCheck(data), 0);
  EXPECT_EQ(QueryIntReadOnly(data + "/index.db", "SELECT txid FROM position"), LastTxid());
}

TEST_F(DamageRestoreTest, APageTheScrubFindsDamagedBeforeAnyQueryReadsIt) {
  const std::string data = tmp_.Sub("node");
  auto node = Start(data, std::string(kFastCheckpoints) +
                              "[check]\nquick_check_interval_s = 0\nscrub_interval_s = 1\n"
                              "scrub_pages_per_second = 100000\n");
  ASSERT_NE(node, nullptr);
  LoadFor(*node, 1000, /*backup_half_way=*/false);
  auto client = node->Client();
  bool settled = false;  // a checkpoint has put every page in the file
  for (int i = 0; i < 200 && !settled; ++i) {
    auto st = client->Get("/v1/status");
    settled = st && ParseBody(st->body).value("wal_bytes", -1) == 0;
    if (!settled) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ASSERT_TRUE(settled);
  const std::string db = data + "/index.db";
  {
    auto bytes = ReadWholeFile(db);
    ASSERT_TRUE(bytes.ok());
    const size_t pages = bytes->size() / 4096;
    ASSERT_GT(pages, 4u);
    const int fd = ::open(db.c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    const char flipped = static_cast<char>((*bytes)[(pages - 2) * 4096 + 2000] ^ 0x08);
    ASSERT_EQ(::pwrite(fd, &flipped, 1, static_cast<off_t>((pages - 2) * 4096 + 2000)), 1);
    ::close(fd);
  }
  json corruption;
  for (int i = 0; i < 400 && !corruption.is_object(); ++i) {
    auto st = client->Get("/v1/status");
    if (st) corruption = ParseBody(st->body)["corruption"];
    if (!corruption.is_object()) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ASSERT_TRUE(corruption.is_object()) << node->ReadLog();
  EXPECT_EQ(corruption["source"], "scrub");
  EXPECT_EQ(corruption["recommended"], "walship restore --data " + data);
  node->SignalAndWait(SIGTERM);
  node.reset();
  EXPECT_EQ(RestoreAndCheck(data), 0);
  EXPECT_EQ(QueryIntReadOnly(data + "/index.db", "SELECT txid FROM position"), LastTxid());
}

TEST_F(DamageRestoreTest, AnOlderDatabaseFilePairedWithTheWal) {
  // SQLite's "mispairing database files and hot journals": the WAL is the
  // node's, the database file an older copy of itself (from before the
  // last checkpoint, so the WAL does not cover what changed since).
  const std::string data = tmp_.Sub("node");
  const std::string toml = "[checkpoint]\ninterval_ms = 600000\n";
  std::string older;
  for (int round = 0; round < 2; ++round) {
    auto node = Start(data, toml);
    ASSERT_NE(node, nullptr);
    LoadFor(*node, 400, /*backup_half_way=*/false);
    if (round == 1) {
      // New rows on new pages, which the last round's WAL will not cover.
      auto client = node->Client();
      for (int i = 0; i < 40; ++i) {
        AckedWrite w{0, "round1/" + std::to_string(i), std::string(3000, static_cast<char>('a' + i % 26))};
        auto res = client->Put(("/v1/archives/" + w.key).c_str(), *w.content, "text/plain");
        ASSERT_TRUE(res && res->status == 201) << (res ? res->body : "no answer");
        w.txid = ParsePosition(ParseBody(res->body).value("position", json())).value_or(0);
        writes_.push_back(std::move(w));
      }
    }
    ASSERT_EQ(node->SignalAndWait(SIGTERM), 0);  // checkpoints everything into the file
    if (round == 0) older = ReadWholeFile(data + "/index.db").value();
  }
  auto node = Start(data, toml);
  ASSERT_NE(node, nullptr);
  LoadFor(*node, 400, /*backup_half_way=*/false);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // every commit collected into a segment
  node->Kill9();
  node.reset();
  ASSERT_EQ(StoreLastTxid(data), LastTxid()) << "a commit was left uncaptured; the test needs none";
  ASSERT_TRUE(WriteFileAtomically(data + "/index.db", older).ok());
  ExpectNotServed(data, "the file was damaged or replaced while the node was stopped");
  EXPECT_EQ(RestoreAndCheck(data), 0);
  EXPECT_EQ(QueryIntReadOnly(data + "/index.db", "SELECT txid FROM position"), LastTxid());
}

}  // namespace
}  // namespace walship::testing
