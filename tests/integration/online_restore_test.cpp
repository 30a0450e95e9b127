// POST /v1/admin/restore on a running walship: the node goes into
// maintenance (writes and reads 503 "maintenance" with Retry-After, /readyz
// 503, progress in /v1/status), restores its database in place as `walship
// restore` would, and serves again: to a point in time (on a new timeline),
// after the scrub found a damaged page (every write back, the finding gone),
// and from a start-up refusal (a damaged WAL with commits behind it). Bad
// requests change nothing.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "base/fs.h"
#include "tests/support/node_process.h"
#include "tests/support/run_helpers.h"
#include "tests/support/sqlite_check.h"
#include "tests/support/temp_dir.h"

namespace walship::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Dump = std::map<std::string, std::string>;  // key -> content

struct Acked {
  int64_t timeline = 0;
  int64_t txid = 0;
  std::string key;
  std::string content;
};

class OnlineRestoreTest : public ::testing::Test {
 protected:
  void Start(const std::string& toml, int step_delay_ms = 0) {
    NodeOptions o;
    o.data_dir = data_;
    o.config_toml = toml;
    if (step_delay_ms > 0) o.env.push_back("WALSHIP_FAILPOINT_RESTORE_STEP_SLEEP_MS=" + std::to_string(step_delay_ms));
    std::string error;
    node_ = NodeProcess::Start(o, &error);
    ASSERT_NE(node_, nullptr) << error;
    client_ = node_->Client();
  }

  // PUT n writes over `keys` keys, each acknowledged with its position.
  void Write(int n, int keys, int size = 200) {
    for (int i = 0; i < n; ++i) {
      const int id = static_cast<int>(acked_.size());
      Acked a{0, 0, "doc/" + std::to_string(id % keys), "write " + std::to_string(id) + std::string(size, 'x')};
      auto r = client_->Put("/v1/archives/" + a.key, a.content, "text/plain");
      ASSERT_TRUE(r);
      ASSERT_TRUE(r->status == 200 || r->status == 201) << r->status << " " << r->body;
      const std::string position = ParseBody(r->body).value("position", "");
      const size_t slash = position.find('/');
      ASSERT_NE(slash, std::string::npos) << r->body;
      a.timeline = std::stoll(position.substr(0, slash));
      a.txid = std::stoll(position.substr(slash + 1));
      acked_.push_back(a);
    }
  }

  Dump DumpAt(int64_t txid) const {
    Dump out;
    for (const Acked& a : acked_) {
      if (a.txid <= txid) out[a.key] = a.content;
    }
    return out;
  }

  // Every key ever written, read back over HTTP (absent keys are left out).
  Dump ReadBack() {
    Dump out;
    for (const Acked& a : acked_) {
      if (out.count(a.key) != 0) continue;
      auto r = client_->Get("/v1/archives/" + a.key);
      if (!r || r->status != 200) continue;
      out[a.key] = ParseBody(r->body).value("content", std::string("(no content field)"));
    }
    return out;
  }

  json Status() {
    auto r = client_->Get("/v1/status");
    EXPECT_TRUE(r && r->status == 200);
    return r ? ParseBody(r->body) : json::object();
  }

  json PostRestore(const std::string& body, int want_status) {
    auto r = body.empty() ? client_->Post("/v1/admin/restore")
                          : client_->Post("/v1/admin/restore", body, "application/json");
    EXPECT_TRUE(r);
    if (!r) return json::object();
    EXPECT_EQ(r->status, want_status) << r->body;
    if (r->status == 202) {
      EXPECT_EQ(r->get_header_value("Location"), "/v1/status");
    }
    return ParseBody(r->body);
  }

  // Polls /v1/status until the restore is no longer running (at most 60 s).
  json WaitForRestore() {
    for (int i = 0; i < 2400; ++i) {
      json restore = Status()["restore"];
      if (restore.is_object() && restore["state"] != "running") return restore;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    ADD_FAILURE() << "the restore did not end; log:\n" << LogTail(node_->log_path());
    return json::object();
  }

  // A request the maintenance refuses: 503, code maintenance, Retry-After.
  static void ExpectMaintenance(const httplib::Result& r) {
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503) << r->body;
    EXPECT_EQ(ParseBody(r->body)["error"]["code"], "maintenance") << r->body;
    EXPECT_EQ(r->get_header_value("Retry-After"), "2");
  }

  TempDir tmp_;
  const std::string data_ = tmp_.Sub("node");
  std::unique_ptr<NodeProcess> node_;
  std::unique_ptr<httplib::Client> client_;
  std::vector<Acked> acked_;
};

constexpr const char* kFastCheckpoints = "[checkpoint]\ninterval_ms = 100\n";

TEST_F(OnlineRestoreTest, ToAPointInTimeInMaintenanceThenServesOnANewTimeline) {
  ASSERT_NO_FATAL_FAILURE(Start(kFastCheckpoints, /*step_delay_ms=*/150));
  ASSERT_NO_FATAL_FAILURE(Write(20, 12));
  const int64_t target = acked_.back().txid;
  std::this_thread::sleep_for(std::chrono::milliseconds(150));  // later commits in later segments
  ASSERT_NO_FATAL_FAILURE(Write(20, 12));
  const int64_t last = acked_.back().txid;

  json started = PostRestore(R"({"to_position":"1/)" + std::to_string(target) + R"("})", 202);
  EXPECT_EQ(started["restore"]["state"], "running") << started.dump();
  EXPECT_EQ(started["restore"]["target"], "position 1/" + std::to_string(target));

  // In maintenance: reads and writes answer at once, and say when to come back.
  ExpectMaintenance(client_->Put("/v1/archives/during", "x", "text/plain"));
  ExpectMaintenance(client_->Get("/v1/archives/doc/1"));
  ExpectMaintenance(client_->Get("/v1/search?q=write"));
  auto ready = client_->Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 503);
  json again = PostRestore("", 409);
  EXPECT_EQ(again["error"]["code"], "restore_running") << again.dump();
  auto backup = client_->Post("/v1/admin/backups");
  ASSERT_TRUE(backup);
  EXPECT_EQ(backup->status, 503) << backup->body;
  EXPECT_EQ(ParseBody(backup->body)["error"]["code"], "maintenance") << "no backup of the file being replaced";
  json during = Status();
  EXPECT_EQ(during["state"], "maintenance") << during.dump();
  EXPECT_EQ(during["restore"]["state"], "running");
  EXPECT_FALSE(during["restore"]["step"].get<std::string>().empty());

  json done = WaitForRestore();
  ASSERT_EQ(done["state"], "restored") << done.dump() << LogTail(node_->log_path());
  EXPECT_EQ(done["position"], "2/" + std::to_string(target)) << done.dump();
  EXPECT_EQ(done["new_timeline"], true);
  EXPECT_EQ(done["not_restored"], nullptr);
  EXPECT_EQ(done["error"], nullptr);
  ASSERT_TRUE(done["quarantine"].is_string()) << done.dump();
  const std::string quarantine = done["quarantine"];
  EXPECT_EQ(quarantine.rfind(data_ + "/quarantine/restore-", 0), 0u) << quarantine;
  EXPECT_TRUE(fs::exists(quarantine + "/index.db")) << "the previous database is kept";

  EXPECT_EQ(ReadBack(), DumpAt(target));
  json status = Status();
  EXPECT_EQ(status["state"], "serving");
  EXPECT_EQ(status["position"], "2/" + std::to_string(target));
  ready = client_->Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200) << ready->body;
  // Writes go on from the restored position, on the new timeline.
  auto put = client_->Put("/v1/archives/after", "after the restore", "text/plain");
  ASSERT_TRUE(put);
  EXPECT_EQ(put->status, 201) << put->body;
  EXPECT_EQ(ParseBody(put->body).value("position", ""), "2/" + std::to_string(target + 1));
  EXPECT_LT(target, last);

  ASSERT_EQ(node_->SignalAndWait(SIGTERM), 0);
  std::string out;
  EXPECT_EQ(RunWalship(WALSHIP_BINARY, {"segments", "verify", "--data", data_}, &out), 0) << out;
  EXPECT_EQ(IntegrityCheck(data_ + "/index.db"), "ok");
}

// Writers keep going through an online restore to latest on a healthy node:
// each write is either acknowledged (and then in the restored database) or
// refused with 503 maintenance; nothing acknowledged is lost, nothing else fails.
TEST_F(OnlineRestoreTest, WritesInFlightAreCommittedOrRefusedNeverLost) {
  ASSERT_NO_FATAL_FAILURE(Start(kFastCheckpoints, /*step_delay_ms=*/50));
  std::atomic<bool> stop{false};
  std::mutex mu;  // guards acked_, refused, other
  int refused = 0;
  std::vector<std::string> other;
  std::vector<std::thread> writers;
  for (int w = 0; w < 6; ++w) {
    writers.emplace_back([&, w] {
      auto client = node_->Client();
      for (int n = 0; !stop.load(); ++n) {
        Acked a{0, 0, "w" + std::to_string(w) + "/" + std::to_string(n % 15), std::to_string(n)};
        auto r = client->Put("/v1/archives/" + a.key, a.content, "text/plain");
        std::lock_guard lock(mu);
        if (r && (r->status == 200 || r->status == 201)) {
          const std::string position = ParseBody(r->body).value("position", "");
          a.txid = std::stoll(position.substr(position.find('/') + 1));
          acked_.push_back(a);
        } else if (r && r->status == 503 && ParseBody(r->body)["error"]["code"] == "maintenance") {
          ++refused;
        } else {
          other.push_back(r ? std::to_string(r->status) + " " + r->body : "no answer");
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  PostRestore("", 202);
  json done = WaitForRestore();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  stop = true;
  for (auto& t : writers) t.join();
  ASSERT_EQ(done["state"], "restored") << done.dump() << LogTail(node_->log_path());
  EXPECT_EQ(done["new_timeline"], false) << done.dump();
  EXPECT_EQ(done["not_restored"], nullptr);
  EXPECT_TRUE(other.empty()) << other.size() << " unexpected answers, first: " << other.front();
  EXPECT_GT(refused, 0) << "no write met the maintenance";
  // Acknowledged writes of one key come in txid order (one writer per key).
  std::sort(acked_.begin(), acked_.end(), [](const Acked& x, const Acked& y) { return x.txid < y.txid; });
  ASSERT_FALSE(acked_.empty());
  EXPECT_EQ(ReadBack(), DumpAt(acked_.back().txid));
}

TEST_F(OnlineRestoreTest, AfterTheScrubFindsADamagedPageEveryWriteIsBackAndWritesResume) {
  ASSERT_NO_FATAL_FAILURE(Start(std::string(kFastCheckpoints) +
                                "[check]\nquick_check_interval_s = 0\nscrub_interval_s = 1\n"
                                "scrub_pages_per_second = 100000\n"));
  ASSERT_NO_FATAL_FAILURE(Write(30, 30, 3000));
  bool settled = false;  // a checkpoint has put every page in the file
  for (int i = 0; i < 200 && !settled; ++i) {
    settled = Status().value("wal_bytes", -1) == 0;
    if (!settled) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ASSERT_TRUE(settled);
  const std::string db = data_ + "/index.db";
  const uint64_t pages = fs::file_size(db) / 4096;
  ASSERT_GT(pages, 4u);
  {
    const int fd = ::open(db.c_str(), O_RDWR | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    const off_t at = static_cast<off_t>((pages - 2) * 4096 + 2000);
    unsigned char b = 0;
    ASSERT_EQ(::pread(fd, &b, 1, at), 1);
    b ^= 0x08;
    ASSERT_EQ(::pwrite(fd, &b, 1, at), 1);
    ::close(fd);
  }
  json corruption;
  for (int i = 0; i < 400 && !corruption.is_object(); ++i) {
    corruption = Status()["corruption"];
    if (!corruption.is_object()) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ASSERT_TRUE(corruption.is_object()) << LogTail(node_->log_path());
  auto refused = client_->Put("/v1/archives/refused", "x", "text/plain");
  ASSERT_TRUE(refused);
  EXPECT_EQ(ParseBody(refused->body)["error"]["code"], "database_corrupt") << refused->body;

  PostRestore("", 202);
  json done = WaitForRestore();
  ASSERT_EQ(done["state"], "restored") << done.dump() << LogTail(node_->log_path());
  // Every acknowledged write is back, on the same timeline: nothing was lost.
  EXPECT_EQ(done["position"], "1/" + std::to_string(acked_.back().txid)) << done.dump();
  EXPECT_EQ(done["new_timeline"], false);
  EXPECT_EQ(done["not_restored"], nullptr);
  ASSERT_TRUE(done["quarantine"].is_string());
  EXPECT_TRUE(fs::exists(done["quarantine"].get<std::string>() + "/index.db"));
  EXPECT_EQ(ReadBack(), DumpAt(acked_.back().txid));

  json status = Status();
  EXPECT_EQ(status["corruption"], nullptr) << status.dump();
  EXPECT_EQ(status["ready"], true) << status.dump();
  auto metrics = client_->Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("\nwalship_corruption_found 0\n"), std::string::npos);
  ASSERT_NO_FATAL_FAILURE(Write(3, 3));
  EXPECT_EQ(acked_.back().timeline, 1);
  ASSERT_EQ(node_->SignalAndWait(SIGTERM), 0);
  EXPECT_EQ(IntegrityCheck(db), "ok");
}

TEST_F(OnlineRestoreTest, ANodeThatRefusedItsDamagedWalIsRestoredWithoutARestart) {
  // No checkpoint: the WAL keeps every frame; segments are collected as commits come.
  ASSERT_NO_FATAL_FAILURE(Start("[checkpoint]\ninterval_ms = 600000\n"));
  ASSERT_NO_FATAL_FAILURE(Write(60, 20, 1000));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the last commits sealed too
  node_->Kill9();
  const std::string damaged = DamageAMiddleWalFrame(data_ + "/index.db-wal");
  ASSERT_FALSE(damaged.empty());

  ASSERT_NO_FATAL_FAILURE(Start("[checkpoint]\ninterval_ms = 600000\n"));
  json before = Status();
  ASSERT_EQ(before["state"], "refused") << before.dump();
  PostRestore(R"({"to":"latest"})", 202);
  json done = WaitForRestore();
  ASSERT_EQ(done["state"], "restored") << done.dump() << LogTail(node_->log_path());
  const std::string position = done["position"];
  const int64_t txid = std::stoll(position.substr(position.find('/') + 1));
  // The segment store held every commit (they were sealed before the kill).
  EXPECT_EQ(txid, acked_.back().txid) << done.dump();
  EXPECT_EQ(ReadBack(), DumpAt(txid));
  ASSERT_TRUE(done["quarantine"].is_string());
  auto kept = ReadWholeFile(done["quarantine"].get<std::string>() + "/index.db-wal");
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  EXPECT_EQ(*kept, damaged) << "the damaged WAL is kept, byte for byte";
  json status = Status();
  EXPECT_EQ(status["state"], "serving") << status.dump();
  EXPECT_EQ(status["refusal"], nullptr);
  auto put = client_->Put("/v1/archives/after", "x", "text/plain");
  ASSERT_TRUE(put);
  EXPECT_EQ(put->status, 201) << put->body;
}

// SIGTERM during an online restore: the restore stops before its swap, the
// node drains and exits 0, and the database is the one it served before.
TEST_F(OnlineRestoreTest, ASigtermStopsTheRestoreBeforeItsSwapAndDrainsCleanly) {
  ASSERT_NO_FATAL_FAILURE(Start(kFastCheckpoints, /*step_delay_ms=*/200));
  for (int i = 0; i < 8; ++i) {  // 8 segments or more: 1.6 s of build with the pauses
    ASSERT_NO_FATAL_FAILURE(Write(4, 10));
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
  }
  PostRestore("", 202);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_EQ(Status()["restore"]["state"], "running") << "the restore must still run when the signal comes";
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(node_->SignalAndWait(SIGTERM), 0) << LogTail(node_->log_path());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(8));
  EXPECT_NE(node_->ReadLog().find("cancelled"), std::string::npos) << LogTail(node_->log_path());
  EXPECT_FALSE(fs::exists(data_ + "/RESTORE-SWAP.json"));
  EXPECT_FALSE(fs::exists(data_ + "/quarantine")) << "nothing was moved aside";
  ASSERT_NO_FATAL_FAILURE(Start(kFastCheckpoints));
  EXPECT_EQ(Status()["position"], "1/" + std::to_string(acked_.back().txid));
  EXPECT_EQ(ReadBack(), DumpAt(acked_.back().txid));
}

TEST_F(OnlineRestoreTest, BadRequestsAreRefusedAndChangeNothing) {
  ASSERT_NO_FATAL_FAILURE(Start(kFastCheckpoints));
  ASSERT_NO_FATAL_FAILURE(Write(5, 5));
  struct Case {
    std::string body;
    std::string content_type;
    int status;
    std::string message;
  };
  const std::vector<Case> cases = {
      {R"({"to":"earliest"})", "application/json", 400,
       R"(restore: to "earliest": only "latest" (use to_time or to_position for others))"},
      {R"({"to":"latest","to_position":"1/2"})", "application/json", 400,
       "restore: give at most one of to, to_time and to_position"},
      {R"({"to_time":"yesterday"})", "application/json", 400,
       R"(restore: to_time "yesterday": not an RFC 3339 time such as 2026-11-27T08:00:00Z or )"
       "2026-11-27T09:00:00+01:00"},
      {R"({"to_position":"0"})", "application/json", 400,
       R"(restore: to_position "0": not a position; use TIMELINE/TXID as write responses carry it (e.g. 1/42), )"
       "or a txid alone"},
      {R"({"to_position":3})", "application/json", 400, R"(restore: "to_position" must be a string)"},
      {R"({"fetch_from":"ftp://127.0.0.1:1"})", "application/json", 400,
       R"(restore: fetch_from "ftp://127.0.0.1:1": only http:// is supported; use http://HOST:PORT)"},
      {R"({"when":"now"})", "application/json", 400, R"(restore: unknown field "when")"},
      {"[1]", "application/json", 400, "restore: body must be a JSON object"},
      {"{", "application/json", 400, "restore: body is not valid JSON"},
      {"latest", "text/plain", 415, R"(restore: Content-Type "text/plain" is not supported: send application/json)"},
  };
  for (const Case& c : cases) {
    auto r = client_->Post("/v1/admin/restore", c.body, c.content_type);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, c.status) << c.body << ": " << r->body;
    EXPECT_EQ(ParseBody(r->body)["error"]["message"], c.message) << c.body;
  }
  json status = Status();
  EXPECT_EQ(status["restore"], nullptr) << status.dump();
  EXPECT_EQ(status["state"], "serving");
  EXPECT_EQ(ReadBack(), DumpAt(acked_.back().txid));
}

TEST_F(OnlineRestoreTest, AStandbyRefusesAndFollowsThePrimaryOntoItsNewTimeline) {
  NodeOptions so;
  so.data_dir = tmp_.Sub("standby");
  so.config_toml = "[replication]\nrole = \"standby\"\n";
  std::string error;
  auto standby = NodeProcess::Start(so, &error);
  ASSERT_NE(standby, nullptr) << error;
  auto standby_client = standby->Client();
  auto refused = standby_client->Post("/v1/admin/restore");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 503) << refused->body;
  EXPECT_EQ(ParseBody(refused->body)["error"]["code"], "not_primary");

  ASSERT_NO_FATAL_FAILURE(
      Start(std::string(kFastCheckpoints) + "[replication]\nstandby = \"" + standby->url() + "\"\n"));
  ASSERT_NO_FATAL_FAILURE(Write(10, 10));
  const int64_t target = acked_.back().txid;
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  ASSERT_NO_FATAL_FAILURE(Write(10, 10));
  PostRestore(R"({"to_position":")" + std::to_string(target) + R"("})", 202);
  json done = WaitForRestore();
  ASSERT_EQ(done["state"], "restored") << done.dump() << LogTail(node_->log_path());
  ASSERT_EQ(done["position"], "2/" + std::to_string(target));
  ASSERT_NO_FATAL_FAILURE(Write(3, 3));
  const std::string want = "2/" + std::to_string(acked_.back().txid);
  std::string seen;
  for (int i = 0; i < 400 && seen != want; ++i) {
    auto st = standby_client->Get("/v1/status");
    if (st) seen = ParseBody(st->body).value("position", "");
    if (seen != want) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  EXPECT_EQ(seen, want) << LogTail(standby->log_path());
  Dump on_standby;
  for (const Acked& a : acked_) {
    auto r = standby_client->Get("/v1/archives/" + a.key);
    if (r && r->status == 200) on_standby[a.key] = ParseBody(r->body).value("content", "");
  }
  Dump expected = DumpAt(target);
  for (size_t i = acked_.size() - 3; i < acked_.size(); ++i) expected[acked_[i].key] = acked_[i].content;
  EXPECT_EQ(on_standby, expected);
}

}  // namespace
}  // namespace walship::testing
