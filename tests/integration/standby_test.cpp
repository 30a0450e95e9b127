// A primary and a standby, two real walship processes on 127.0.0.1.
//
// Writers load the primary while a reader reads its own writes from the
// standby (min_position). Once quiet, the standby must be at the primary's
// position with the primary's database checksum, list every key with the
// primary's version and SHA-256, serve every key's content as written, and
// after both stop its file must equal the primary's byte for byte and pass
// `sqlite3 ... "PRAGMA integrity_check"`. A standby killed during the load
// catches up with no gap when it comes back; one whose data folder is
// deleted is rebuilt from the primary's segment store.
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/standby_fixture.h"

namespace walship::testing {
namespace {

TEST_F(StandbyTest, TenThousandArchivesUnderLoadArriveByteForByte) {
  standby_ = StartStandby();
  ASSERT_NE(standby_, nullptr);
  primary_ = StartPrimary(standby_->url());
  ASSERT_NE(primary_, nullptr);

  // While the load runs: read your own writes from the standby.
  std::atomic<bool> done{false};
  std::atomic<int> reads_ok{0};
  std::thread reader([&] {
    auto client = standby_->Client();
    std::mt19937 g(TestSeed());
    while (!done) {
      std::string key;
      int64_t txid = -1;
      {
        std::lock_guard lock(mu_);
        if (!acked_.empty()) {
          auto it = acked_.begin();
          std::advance(it, static_cast<long>(g() % acked_.size()));
          key = it->first;
          txid = it->second;
        }
      }
      if (key.empty()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        continue;
      }
      auto res = client->Get(("/v1/archives/" + key + "?min_position=1/" + std::to_string(txid)).c_str());
      if (res && res->status == 200 && ParseBody(res->body).value("content", "") == ContentFor(key)) {
        ++reads_ok;
      } else if (!res || res->status != 503 || ParseBody(res->body)["error"].value("code", "") != "position_not_reached") {
        failures_.Add("standby GET " + key + " at txid " + std::to_string(txid) + ": " +
                      (res ? std::to_string(res->status) + " " + Truncated(res->body) : "no answer"));
      }
    }
  });
  Load("load", 8, 1250);
  done = true;
  reader.join();
  EXPECT_EQ(failures_.count(), 0) << failures_.Report();
  EXPECT_EQ(acked_.size(), 10000u);
  EXPECT_GT(reads_ok.load(), 0) << "no read of a fresh write succeeded on the standby";

  WaitCaughtUp();
  ExpectSameArchives();
  json status = GetJson(*primary_, "/v1/status")["replication"];
  EXPECT_EQ(status.value("lag_txids", int64_t{-1}), 0) << status.dump();
  EXPECT_EQ(status.value("errors", int64_t{-1}), 0) << status.dump();
  json standby_status = GetJson(*standby_, "/v1/status");
  EXPECT_EQ(standby_status["replication"].value("lag_txids", int64_t{-1}), 0) << standby_status.dump();
  EXPECT_TRUE(standby_status.value("ready", false)) << standby_status.dump();

  ASSERT_EQ(primary_->SignalAndWait(SIGTERM), 0);
  ASSERT_EQ(standby_->SignalAndWait(SIGTERM), 0);
  const std::string primary_db = tmp_.Sub("primary/index.db");
  const std::string standby_db = tmp_.Sub("standby/index.db");
  EXPECT_TRUE(Slurp(primary_db) == Slurp(standby_db)) << "the standby's file differs from the primary's";
  std::string out;
  FILE* p = ::popen(("sqlite3 '" + standby_db + "' 'PRAGMA integrity_check' 2>&1").c_str(), "r");
  ASSERT_NE(p, nullptr);
  char buf[256];
  while (std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
  EXPECT_EQ(::pclose(p), 0);
  EXPECT_EQ(out, "ok\n");
}

TEST_F(StandbyTest, AStandbyKilledDuringLoadCatchesUpWithNoGap) {
  standby_ = StartStandby();
  ASSERT_NE(standby_, nullptr);
  const int standby_port = standby_->port();
  primary_ = StartPrimary(standby_->url());
  ASSERT_NE(primary_, nullptr);

  std::atomic<bool> stop{false};
  std::thread load([&] { Load("gap", 4, 1 << 30, &stop); });
  StopLoadOnExit load_guard{stop, load};
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  standby_->Kill9();  // mid-apply, likely
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  json while_down = GetJson(*primary_, "/v1/status")["replication"];
  standby_ = StartStandby(standby_port);
  ASSERT_NE(standby_, nullptr);
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  stop = true;
  load.join();
  EXPECT_EQ(failures_.count(), 0) << failures_.Report();

  EXPECT_FALSE(while_down.value("connected", true)) << while_down.dump();
  EXPECT_GT(while_down.value("retries", int64_t{0}), 0) << while_down.dump();
  WaitCaughtUp();
  ExpectSameArchives();
  EXPECT_TRUE(GetJson(*primary_, "/v1/status")["replication"].value("connected", false));
}

// kill -9 at random moments of the standby's life (applies land every
// ~100 ms under this load), twenty times; each restart must recover to a
// segment boundary, and at the end everything must match.
TEST_F(StandbyTest, AStandbyKilledAgainAndAgainEndsIdentical) {
  standby_ = StartStandby();
  ASSERT_NE(standby_, nullptr);
  const int standby_port = standby_->port();
  primary_ = StartPrimary(standby_->url());
  ASSERT_NE(primary_, nullptr);
  std::atomic<bool> stop{false};
  std::thread load([&] { Load("kills", 4, 1 << 30, &stop); });
  StopLoadOnExit load_guard{stop, load};
  std::mt19937 g(TestSeed());
  for (int round = 0; round < 20; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100 + g() % 300));
    standby_->Kill9();
    standby_ = StartStandby(standby_port);
    ASSERT_NE(standby_, nullptr) << "round " << round;
    json status = GetJson(*standby_, "/v1/status");
    EXPECT_TRUE(status["replication"]["error"].is_null()) << "round " << round << ": " << status.dump();
  }
  stop = true;
  load.join();
  EXPECT_EQ(failures_.count(), 0) << failures_.Report();
  WaitCaughtUp();
  ExpectSameArchives();
  ASSERT_EQ(primary_->SignalAndWait(SIGTERM), 0);
  ASSERT_EQ(standby_->SignalAndWait(SIGTERM), 0);
  EXPECT_TRUE(Slurp(tmp_.Sub("primary/index.db")) == Slurp(tmp_.Sub("standby/index.db")))
      << "the standby's file differs from the primary's";
}

// Twenty kills that land inside an apply every time: the failpoint makes
// the standby write part of its N-th segment and SIGKILL itself. Each
// restart must come back at a verified segment boundary, never diverged.
TEST_F(StandbyTest, AStandbyKilledInTheMiddleOfAnApplyTwentyTimesConverges) {
  standby_ = StartStandby();
  ASSERT_NE(standby_, nullptr);
  const int standby_port = standby_->port();
  primary_ = StartPrimary(standby_->url());
  ASSERT_NE(primary_, nullptr);
  std::atomic<bool> stop{false};
  std::thread load([&] { Load("mid-apply", 4, 1 << 30, &stop); });
  StopLoadOnExit load_guard{stop, load};
  std::mt19937 g(TestSeed());
  int killed_mid_apply = 0;
  for (int round = 0; round < 20; ++round) {
    const int n = 1 + static_cast<int>(g() % 3);
    standby_->Kill9();
    standby_ = StartStandby(standby_port, {"WALSHIP_FAILPOINT_KILL_MID_APPLY=" + std::to_string(n)});
    ASSERT_NE(standby_, nullptr) << "round " << round;
    for (int i = 0; i < 1500 && standby_->Running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (!standby_->Running()) {
      ++killed_mid_apply;
    } else {
      ADD_FAILURE() << "round " << round << ": the standby did not reach apply " << n << " in 15 s\nstandby log:\n"
                    << LogTail(standby_->log_path(), 15) << "\nprimary status: "
                    << GetJson(*primary_, "/v1/status")["replication"].dump();
    }
  }
  standby_->Kill9();
  standby_ = StartStandby(standby_port);
  ASSERT_NE(standby_, nullptr);
  stop = true;
  load.join();
  EXPECT_EQ(failures_.count(), 0) << failures_.Report();
  EXPECT_EQ(killed_mid_apply, 20);
  const std::string log = Slurp(standby_->log_path());
  EXPECT_NE(log.find("failpoint: killing the process in the middle of an apply"), std::string::npos);
  EXPECT_NE(log.find("caught in the middle of a segment: applied it again"), std::string::npos);
  EXPECT_EQ(log.find("rebuilds its replica"), std::string::npos) << "a restart needed a rebuild";
  WaitCaughtUp();
  ExpectSameArchives();
  json status = GetJson(*standby_, "/v1/status");
  EXPECT_TRUE(status["replication"]["error"].is_null()) << status.dump();
}

TEST_F(StandbyTest, AStandbyWhoseDataIsDeletedReplaysThePrimarysChain) {
  standby_ = StartStandby();
  ASSERT_NE(standby_, nullptr);
  const int standby_port = standby_->port();
  primary_ = StartPrimary(standby_->url(), "snapshot_after_bytes = -1\n");
  ASSERT_NE(primary_, nullptr);
  Load("first", 4, 300);
  WaitCaughtUp();
  ASSERT_EQ(standby_->SignalAndWait(SIGTERM), 0);
  std::filesystem::remove_all(tmp_.Sub("standby"));
  Load("second", 4, 300);
  standby_ = StartStandby(standby_port);
  ASSERT_NE(standby_, nullptr);
  WaitCaughtUp();
  ExpectSameArchives();
  EXPECT_EQ(failures_.count(), 0) << failures_.Report();
  EXPECT_EQ(GetJson(*primary_, "/v1/status")["segments"].value("bases", -1), 0);
}

TEST_F(StandbyTest, AStandbyWhoseDataIsDeletedStartsOverFromASnapshot) {
  // Segments up to 1 MiB only: the snapshot (several MiB) is streamed to the
  // standby's disk, under replication.max_base_bytes, not held in memory.
  // The primary cuts its segments at 512 KiB of WAL frames, so none is
  // over that limit (without the cut, a fast writer put 1.4 MB of compressed
  // frames in one 100 ms segment now and then: a start over of its own,
  // standby_limits_test.cpp).
  const std::string small_pushes = "[replication]\nmax_segment_bytes = 1048576\n";
  standby_ = StartStandby(0, {}, small_pushes);
  ASSERT_NE(standby_, nullptr);
  const int standby_port = standby_->port();
  primary_ = StartPrimary(standby_->url(),
                          "snapshot_after_bytes = 0\n"  // never replay
                          "[segments]\ncollect_max_wal_bytes = 524288\n");
  ASSERT_NE(primary_, nullptr);
  Load("first", 4, 300);
  WaitCaughtUp();
  ASSERT_EQ(standby_->SignalAndWait(SIGTERM), 0);
  std::filesystem::remove_all(tmp_.Sub("standby"));
  Load("second", 4, 300);

  // Writes go on while it starts: the first one after the snapshot ships it.
  std::atomic<bool> stop{false};
  std::thread load([&] { Load("third", 2, 1 << 30, &stop); });
  StopLoadOnExit load_guard{stop, load};
  standby_ = StartStandby(standby_port, {}, small_pushes);
  ASSERT_NE(standby_, nullptr);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  stop = true;
  load.join();
  WaitCaughtUp();
  ExpectSameArchives();
  EXPECT_EQ(failures_.count(), 0) << failures_.Report();
  // Two snapshots: one for the standby's first start (it was empty too), one
  // for its start over.
  EXPECT_EQ(GetJson(*primary_, "/v1/status")["segments"].value("bases", -1), 2);
  int bases = 0;
  for (const auto& e : std::filesystem::directory_iterator(tmp_.Sub("standby/segments"))) {
    const std::string name = e.path().filename().string();
    EXPECT_FALSE(name.starts_with("tmp-")) << name << ": a base push left its temp file";
    if (!name.starts_with("base-")) continue;
    ++bases;
    EXPECT_GT(std::filesystem::file_size(e.path()), 1048576u) << "the snapshot fits a segment push: test nothing";
  }
  EXPECT_EQ(bases, 1) << "the standby did not start on a snapshot";
  for (const auto& e : std::filesystem::directory_iterator(tmp_.Sub("primary/segments"))) {
    const std::string name = e.path().filename().string();
    if (!e.is_regular_file() || name.starts_with("base-") || name.starts_with("tmp-")) continue;
    EXPECT_LE(std::filesystem::file_size(e.path()), 1048576u) << name << ": over the standby's limit";
  }
  EXPECT_NE(Slurp(standby_->log_path()).find("standby stored a base snapshot"), std::string::npos);
}

TEST_F(StandbyTest, SyncModeAnswersAWriteOnlyOnceTheStandbyHasIt) {
  standby_ = StartStandby();
  ASSERT_NE(standby_, nullptr);
  const int standby_port = standby_->port();
  primary_ = StartPrimary(standby_->url(), "mode = \"sync\"\nsync_timeout_ms = 1500\n");
  ASSERT_NE(primary_, nullptr);

  // Every acknowledged write is already on the standby when the answer comes.
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      auto client = primary_->Client();
      for (int i = 0; i < 25; ++i) {
        const std::string key = "sync/" + std::to_string(w) + "/" + std::to_string(i);
        auto res = client->Put(("/v1/archives/" + key).c_str(), ContentFor(key), "text/plain");
        if (!res || res->status != 201) {
          failures_.Add("PUT " + key + ": " + (res ? std::to_string(res->status) + " " + res->body : "no answer"));
          continue;
        }
        const int64_t txid = ParsePosition(ParseBody(res->body).value("position", json())).value_or(-1);
        const int64_t on_standby = GetJson(*standby_, "/v1/replication/position").value("txid", int64_t{-1});
        if (on_standby < txid) {
          failures_.Add(key + " acknowledged at txid " + std::to_string(txid) + " while the standby had " +
                        std::to_string(on_standby));
        }
      }
    });
  }
  for (auto& t : writers) t.join();
  EXPECT_EQ(failures_.count(), 0) << failures_.Report();

  // Without the standby a write is never a false success.
  standby_->Kill9();
  auto client = primary_->Client();
  const auto started = std::chrono::steady_clock::now();
  auto lonely = client->Put("/v1/archives/sync/lonely", "written while the standby was down", "text/plain");
  const auto waited = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(lonely);
  EXPECT_EQ(lonely->status, 504) << lonely->body;
  json err = ParseBody(lonely->body)["error"];
  EXPECT_EQ(err.value("code", ""), "replication_timeout");
  EXPECT_TRUE(err.value("message", "").starts_with("the write is committed on this primary at position 1/"))
      << err.dump();
  EXPECT_NE(err.value("message", "").find("did not confirm txid"), std::string::npos) << err.dump();
  EXPECT_GE(waited, std::chrono::milliseconds(1400));

  // Back: it gets the committed write too, and writes succeed again.
  standby_ = StartStandby(standby_port);
  ASSERT_NE(standby_, nullptr);
  auto again = client->Put("/v1/archives/sync/again", "the standby is back", "text/plain");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 201) << again->body;
  auto lonely_on_standby = standby_->Client()->Get("/v1/archives/sync/lonely");
  ASSERT_TRUE(lonely_on_standby);
  EXPECT_EQ(lonely_on_standby->status, 200) << lonely_on_standby->body;
}

TEST_F(StandbyTest, SyncModeLosesNoAcknowledgedWriteWhenThePrimaryIsKilled) {
  standby_ = StartStandby();
  ASSERT_NE(standby_, nullptr);
  primary_ = StartPrimary(standby_->url(), "mode = \"sync\"\n");
  ASSERT_NE(primary_, nullptr);
  std::atomic<bool> stop{false};
  std::thread load([&] { Load("sync-kill", 8, 1 << 30, &stop); });
  StopLoadOnExit load_guard{stop, load};
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  primary_->Kill9();  // writes in flight: some answered, some cut off
  stop = true;
  load.join();
  // Writes cut off by the kill fail as "no answer": not acknowledged, fine.
  std::lock_guard lock(mu_);
  ASSERT_GT(acked_.size(), 50u) << "too few writes to mean anything";
  auto client = standby_->Client();
  int missing = 0;
  for (const auto& [key, txid] : acked_) {
    auto res = client->Get(("/v1/archives/" + key).c_str());
    if (!res || res->status != 200 || ParseBody(res->body).value("content", "") != ContentFor(key)) {
      if (++missing <= 5) ADD_FAILURE() << "acknowledged " << key << " (txid " << txid << ") is not on the standby";
    }
  }
  EXPECT_EQ(missing, 0) << "of " << acked_.size() << " acknowledged writes";
}

// A write after which the primary goes quiet is sealed by the collect tick
// (every 100 ms), not left for the next checkpoint (here 10 s away).
TEST_F(StandbyTest, TheLastWriteBeforeAPauseReachesTheStandbyWithoutWaitingForACheckpoint) {
  standby_ = StartStandby();
  ASSERT_NE(standby_, nullptr);
  primary_ = StartPrimary(standby_->url(), "[checkpoint]\ninterval_ms = 10000\n");
  ASSERT_NE(primary_, nullptr);
  auto client = primary_->Client();
  auto standby = standby_->Client();
  for (int i = 0; i < 5; ++i) {
    // The first write after a pause is collected at once; the one right
    // after it, within the collect interval, is the one that would wait.
    auto first = client->Put(("/v1/archives/pause/first-" + std::to_string(i)).c_str(), "x", "text/plain");
    ASSERT_TRUE(first && first->status == 201);
    const std::string path = "/v1/archives/pause/" + std::to_string(i);
    auto put = client->Put(path.c_str(), "then nothing for a while", "text/plain");
    ASSERT_TRUE(put && put->status == 201);
    const std::string position = ParseBody(put->body).value("position", "");
    const auto acked = std::chrono::steady_clock::now();
    auto got = standby->Get((path + "?min_position=" + position).c_str());
    const auto lag = std::chrono::steady_clock::now() - acked;
    ASSERT_TRUE(got);
    EXPECT_EQ(got->status, 200) << got->body;
    EXPECT_LT(lag, std::chrono::milliseconds(1000)) << "write " << i << " waited for a checkpoint";
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
}

TEST_F(StandbyTest, APrimaryStoppingShipsItsLastSegmentFirst) {
  standby_ = StartStandby();
  ASSERT_NE(standby_, nullptr);
  primary_ = StartPrimary(standby_->url());
  ASSERT_NE(primary_, nullptr);
  WaitCaughtUp();
  auto put = primary_->Client()->Put("/v1/archives/last/words", "written just before the stop", "text/plain");
  ASSERT_TRUE(put && put->status == 201);
  // At once: the write is in no segment yet; the final checkpoint seals it.
  ASSERT_EQ(primary_->SignalAndWait(SIGTERM), 0);
  auto got = standby_->Client()->Get("/v1/archives/last/words");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 200) << got->body;
}

TEST_F(StandbyTest, RolesAreKeptApartWithNamedErrors) {
  standby_ = StartStandby();
  ASSERT_NE(standby_, nullptr);
  auto client = standby_->Client();
  // Empty: not ready, and reads say why.
  auto ready = client->Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 503);
  EXPECT_NE(ready->body.find("has not received a database from the primary yet"), std::string::npos) << ready->body;
  auto get = client->Get("/v1/archives/a");
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 503);
  EXPECT_EQ(ParseBody(get->body)["error"].value("code", ""), "standby_empty") << get->body;

  primary_ = StartPrimary(standby_->url());
  ASSERT_NE(primary_, nullptr);
  auto put = primary_->Client()->Put("/v1/archives/a", "one", "text/plain");
  ASSERT_TRUE(put && put->status == 201);
  WaitCaughtUp();

  auto write = client->Put("/v1/archives/b", "two", "text/plain");
  ASSERT_TRUE(write);
  EXPECT_EQ(write->status, 503);
  json err = ParseBody(write->body)["error"];
  EXPECT_EQ(err.value("code", ""), "not_primary");
  EXPECT_EQ(err.value("message", ""),
            "this node is a standby: send writes to the primary (replication.primary is not set here)");
  auto batch = client->Post("/v1/batch", R"({"ops":[{"op":"delete","key":"a"}]})", "application/json");
  ASSERT_TRUE(batch);
  EXPECT_EQ(batch->status, 503);
  EXPECT_EQ(ParseBody(batch->body)["error"].value("code", ""), "not_primary") << batch->body;

  // A position from the future waits briefly, then says so.
  auto ahead = client->Get("/v1/archives/a?min_position=1/999999");
  ASSERT_TRUE(ahead);
  EXPECT_EQ(ahead->status, 503);
  EXPECT_EQ(ParseBody(ahead->body)["error"].value("code", ""), "position_not_reached") << ahead->body;
  auto bad = client->Get("/v1/archives/a?min_position=latest");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_EQ(ParseBody(bad->body)["error"].value("message", ""),
            "min_position: position \"latest\" is not TIMELINE/TXID (as in \"1/42\")");

  // A primary takes no segments.
  auto push = primary_->Client()->Put("/v1/replication/segments/1", "x", "application/octet-stream");
  ASSERT_TRUE(push);
  EXPECT_EQ(push->status, 409);
  EXPECT_EQ(ParseBody(push->body)["error"].value("code", ""), "not_standby") << push->body;
  // Damaged bytes are refused by the standby and change nothing.
  auto junk = client->Put("/v1/replication/segments/99", std::string(300, 'j'), "application/octet-stream");
  ASSERT_TRUE(junk);
  EXPECT_EQ(junk->status, 422) << junk->body;
  EXPECT_EQ(ParseBody(junk->body)["error"].value("code", ""), "segment_corrupt") << junk->body;
  EXPECT_TRUE(GetJson(*standby_, "/v1/status").value("ready", false));

  // Resync is one command; the idle primary notices and sends it all again.
  auto resync = client->Post("/v1/admin/resync", "", "application/json");
  ASSERT_TRUE(resync);
  EXPECT_EQ(resync->status, 200) << resync->body;
  EXPECT_NE(ParseBody(resync->body).value("previous_files", "").find("/quarantine/resync-"), std::string::npos)
      << resync->body;
  WaitCaughtUp();
  auto after = client->Get("/v1/archives/a");
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 200) << after->body;
  auto on_primary = primary_->Client()->Post("/v1/admin/resync", "", "application/json");
  ASSERT_TRUE(on_primary);
  EXPECT_EQ(on_primary->status, 409);
}

TEST_F(StandbyTest, BasePushesAreStreamedAndRefusedWithNamedErrors) {
  standby_ = StartStandby(0, {}, "[replication]\nmax_base_bytes = 33554432\n");
  ASSERT_NE(standby_, nullptr);
  auto client = standby_->Client();
  auto error_of = [](const httplib::Result& r) { return ParseBody(r->body)["error"]; };

  // Sends `bytes` on a plain socket and reads until the node closes it.
  auto raw_exchange = [](int port, const std::string& bytes) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::string answer;
    if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return answer;
    timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    (void)::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    char buf[4096];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) answer.append(buf, static_cast<size_t>(n));
    ::close(fd);
    return answer;
  };
  // Over replication.max_base_bytes: refused from its Content-Length, before
  // any of the body is sent (the body is never written).
  const std::string big = raw_exchange(
      standby_->port(), "PUT /v1/replication/bases/5 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 33554433\r\n\r\n");
  EXPECT_TRUE(big.starts_with("HTTP/1.1 413")) << big;
  EXPECT_NE(big.find("request body is 33554433 bytes, over the limit of 33554432"), std::string::npos) << big;
  // Not a database: refused, nothing stored.
  auto junk = standby_->Client()->Put("/v1/replication/bases/5", std::string(8192, 'j'), "application/octet-stream");
  ASSERT_TRUE(junk);
  EXPECT_EQ(junk->status, 422);
  EXPECT_EQ(error_of(junk).value("message", ""),
            "receive the base of segment 5: the bytes are not an SQLite database");
  auto bad = standby_->Client()->Put("/v1/replication/bases/99999999999999999999999", "x", "application/octet-stream");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_EQ(error_of(bad).value("message", ""), "base sequence must be a decimal number");
  auto no_route = standby_->Client()->Put("/v1/replication/bases/five", "x", "application/octet-stream");
  ASSERT_TRUE(no_route);
  EXPECT_EQ(no_route->status, 404);
  EXPECT_EQ(error_of(no_route).value("message", ""), "no route for PUT /v1/replication/bases/five");
  // A database file up to the limit is stored byte for byte (20 MiB: more
  // than one writeback kick while it streams).
  std::string db(20 << 20, '\0');
  db.replace(0, 16, std::string("SQLite format 3\0", 16));
  for (size_t i = 100; i < db.size(); ++i) db[i] = static_cast<char>(i * 7 + i / 4096);
  auto ok = standby_->Client()->Put("/v1/replication/bases/5", db, "application/octet-stream");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
  EXPECT_EQ(Slurp(tmp_.Sub("standby/segments/") + SegmentStore::BaseFileName(5)), db);
  for (const auto& e : std::filesystem::directory_iterator(tmp_.Sub("standby/segments"))) {
    EXPECT_FALSE(e.path().filename().string().starts_with("tmp-")) << e.path() << " was left behind";
  }

  // A primary takes no bases, and says so before reading the body.
  primary_ = StartPrimary(standby_->url());
  ASSERT_NE(primary_, nullptr);
  auto to_primary = primary_->Client()->Put("/v1/replication/bases/5", db.substr(0, 8192), "application/octet-stream");
  ASSERT_TRUE(to_primary);
  EXPECT_EQ(to_primary->status, 409);
  EXPECT_EQ(error_of(to_primary).value("code", ""), "not_standby");
  // The unread body is never run as a request: the connection closes.
  ASSERT_EQ(primary_->Client()->Put("/v1/archives/victim", "still here", "text/plain")->status, 201);
  const std::string smuggled = "DELETE /v1/archives/victim HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  const std::string answer = raw_exchange(
      primary_->port(), "PUT /v1/replication/bases/5 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " +
                            std::to_string(smuggled.size()) + "\r\n\r\n" + smuggled);
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 409")) << answer;
  EXPECT_EQ(answer.find("HTTP/1.1", 1), std::string::npos) << "a second answer: the body ran as a request\n" << answer;
  EXPECT_EQ(primary_->Client()->Get("/v1/archives/victim")->status, 200);
}

}  // namespace
}  // namespace walship::testing
