// Segment retention on a real walship process: with backup.keep_last = 1,
// backup 2 prunes backup 1, and segment retention then removes every segment
// before backup 2's; the pruned store verifies (`walship segments verify`),
// and `walship restore --to latest` on the stopped node rebuilds the
// database from backup 2 and the segments after it with every write.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <thread>

#include "base/fs.h"
#include "replication/segment_store.h"
#include "tests/support/node_process.h"
#include "tests/support/run_helpers.h"
#include "tests/support/temp_dir.h"

namespace walship::testing {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr const char* kConfig =
    "[checkpoint]\ninterval_ms = 50\n"
    "[backup]\nschedule = \"\"\nkeep_last = 1\nkeep_daily_days = 0\nkeep_weekly_weeks = 0\n";

class SegmentRetentionTest : public ::testing::Test {
 protected:
  std::unique_ptr<NodeProcess> Start(const std::string& toml) {
    NodeOptions o;
    o.data_dir = data_;
    o.config_toml = toml;
    std::string error;
    auto node = NodeProcess::Start(o, &error);
    EXPECT_NE(node, nullptr) << error;
    return node;
  }

  // `n` puts, each its own transaction, with a pause so that checkpoints
  // (every 50 ms) seal several segments.
  void Write(const NodeProcess& node, const std::string& tag, int n) {
    auto client = node.Client();
    for (int i = 0; i < n; ++i) {
      const std::string key = tag + "/" + std::to_string(i);
      const std::string content = "content of " + key + std::string(static_cast<size_t>(i % 7) * 40, 'x');
      auto res = client->Put(("/v1/archives/" + key).c_str(), content, "text/plain");
      ASSERT_TRUE(res && res->status == 201) << key << ": " << (res ? res->body : "no answer");
      written_[key] = content;
      if (i % 5 == 4) std::this_thread::sleep_for(std::chrono::milliseconds(80));
    }
  }

  // Takes a backup, waits for it to be verified; its manifest's segment_sequence.
  uint64_t Backup(const NodeProcess& node) {
    auto res = node.Client()->Post("/v1/admin/backups", "", "application/json");
    EXPECT_TRUE(res && res->status == 202) << (res ? res->body : "no answer");
    if (!res || res->status != 202) return 0;
    const std::string id = ParseBody(res->body)["backup"].value("id", "");
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    std::string state;
    while (Clock::now() < deadline && state != "verified" && state != "failed") {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      auto got = node.Client()->Get(("/v1/admin/backups/" + id).c_str());
      if (got && got->status == 200) state = ParseBody(got->body)["backup"].value("state", "");
    }
    EXPECT_EQ(state, "verified") << LogTail(node.log_path());
    auto manifest = ReadWholeFile(data_ + "/backups/" + id + "/manifest.json");
    EXPECT_TRUE(manifest.ok()) << manifest.status().ToString();
    return manifest.ok() ? ParseBody(*manifest)["manifest"].value("segment_sequence", uint64_t{0}) : 0;
  }

  std::vector<uint64_t> Sequences() {
    std::vector<uint64_t> out;
    auto store = SegmentStore::Open(data_ + "/segments");
    EXPECT_TRUE(store.ok());
    auto entries = store.ok() ? (*store)->List() : Result<std::vector<SegmentFileEntry>>(store.status());
    EXPECT_TRUE(entries.ok()) << entries.status().ToString();
    if (entries.ok()) {
      for (const auto& e : *entries) out.push_back(e.sequence);
    }
    return out;
  }

  // Retention runs after the backup's verification is reported: wait for its log line.
  static void WaitForLog(const NodeProcess& node, const std::string& text) {
    const auto deadline = Clock::now() + std::chrono::seconds(20);
    while (Clock::now() < deadline && node.ReadLog().find(text) == std::string::npos) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  // The standby's applied segment (0 while it has none or does not answer).
  static uint64_t StandbySequence(const NodeProcess& standby) {
    auto res = standby.Client()->Get("/v1/replication/position");
    if (!res || res->status != 200) return 0;
    return ParseBody(res->body).value("sequence", uint64_t{0});
  }

  // Until the standby has applied segment `sequence` (false after 30 s).
  static bool WaitStandbyAt(const NodeProcess& standby, uint64_t sequence) {
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    while (Clock::now() < deadline) {
      if (StandbySequence(standby) == sequence) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  static int Walship(const std::vector<std::string>& args, std::string* out) {
    return RunWalship(WALSHIP_BINARY, args, out);
  }

  TempDir tmp_{"walship-segment-retention"};
  std::string data_ = tmp_.Sub("node");
  std::map<std::string, std::string> written_;
};

TEST_F(SegmentRetentionTest, ASecondBackupPrunesTheFirstAndItsSegmentsAndTheRestoreKeepsEveryWrite) {
  std::string out;
  {
    auto node = Start(kConfig);
    ASSERT_NE(node, nullptr);
    Write(*node, "before-1", 20);
    const uint64_t first = Backup(*node);
    ASSERT_GT(first, 0u);
    Write(*node, "between", 30);
    const std::vector<uint64_t> before = Sequences();
    ASSERT_FALSE(before.empty());
    ASSERT_LE(before.front(), first) << "backup 1's segment is kept while backup 1 is";
    const uint64_t second = Backup(*node);
    ASSERT_GT(second, first + 1) << "the writes between the backups sealed no segment";
    WaitForLog(*node, "segment removed by retention");
    Write(*node, "after-2", 15);  // restored from the segments after backup 2

    const std::vector<uint64_t> after = Sequences();
    ASSERT_FALSE(after.empty());
    EXPECT_EQ(after.front(), second) << "every segment before backup 2's is gone, backup 2's is kept";
    for (size_t i = 1; i < after.size(); ++i) EXPECT_EQ(after[i], after[i - 1] + 1) << "a gap after pruning";
    const std::string log = node->ReadLog();
    EXPECT_NE(log.find("backup pruned by retention"), std::string::npos) << LogTail(node->log_path());
    std::smatch m;
    ASSERT_TRUE(std::regex_search(log, m, std::regex("segment removed by retention.*sequence=(\\d+).*txids=(\\d+)-")))
        << LogTail(node->log_path());
    auto metrics = node->Client()->Get("/metrics");
    ASSERT_TRUE(metrics && metrics->status == 200);
    std::smatch count;
    ASSERT_TRUE(std::regex_search(metrics->body, count,
                                  std::regex("walship_segments_pruned_total\\{kind=\"segment\"\\} (\\d+)")))
        << metrics->body;
    EXPECT_EQ(std::stoull(count[1].str()), second - 1) << "segments 1 to " << second - 1 << ", over both backups";
    ASSERT_EQ(node->SignalAndWait(SIGTERM), 0);
  }

  ASSERT_EQ(Walship({"segments", "verify", "--data", data_}, &out), 0) << out;
  EXPECT_NE(out.find("does not start a chain (segment retention removed the segments before it)"),
            std::string::npos)
      << out;

  ASSERT_EQ(Walship({"restore", "--data", data_, "--to", "latest", "--dry-run"}, &out), 0) << out;
  EXPECT_NE(out.find("start: backup "), std::string::npos) << out;
  ASSERT_EQ(Walship({"restore", "--data", data_, "--to", "latest"}, &out), 0) << out;

  auto node = Start(kConfig);
  ASSERT_NE(node, nullptr);
  auto client = node->Client();
  for (const auto& [key, content] : written_) {
    auto res = client->Get(("/v1/archives/" + key).c_str());
    ASSERT_TRUE(res && res->status == 200) << key << ": " << (res ? res->body : "no answer");
    EXPECT_EQ(ParseBody(res->body).value("content", ""), content) << key;
  }
  ASSERT_EQ(node->SignalAndWait(SIGTERM), 0);
}

// A standby that is down keeps what it has not acknowledged: it comes back
// and catches up by replay, no snapshot needed.
TEST_F(SegmentRetentionTest, TheSegmentsAStoppedStandbyHasNotAcknowledgedAreKept) {
  NodeOptions so;
  so.data_dir = tmp_.Sub("standby");
  so.extra_args = {"--role", "standby"};
  std::string error;
  auto standby = NodeProcess::Start(so, &error);
  ASSERT_NE(standby, nullptr) << error;
  so.listen = "127.0.0.1:" + std::to_string(standby->port());  // to come back on
  auto primary = Start(std::string(kConfig) + "[replication]\nstandby = \"" + standby->url() +
                       "\"\nretry_initial_ms = 20\nretry_max_ms = 200\n");
  ASSERT_NE(primary, nullptr);
  Write(*primary, "shipped", 20);
  const uint64_t acked = Sequences().back();
  ASSERT_TRUE(WaitStandbyAt(*standby, acked)) << LogTail(primary->log_path());
  ASSERT_EQ(standby->SignalAndWait(SIGTERM), 0);

  Write(*primary, "unshipped", 30);
  const uint64_t first = Backup(*primary);
  Write(*primary, "more", 10);
  const uint64_t second = Backup(*primary);
  ASSERT_GT(first, acked + 1) << "no segment was sealed while the standby was down";
  ASSERT_GT(second, first);
  // Backup 2 alone would keep from `second`; the standby holds them back.
  EXPECT_EQ(Sequences().front(), acked + 1);
  EXPECT_NE(primary->ReadLog().find("why=\"the standby has acknowledged segments up to " + std::to_string(acked)),
            std::string::npos)
      << LogTail(primary->log_path());

  standby = NodeProcess::Start(so, &error);
  ASSERT_NE(standby, nullptr) << error;
  ASSERT_TRUE(WaitStandbyAt(*standby, Sequences().back())) << LogTail(primary->log_path());
  EXPECT_EQ(primary->ReadLog().find("asking for a snapshot"), std::string::npos);
  // Now acknowledged: the next backup prunes up to its own segment.
  const uint64_t third = Backup(*primary);
  EXPECT_EQ(Sequences().front(), third);
  ASSERT_EQ(primary->SignalAndWait(SIGTERM), 0);
  ASSERT_EQ(standby->SignalAndWait(SIGTERM), 0);
}

// segments.retention = false keeps every segment, backups pruned or not.
TEST_F(SegmentRetentionTest, RetentionOffKeepsEverySegment) {
  auto node = Start(std::string(kConfig) + "[segments]\nretention = false\n");
  ASSERT_NE(node, nullptr);
  Write(*node, "a", 10);
  const uint64_t first = Backup(*node);
  Write(*node, "b", 10);
  const uint64_t second = Backup(*node);
  ASSERT_GT(second, first);
  WaitForLog(*node, "backup pruned by retention");
  EXPECT_EQ(Sequences().front(), 1u);
  EXPECT_EQ(node->ReadLog().find("segment removed by retention"), std::string::npos);
  ASSERT_EQ(node->SignalAndWait(SIGTERM), 0);
}

}  // namespace
}  // namespace walship::testing
