// Corruption on a live node, end to end: a byte flipped on disk in a page no
// query has read since is found by the scheduled scrub; a page a read meets
// broken stops writes too. Either way: /readyz 503, /v1/status names the
// finding and `walship restore --data DIR`, writes answer 503
// database_corrupt, and the log says it once.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "tests/support/node_process.h"
#include "tests/support/run_helpers.h"
#include "tests/support/temp_dir.h"

namespace walship::testing {
namespace {

constexpr uint32_t kPageSize = 4096;
// Checkpoints often (the pages reach the file soon), a scrub pass every
// second at full speed, no quick_check (the scrub must be the one to find it).
constexpr const char* kScrubToml =
    "[checkpoint]\ninterval_ms = 100\n"
    "[check]\nquick_check_interval_s = 0\nscrub_interval_s = 1\nscrub_pages_per_second = 100000\n";
// No scheduled check at all: only a read can find the damage.
constexpr const char* kNoChecksToml =
    "[checkpoint]\ninterval_ms = 100\n[check]\nquick_check_interval_s = 0\nscrub_interval_s = 0\n";

// Rewrites one byte of the database file from this process: another process
// than the node's, so its descriptor takes none of the node's locks with it.
void XorByte(const std::string& path, uint64_t offset, unsigned char mask) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0) << path;
  unsigned char b = 0;
  ASSERT_EQ(::pread(fd, &b, 1, static_cast<off_t>(offset)), 1);
  b ^= mask;
  ASSERT_EQ(::pwrite(fd, &b, 1, static_cast<off_t>(offset)), 1);
  ::close(fd);
}

class LiveCorruptionTest : public ::testing::Test {
 protected:
  void Start(const char* toml) {
    std::string error;
    node_ = NodeProcess::Start({.data_dir = data_, .config_toml = toml}, &error);
    ASSERT_NE(node_, nullptr) << error;
    client_ = node_->Client();
    for (int i = 0; i < 30; ++i) {
      auto r = client_->Put("/v1/archives/doc/" + std::to_string(i), std::string(3000, static_cast<char>('a' + i % 26)),
                            "text/plain");
      ASSERT_TRUE(r);
      ASSERT_EQ(r->status, 201) << r->body;
    }
    // Every page in the file: a checkpoint emptied the WAL after the last write.
    bool settled = false;
    for (int i = 0; i < 200 && !settled; ++i) {
      auto st = client_->Get("/v1/status");
      settled = st && ParseBody(st->body).value("wal_bytes", -1) == 0;
      if (!settled) std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    ASSERT_TRUE(settled) << "no checkpoint emptied the WAL";
  }

  uint32_t FilePages() const { return static_cast<uint32_t>(std::filesystem::file_size(db_) / kPageSize); }

  // Polls /readyz until it answers 503 (at most 10 s); returns its body.
  nlohmann::json WaitUntilNotReady() {
    for (int i = 0; i < 400; ++i) {
      auto r = client_->Get("/readyz");
      if (r && r->status == 503) return ParseBody(r->body);
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    ADD_FAILURE() << "/readyz stayed ready; log:\n" << LogTail(node_->log_path());
    return {};
  }

  // The finding in /v1/status, /readyz, a write's answer, the metrics and
  // the log all agree; `message_start` is how the finding's message begins.
  void ExpectStopped(const std::string& source, const std::string& message_start) {
    const std::string recommended = "walship restore --data " + data_;
    nlohmann::json ready = WaitUntilNotReady();
    EXPECT_EQ(ready["error"]["code"], "not_ready");
    EXPECT_EQ(ready["error"]["message"].get<std::string>().rfind(
                  "not ready: corruption: " + source + ": " + message_start, 0),
              0u)
        << ready.dump();

    auto st = client_->Get("/v1/status");
    ASSERT_TRUE(st);
    nlohmann::json status = ParseBody(st->body);
    EXPECT_EQ(status["ready"], false);
    const nlohmann::json& c = status["corruption"];
    ASSERT_TRUE(c.is_object()) << status.dump();
    EXPECT_EQ(c["source"], source);
    EXPECT_EQ(c["message"].get<std::string>().rfind(message_start, 0), 0u) << c.dump();
    EXPECT_EQ(c["recommended"], recommended);
    EXPECT_EQ(c["found_at"].get<std::string>().size(), std::string("2026-11-21T12:07:05.123Z").size());

    auto put = client_->Put("/v1/archives/after", "x", "text/plain");
    ASSERT_TRUE(put);
    EXPECT_EQ(put->status, 503);
    nlohmann::json body = ParseBody(put->body);
    EXPECT_EQ(body["error"]["code"], "database_corrupt");
    EXPECT_EQ(body["error"]["message"],
              "writes are stopped: the database is corrupt (" + source + ": " + c["message"].get<std::string>() +
                  "); run: " + recommended);

    auto metrics = client_->Get("/metrics");
    ASSERT_TRUE(metrics);
    EXPECT_NE(metrics->body.find("\nwalship_corruption_found 1\n"), std::string::npos);

    const std::string log = node_->ReadLog();
    size_t lines = 0;
    for (size_t at = log.find("database corruption found"); at != std::string::npos;
         at = log.find("database corruption found", at + 1)) {
      ++lines;
      const std::string line = log.substr(at, log.find('\n', at) - at);
      EXPECT_NE(line.find("source=" + source), std::string::npos) << line;
      EXPECT_NE(line.find("recommended=\"" + recommended + "\""), std::string::npos) << line;
    }
    EXPECT_EQ(lines, 1u) << LogTail(node_->log_path());
    EXPECT_NE(log.find("Z error database corruption found: writes are stopped; restore the database source=" + source),
              std::string::npos);
  }

  TempDir dir_;
  const std::string data_ = dir_.Sub("data");
  const std::string db_ = data_ + "/index.db";
  std::unique_ptr<NodeProcess> node_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(LiveCorruptionTest, TheScrubFindsABitFlipInAPageNoQueryRead) {
  Start(kScrubToml);
  const uint32_t victim = FilePages() - 1;
  XorByte(db_, static_cast<uint64_t>(victim - 1) * kPageSize + 1234, 0x10);
  ExpectStopped("scrub", "page " + std::to_string(victim) + " of " + db_ +
                             " differs from its image in the database checksum (read 0x");
  auto metrics = client_->Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("\nwalship_scrub_mismatches_total 1\n"), std::string::npos);
  EXPECT_NE(metrics->body.find("\nwalship_scrub_pages_total "), std::string::npos);
  EXPECT_NE(metrics->body.find("\nwalship_scrub_last_pass_timestamp_seconds "), std::string::npos);
  // Stopping still works with writes stopped.
  EXPECT_EQ(node_->SignalAndWait(SIGTERM), 0);
}

TEST_F(LiveCorruptionTest, AReadThatMeetsACorruptPageStopsWrites) {
  Start(kNoChecksToml);
  // Every b-tree page's type byte made invalid: the first read trips on it.
  for (uint32_t p = 2; p <= FilePages(); ++p) XorByte(db_, static_cast<uint64_t>(p - 1) * kPageSize, 0x77);
  auto get = client_->Get("/v1/archives/doc/7");
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 500);
  EXPECT_EQ(ParseBody(get->body)["error"]["code"], "corruption") << get->body;
  ExpectStopped("read", "get archive doc/7: step \"SELECT key, metadata, version, sha256, create...\": "
                        "database disk image is malformed");
  EXPECT_EQ(node_->SignalAndWait(SIGTERM), 0);
}

}  // namespace
}  // namespace walship::testing
