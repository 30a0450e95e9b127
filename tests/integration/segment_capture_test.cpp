// WAL capture end to end: the real node, checkpoints every 100 ms, 8 clients
// putting, overwriting and deleting keys over HTTP for about 3 s, then a
// clean stop. Afterwards the segment store must verify, and replaying it from
// the empty file must give the node's database byte for byte, with the same
// database checksum and the same rows. During the run /v1/status shows the
// capture and /metrics renders its series.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "replication/db_checksum.h"
#include "replication/segment_replay.h"
#include "replication/segment_store.h"
#include "tests/support/node_process.h"
#include "tests/support/run_helpers.h"
#include "tests/support/sqlite_check.h"
#include "tests/support/temp_dir.h"

namespace walship::testing {
namespace {

using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

constexpr int kClients = 8;
constexpr int kKeysPerClient = 40;
constexpr auto kWriteTime = std::chrono::seconds(3);

constexpr const char* kConfig = R"toml(
[checkpoint]
interval_ms = 100
)toml";

using Row = std::tuple<std::string, std::string, int64_t, std::string>;  // key, content, version, sha256

// Every archive, by key, from a read-only connection.
std::vector<Row> ReadArchives(const std::string& db_path) {
  std::vector<Row> rows;
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK) << db_path;
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, "SELECT key, content, version, sha256 FROM archives ORDER BY key", -1, &st, nullptr),
            SQLITE_OK)
      << sqlite3_errmsg(db);
  while (st != nullptr && sqlite3_step(st) == SQLITE_ROW) {
    rows.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)),
                      reinterpret_cast<const char*>(sqlite3_column_text(st, 1)), sqlite3_column_int64(st, 2),
                      reinterpret_cast<const char*>(sqlite3_column_text(st, 3)));
  }
  sqlite3_finalize(st);
  sqlite3_close_v2(db);
  return rows;
}

// Puts (creating or overwriting) and deletes keys of its own until the
// deadline; counts what the node acknowledged and what it refused.
void RunClient(const NodeProcess& node, int id, SteadyClock::time_point deadline, std::atomic<int64_t>& acked,
               std::atomic<int64_t>& failed) {
  auto client = node.Client();
  std::mt19937 rng(static_cast<uint32_t>(id) * 7919u + 17u);
  while (SteadyClock::now() < deadline) {
    const std::string key = "client-" + std::to_string(id) + "/" + std::to_string(rng() % kKeysPerClient);
    bool ok = false;
    if (rng() % 5 == 0) {
      auto r = client->Delete("/v1/archives/" + key);
      ok = r && (r->status == 200 || r->status == 204 || r->status == 404);
    } else {
      std::string content = "archive " + key + " written " + std::to_string(rng());
      content.append(rng() % 3000, static_cast<char>('a' + rng() % 26));
      auto r = client->Put("/v1/archives/" + key, json{{"content", content}}.dump(), "application/json");
      ok = r && (r->status == 200 || r->status == 201);
    }
    ++(ok ? acked : failed);
  }
}

// The status's "segments" object, checked while the node runs.
void CheckStatusDuringRun(const NodeProcess& node, const std::string& segments_dir, uint64_t* last_sequence) {
  auto client = node.Client();
  auto r = client->Get("/v1/status");
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  ASSERT_EQ(r->status, 200) << r->body;
  const json body = ParseBody(r->body);
  ASSERT_TRUE(body.contains("segments") && body["segments"].is_object()) << r->body;
  const json& s = body["segments"];
  EXPECT_EQ(s.value("dir", ""), segments_dir);
  ASSERT_TRUE(s["last_sequence"].is_number_unsigned()) << r->body;
  ASSERT_TRUE(s["last_txid"].is_number_integer()) << r->body;
  EXPECT_TRUE(std::regex_match(s.value("db_checksum", ""), std::regex("0x[0-9a-f]{16}"))) << r->body;
  EXPECT_EQ(s.value("bases", -1), 0) << r->body;
  EXPECT_GE(s["last_sequence"].get<uint64_t>(), 1u) << "the new database's first segment is sealed at start";
  EXPECT_LE(s["last_txid"].get<int64_t>(), body.value("txid", int64_t{-1})) << r->body;
  *last_sequence = s["last_sequence"].get<uint64_t>();

  auto m = client->Get("/metrics");
  ASSERT_TRUE(m) << httplib::to_string(m.error());
  for (const char* series : {"walship_segments_sealed_total ", "walship_segment_bytes_total ",
                             "walship_wal_frames_captured_total ", "walship_segment_bases_total 0",
                             "walship_capture_seconds_count "}) {
    EXPECT_NE(m->body.find(std::string("\n") + series), std::string::npos) << series << " is not rendered";
  }
}

TEST(SegmentCaptureTest, ReplayOfTheStoreEqualsTheNodesDatabase) {
  TempDir dir("walship-segment-capture");
  const std::string data_dir = dir.Sub("data");
  const std::string db_path = data_dir + "/index.db";
  struct LogKeeper {  // runs before `dir` is removed
    std::string path;
    ~LogKeeper() { KeepLog(path, "segment-capture.log"); }
  } keep_log{data_dir + ".log"};
  std::string error;
  auto node = NodeProcess::Start({.data_dir = data_dir, .config_toml = kConfig}, &error);
  ASSERT_NE(node, nullptr) << error;

  std::atomic<int64_t> acked{0};
  std::atomic<int64_t> failed{0};
  const auto deadline = SteadyClock::now() + kWriteTime;
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] { RunClient(*node, i, deadline, acked, failed); });
  }
  std::this_thread::sleep_for(kWriteTime / 2);
  uint64_t mid_run_sequence = 0;
  CheckStatusDuringRun(*node, data_dir + "/segments", &mid_run_sequence);
  for (auto& t : clients) t.join();
  EXPECT_GT(acked.load(), 100);
  EXPECT_EQ(failed.load(), 0);
  ASSERT_EQ(node->SignalAndWait(SIGTERM), 0) << LogTail(node->log_path());
  EXPECT_EQ(node->ReadLog().find("starting a new base"), std::string::npos);

  std::string out;
  EXPECT_EQ(RunWalship(WALSHIP_BINARY, {"segments", "verify", "--data", data_dir}, &out), 0) << out;

  auto store = SegmentStore::Open(data_dir + "/segments");
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  const std::string replayed = dir.Sub("replayed.db");
  auto summary = ReplaySegments(**store, replayed);
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  EXPECT_FALSE(summary->from_base);
  EXPECT_EQ(summary->first_sequence, 1u);
  EXPECT_GE(summary->segments, 10u);
  EXPECT_GT(summary->last_sequence, mid_run_sequence);
  EXPECT_EQ(summary->last_txid, QueryIntReadOnly(db_path, "SELECT txid FROM position"));
  auto live = DbChecksum::ComputeFromFile(db_path, 4096);
  ASSERT_TRUE(live.ok()) << live.status().ToString();
  EXPECT_EQ(DbChecksumHex(summary->db_checksum), DbChecksumHex(live->Value()));
  EXPECT_TRUE(Slurp(replayed) == Slurp(db_path)) << "the replayed database differs from the node's";

  const std::vector<Row> want = ReadArchives(db_path);
  EXPECT_FALSE(want.empty());
  EXPECT_TRUE(ReadArchives(replayed) == want) << "the replayed archives differ from the node's";
  EXPECT_EQ(IntegrityCheck(replayed), "ok");
  std::printf("[ capture ] %lld writes acknowledged; %llu segments replayed to txid %lld, checksum %s\n",
              static_cast<long long>(acked.load()), static_cast<unsigned long long>(summary->segments),
              static_cast<long long>(summary->last_txid), DbChecksumHex(summary->db_checksum).c_str());
}

}  // namespace
}  // namespace walship::testing
