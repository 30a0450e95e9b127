// Backups of real walship processes on 127.0.0.1: taken while 8 clients
// write, restored forward with the segments after them to the primary's
// final state byte for byte; a kill -9 in the middle of one never leaves a
// backup listed as verified, and the next scheduled one runs; a standby takes
// its own; the CLI commands (`walship backup`, `walship verify`) as an
// operator or cron would run them.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "backup/restore_from_backup.h"
#include "base/fs.h"
#include "replication/db_checksum.h"
#include "replication/segment_store.h"
#include "tests/support/failure_log.h"
#include "tests/support/node_process.h"
#include "tests/support/run_helpers.h"
#include "tests/support/temp_dir.h"

namespace walship::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

std::string Content(const std::string& key) {
  std::string s = "content of " + key + ":";
  std::mt19937 g(static_cast<uint32_t>(std::hash<std::string>{}(key)));
  while (s.size() < 300 + g() % 2000) s += " word" + std::to_string(g() % 1000);
  return s;
}

class BackupTest : public ::testing::Test {
 protected:
  std::unique_ptr<NodeProcess> Start(const std::string& name, const std::string& toml,
                                     std::vector<std::string> env = {}, std::vector<std::string> args = {},
                                     int port = 0) {
    NodeOptions o;
    o.data_dir = tmp_.Sub(name);
    o.config_toml = toml;
    o.env = std::move(env);
    o.extra_args = std::move(args);
    o.listen = "127.0.0.1:" + std::to_string(port);
    std::string error;
    auto node = NodeProcess::Start(o, &error);
    EXPECT_NE(node, nullptr) << error;
    return node;
  }

  static json Get(const NodeProcess& node, const std::string& path) {
    auto res = node.Client()->Get(path.c_str());
    if (!res || res->status != 200) return json::object();
    return ParseBody(res->body);
  }

  static std::string RequestBackup(const NodeProcess& node) {
    auto res = node.Client()->Post("/v1/admin/backups", "", "application/json");
    EXPECT_TRUE(res && res->status == 202) << (res ? res->body : "no answer");
    if (!res || res->status != 202) return "";
    return ParseBody(res->body)["backup"].value("id", "");
  }

  // Polls until the backup is verified or failed; its last answer.
  static json WaitFinished(const NodeProcess& node, const std::string& id, int timeout_ms = 120000) {
    json b;
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    while (Clock::now() < deadline) {
      b = Get(node, "/v1/admin/backups/" + id)["backup"];
      if (b.is_object() && (b.value("state", "") == "verified" || b.value("state", "") == "failed")) return b;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << "backup " << id << " did not finish in " << timeout_ms << " ms: " << b.dump() << "\n"
                  << LogTail(node.log_path());
    return b;
  }

  void Load(const NodeProcess& node, const std::string& tag, int writers, const std::atomic<bool>& stop,
            int max_keys = 1 << 30) {
    std::vector<std::thread> threads;
    for (int w = 0; w < writers; ++w) {
      threads.emplace_back([&, w] {
        auto client = node.Client();
        for (int i = 0; i < max_keys && !stop.load(); ++i) {
          const std::string key = tag + "/" + std::to_string(w) + "/" + std::to_string(i);
          auto res = client->Put(("/v1/archives/" + key).c_str(), Content(key), "text/plain");
          if (!res || (res->status != 201 && res->status != 200)) {
            failures_.Add("PUT " + key + ": " + (res ? std::to_string(res->status) + " " + res->body : "no answer"));
          } else {
            ++writes_;
          }
        }
      });
    }
    for (auto& t : threads) t.join();
  }

  TempDir tmp_{"walship-backup"};
  FailureLog failures_;
  std::atomic<int64_t> writes_{0};
};

// Stops and joins a background load however the test ends.
struct StopOnExit {
  std::atomic<bool>& stop;
  std::thread& load;
  ~StopOnExit() {
    stop = true;
    if (load.joinable()) load.join();
  }
};

constexpr const char* kNoSchedule = "[backup]\nschedule = \"\"\npages_per_step = 16\n";

TEST_F(BackupTest, ABackupUnderEightWritersRestoresWithTheSegmentsAfterItToTheFinalState) {
  auto node = Start("primary", kNoSchedule);
  ASSERT_NE(node, nullptr);
  std::atomic<bool> stop{false};
  Load(*node, "before", 8, stop, 150);
  std::thread load([&] { Load(*node, "during", 8, stop); });
  StopOnExit stop_on_exit{stop, load};

  const int64_t writes_before = writes_.load();
  const std::string id = RequestBackup(*node);
  ASSERT_FALSE(id.empty());
  json done = WaitFinished(*node, id);
  ASSERT_EQ(done.value("state", ""), "verified") << done.dump() << "\n" << LogTail(node->log_path());
  EXPECT_GT(writes_.load(), writes_before) << "writes went on during the backup";
  // More writes after the backup: the segments must carry them.
  const int64_t at_backup = writes_.load();
  while (writes_.load() < at_backup + 400) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  stop = true;
  load.join();
  EXPECT_TRUE(failures_.Report().empty()) << failures_.Report();

  const json status = Get(*node, "/v1/status");
  const int64_t final_txid = status.value("txid", int64_t{-1});
  const std::string backup_position = done.value("position", "");
  ASSERT_EQ(node->SignalAndWait(SIGTERM), 0);

  auto segments = SegmentStore::Open(tmp_.Sub("primary/segments"));
  ASSERT_TRUE(segments.ok());
  const std::string restored = tmp_.Sub("restored.db");
  auto summary = RestoreFromBackup(tmp_.Sub("primary/backups/" + id), **segments, restored, std::nullopt);
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  EXPECT_EQ("1/" + std::to_string(summary->backup_txid), backup_position);
  EXPECT_LT(summary->backup_txid, final_txid);
  EXPECT_EQ(summary->last_txid, final_txid);
  EXPECT_GT(summary->segments_applied, 0u);
  // The primary's file after its clean stop (every frame checkpointed).
  const std::string primary_db = ReadWholeFile(tmp_.Sub("primary/index.db")).value();
  const std::string restored_db = ReadWholeFile(restored).value();
  EXPECT_EQ(primary_db.size(), restored_db.size());
  EXPECT_TRUE(primary_db == restored_db) << "backup " << id << " + segments is not the primary's database";

  std::string out;
  EXPECT_EQ(RunWalship(WALSHIP_BINARY, {"verify", "--data", tmp_.Sub("primary")}, &out), 0) << out;
  EXPECT_NE(out.find("backup " + id + ": ok (position " + backup_position), std::string::npos) << out;
  EXPECT_NE(out.find("verified 1 backups in "), std::string::npos) << out;
}

TEST_F(BackupTest, KillNineDuringABackupListsNothingHalfMadeAndTheNextScheduledOneRuns) {
  const std::string toml = "[backup]\nschedule = \"* * * * *\"\npages_per_step = 1\n";
  auto node = Start("primary", "[backup]\nschedule = \"\"\npages_per_step = 1\n",
                    {"WALSHIP_FAILPOINT_BACKUP_STEP_SLEEP_MS=20"});
  ASSERT_NE(node, nullptr);
  std::atomic<bool> stop{false};
  Load(*node, "fill", 4, stop, 50);
  const std::string id = RequestBackup(*node);
  ASSERT_FALSE(id.empty());
  // Until it is copying: 20 ms a page, so it surely is when killed.
  json b;
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < deadline) {
    b = Get(*node, "/v1/admin/backups/" + id)["backup"];
    if (b.is_object() && b.value("phase", "") == "copying" && b["progress"].value("pages_copied", 0) > 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(b.value("phase", ""), "copying") << b.dump();
  node->Kill9();
  EXPECT_TRUE(fs::exists(tmp_.Sub("primary/backups/tmp-" + id)));
  EXPECT_FALSE(fs::exists(tmp_.Sub("primary/backups/" + id)));
  std::string out;
  EXPECT_EQ(RunWalship(WALSHIP_BINARY, {"verify", "--data", tmp_.Sub("primary")}, &out), 0) << out;
  EXPECT_NE(out.find("verified 0 backups"), std::string::npos) << out;

  // Back up with a schedule of every minute and no failpoint.
  NodeOptions o;
  o.data_dir = tmp_.Sub("primary");
  o.config_toml = toml;
  std::string error;
  node = NodeProcess::Start(o, &error);
  ASSERT_NE(node, nullptr) << error;
  EXPECT_TRUE(fs::exists(tmp_.Sub("primary/backups/failed/" + id + "/error.json")));
  json listed = Get(*node, "/v1/admin/backups")["backups"];
  ASSERT_TRUE(listed.is_array() && !listed.empty()) << listed.dump();
  EXPECT_EQ(listed[0].value("id", ""), id);
  EXPECT_EQ(listed[0].value("state", ""), "failed");
  EXPECT_EQ(listed[0].value("error", ""), "interrupted: the backup never finished (found unfinished at start-up)");
  json status = Get(*node, "/v1/status")["backups"];
  EXPECT_EQ(status["last_failure"].value("id", ""), id) << status.dump();
  EXPECT_TRUE(status["last_verified"].is_null());

  // The next whole minute runs a backup, which verifies.
  std::string scheduled;
  const auto wait_until = Clock::now() + std::chrono::seconds(90);
  while (Clock::now() < wait_until && scheduled.empty()) {
    const json all = Get(*node, "/v1/admin/backups");  // a named json: the loop must not outlive it
    for (const auto& e : all.value("backups", json::array())) {
      if (e.value("state", "") == "verified") scheduled = e.value("id", "");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_FALSE(scheduled.empty()) << LogTail(node->log_path());
  EXPECT_NE(node->ReadLog().find("trigger=schedule"), std::string::npos);
  status = Get(*node, "/v1/status")["backups"];
  EXPECT_EQ(status["last_verified"].value("id", ""), scheduled);
  EXPECT_TRUE(status["last_failure"].is_null()) << "a verified backup newer than the failure clears the alert";
}

TEST_F(BackupTest, AStandbyTakesItsOwnBackupWhileItKeepsApplyingAndServing) {
  // 20 ms a page on the standby: the backup copies for seconds while the
  // primary keeps writing and the standby keeps applying and serving reads.
  auto standby = Start("standby", "[backup]\nschedule = \"\"\npages_per_step = 1\n",
                       {"WALSHIP_FAILPOINT_BACKUP_STEP_SLEEP_MS=20"}, {"--role", "standby"});
  ASSERT_NE(standby, nullptr);
  auto primary = Start("primary",
                       std::string(kNoSchedule) + "[replication]\nstandby = \"" + standby->url() +
                           "\"\nretry_initial_ms = 20\nretry_max_ms = 200\n");
  ASSERT_NE(primary, nullptr);
  std::atomic<bool> stop{false};
  Load(*primary, "k", 4, stop, 50);
  const int64_t txid = Get(*primary, "/v1/status").value("txid", int64_t{-1});
  auto deadline = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < deadline && Get(*standby, "/v1/replication/position").value("txid", int64_t{-2}) != txid) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const std::string id = RequestBackup(*standby);
  ASSERT_FALSE(id.empty());
  std::thread load([&] { Load(*primary, "during", 2, stop); });
  StopOnExit stop_on_exit{stop, load};
  json b = json::object();
  deadline = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < deadline && b.value("phase", "") != "copying") {
    b = Get(*standby, "/v1/admin/backups/" + id).value("backup", json::object());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(b.value("phase", ""), "copying") << b.dump();
  // While it copies, the standby applies new segments and serves reads.
  const int64_t applied_before = Get(*standby, "/v1/replication/position").value("txid", int64_t{-1});
  deadline = Clock::now() + std::chrono::seconds(20);
  int64_t applied = applied_before;
  while (Clock::now() < deadline && applied <= applied_before) {
    applied = Get(*standby, "/v1/replication/position").value("txid", int64_t{-1});
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  auto read = standby->Client()->Get("/v1/archives/k/0/0");
  EXPECT_TRUE(read && read->status == 200) << (read ? read->body : "no answer");
  EXPECT_EQ(Get(*standby, "/v1/admin/backups/" + id).value("backup", json::object()).value("phase", ""), "copying")
      << "the standby applied and served while the backup was still copying";
  EXPECT_GT(applied, applied_before);
  stop = true;
  load.join();

  json done = WaitFinished(*standby, id);
  EXPECT_EQ(done.value("state", ""), "verified") << done.dump();
  EXPECT_EQ(done.value("source", ""), "standby");
  // Pinned after the request (at or after `txid`), before the copying phase
  // was seen (at or before `applied_before`; applies go on once it copied).
  const std::string position = done.value("position", "");
  ASSERT_EQ(position.rfind("1/", 0), 0u) << position;
  const int64_t backup_txid = std::stoll(position.substr(2));
  EXPECT_GE(backup_txid, txid);
  EXPECT_LE(backup_txid, applied_before);
  EXPECT_TRUE(Get(*primary, "/v1/admin/backups")["backups"].empty()) << "the primary did no backup";
  std::string out;
  EXPECT_EQ(RunWalship(WALSHIP_BINARY, {"verify", "--data", tmp_.Sub("standby"), "--backup", id}, &out), 0) << out;

  // The standby's backup plus the standby's segments is the primary's final database.
  const int64_t final_txid = Get(*primary, "/v1/status").value("txid", int64_t{-1});
  deadline = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < deadline &&
         Get(*standby, "/v1/replication/position").value("txid", int64_t{-2}) != final_txid) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(primary->SignalAndWait(SIGTERM), 0);
  ASSERT_EQ(standby->SignalAndWait(SIGTERM), 0);
  auto segments = SegmentStore::Open(tmp_.Sub("standby/segments"));
  ASSERT_TRUE(segments.ok());
  auto summary = RestoreFromBackup(tmp_.Sub("standby/backups/" + id), **segments, tmp_.Sub("restored.db"), std::nullopt);
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  EXPECT_EQ(summary->last_txid, final_txid);
  EXPECT_TRUE(ReadWholeFile(tmp_.Sub("restored.db")).value() == ReadWholeFile(tmp_.Sub("primary/index.db")).value());
}

TEST_F(BackupTest, TheBackupCommandWaitsForVerifiedAndVerifyNamesDamage) {
  auto node = Start("primary", kNoSchedule);
  ASSERT_NE(node, nullptr);
  std::atomic<bool> stop{false};
  Load(*node, "k", 2, stop, 50);
  std::string out;
  ASSERT_EQ(RunWalship(WALSHIP_BINARY, {"backup", "--node", node->url(), "--quiet"}, &out), 0) << out;
  EXPECT_NE(out.find(" verified: position 1/"), std::string::npos) << out;
  json listed = Get(*node, "/v1/admin/backups")["backups"];
  ASSERT_EQ(listed.size(), 1u) << listed.dump();
  const std::string id = listed[0].value("id", "");
  EXPECT_EQ(listed[0].value("state", ""), "verified");

  // Damage the data file: verify names the backup, the file and the fault.
  const std::string data = tmp_.Sub("primary/backups/" + id + "/data.db.zst");
  fs::resize_file(data, fs::file_size(data) - 1);
  EXPECT_EQ(RunWalship(WALSHIP_BINARY, {"verify", "--data", tmp_.Sub("primary"), "--backup", id}, &out), 1) << out;
  EXPECT_NE(out.find("verify: backup " + id + ": data.db.zst: "), std::string::npos) << out;
  EXPECT_NE(out.find(": truncated [data_truncated]"), std::string::npos) << out;
  EXPECT_EQ(RunWalship(WALSHIP_BINARY, {"verify", "--data", tmp_.Sub("primary"), "--backup", "nope"}, &out), 2);
  EXPECT_NE(out.find("verify: no backup nope in "), std::string::npos) << out;
}

TEST_F(BackupTest, RetentionKeepsTheNewestAndLogsWhatItPrunes) {
  auto node = Start("primary", "[backup]\nschedule = \"\"\nkeep_last = 2\nkeep_daily_days = 0\nkeep_weekly_weeks = 0\n");
  ASSERT_NE(node, nullptr);
  std::atomic<bool> stop{false};
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) {
    Load(*node, "r" + std::to_string(i), 1, stop, 5);
    ids.push_back(RequestBackup(*node));
    ASSERT_FALSE(ids.back().empty());
    ASSERT_EQ(WaitFinished(*node, ids.back()).value("state", ""), "verified");
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // ids are per second
  }
  const json all = Get(*node, "/v1/admin/backups");
  std::vector<std::string> listed;
  for (const auto& b : all.value("backups", json::array())) listed.push_back(b.value("id", ""));
  EXPECT_EQ(listed, (std::vector<std::string>{ids[3], ids[2]})) << all.dump();
  EXPECT_FALSE(fs::exists(tmp_.Sub("primary/backups/" + ids[0])));
  const std::string log = node->ReadLog();
  EXPECT_NE(log.find("backup pruned by retention id=" + ids[0]), std::string::npos) << LogTail(node->log_path());
  EXPECT_NE(log.find("backup pruned by retention id=" + ids[1]), std::string::npos);
}

TEST_F(BackupTest, ABadScheduleOrTimeZoneIsRefusedAtStartNamingTheKey) {
  std::string out;
  ASSERT_TRUE(WriteFileAtomically(tmp_.Sub("bad.toml"), "[backup]\nschedule = \"61 * * * *\"\n").ok());
  EXPECT_EQ(RunWalship(WALSHIP_BINARY, {"serve", "--config", tmp_.Sub("bad.toml"), "--data", tmp_.Sub("d")}, &out), 2);
  EXPECT_NE(out.find("backup.schedule: cron \"61 * * * *\": minute: 61 is out of range 0-59"), std::string::npos)
      << out;
  ASSERT_TRUE(WriteFileAtomically(tmp_.Sub("tz.toml"), "[backup]\ntime_zone = \"Mars/Base\"\n").ok());
  EXPECT_EQ(RunWalship(WALSHIP_BINARY, {"serve", "--config", tmp_.Sub("tz.toml"), "--data", tmp_.Sub("d")}, &out), 2);
  EXPECT_NE(out.find("backup.time_zone: unknown time zone \"Mars/Base\""), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(tmp_.Sub("d"))) << "a refused config changes nothing";
}

}  // namespace
}  // namespace walship::testing
