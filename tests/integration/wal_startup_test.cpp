// The failure that started the project, end to end: a node writes 20
// archives (20 committed transactions) and is killed with its WAL full; one
// byte of an early frame's page is flipped. Plain SQLite then loses the
// transactions behind that frame without an error and deletes the WAL;
// walship refuses to open the database, keeps every byte, and says why.
// A torn tail, by contrast, is normal: the node starts.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "replication/wal_file.h"
#include "tests/support/node_process.h"
#include "tests/support/run_helpers.h"
#include "tests/support/temp_dir.h"

namespace walship::testing {
namespace {

namespace fs = std::filesystem;

constexpr int kArchives = 20;
// No checkpoint while the test writes: the WAL keeps every frame.
constexpr const char* kNoCheckpointToml = "[checkpoint]\ninterval_ms = 3600000\nwal_bytes = 1099511627776\n";

void WriteWhole(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string Key(int i) { return "/v1/archives/wal/" + std::to_string(i); }

// Opens the database as any program would (read-write, default VFS) and
// counts the archives; every SQLite call must succeed.
int64_t CountArchivesWithPlainSqlite(const std::string& db_path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr);
  EXPECT_EQ(rc, SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_stmt* stmt = nullptr;
  int64_t n = -1;
  rc = sqlite3_prepare_v2(db, "SELECT count(*) FROM archives", -1, &stmt, nullptr);
  EXPECT_EQ(rc, SQLITE_OK) << sqlite3_errmsg(db);
  if (rc == SQLITE_OK) {
    rc = sqlite3_step(stmt);
    EXPECT_EQ(rc, SQLITE_ROW) << sqlite3_errmsg(db);
    if (rc == SQLITE_ROW) n = sqlite3_column_int64(stmt, 0);
  }
  sqlite3_finalize(stmt);
  EXPECT_EQ(sqlite3_close(db), SQLITE_OK);
  return n;
}

class WalStartupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string data = dir_.Sub("written");
    std::string error;
    auto node = NodeProcess::Start({.data_dir = data, .config_toml = kNoCheckpointToml}, &error);
    ASSERT_NE(node, nullptr) << error;
    auto client = node->Client();
    for (int i = 0; i < kArchives; ++i) {
      auto r = client->Put(Key(i), "archive number " + std::to_string(i), "text/plain");
      ASSERT_TRUE(r) << "put " << i;
      ASSERT_EQ(r->status, 201) << r->body;
    }
    node->Kill9();
    wal_ = Slurp(data + "/index.db-wal");
    Result<WalScan> scan = ScanWalFile(data + "/index.db-wal", {.after = std::nullopt, .keep_pages = false});
    ASSERT_TRUE(scan.ok()) << scan.status().ToString();
    ASSERT_EQ(scan->end, WalEnd::kClean);
    for (const WalFrame& f : scan->frames) {
      if (f.is_commit()) commits_.push_back(f);
    }
    ASSERT_GE(commits_.size(), static_cast<size_t>(kArchives)) << "the WAL must hold every put";
    last_frame_ = scan->frames.back();
    header_ = scan->header;
  }

  // A copy of the killed node's folder, its -wal replaced by `wal`.
  std::string CopyWithWal(const std::string& name, const std::string& wal) {
    const std::string copy = dir_.Sub(name);
    fs::copy(dir_.Sub("written"), copy, fs::copy_options::recursive);
    WriteWhole(copy + "/index.db-wal", wal);
    return copy;
  }

  // The WAL with one byte flipped in the page of the first frame of the
  // transaction after commit `k` (1-based), so kArchives - k puts verify
  // behind it.
  std::string WalFlippedAfterCommit(size_t k, WalFrame* bad) {
    const WalFrame& commit = commits_[commits_.size() - kArchives + k - 1];
    bad->index = commit.index + 1;
    bad->offset = header_.FrameOffset(bad->index);
    std::string wal = wal_;
    wal[bad->offset + kWalFrameHeaderSize + 100] ^= 0x5a;
    return wal;
  }

  TempDir dir_;
  std::string wal_;
  std::vector<WalFrame> commits_;
  WalFrame last_frame_;
  WalHeader header_;
};

TEST_F(WalStartupTest, PlainSqliteDropsCommittedTransactionsSilentlyAndDeletesTheWal) {
  const std::string intact = CopyWithWal("intact", wal_);
  EXPECT_EQ(CountArchivesWithPlainSqlite(intact + "/index.db"), kArchives);

  WalFrame bad;
  const std::string copy = CopyWithWal("plain", WalFlippedAfterCommit(5, &bad));
  const std::string db = copy + "/index.db";

  EXPECT_EQ(CountArchivesWithPlainSqlite(db), 5) << "SQLite keeps only what precedes the bad frame, silently";
  // The connection that closed last checkpointed the shortened log and
  // deleted the WAL: the 15 transactions behind the bad frame are gone.
  EXPECT_FALSE(fs::exists(db + "-wal")) << "size " << fs::file_size(db + "-wal");
  EXPECT_EQ(CountArchivesWithPlainSqlite(db), 5);
}

TEST_F(WalStartupTest, WalshipRefusesKeepsTheWalAndSaysWhy) {
  WalFrame bad;
  const std::string damaged = WalFlippedAfterCommit(5, &bad);
  const std::string copy = CopyWithWal("refused", damaged);
  const std::string db = copy + "/index.db";
  const std::string shm = Slurp(db + "-shm");
  const std::string db_bytes = Slurp(db);

  std::string error;
  auto node = NodeProcess::Start({.data_dir = copy, .config_toml = kNoCheckpointToml}, &error);
  ASSERT_NE(node, nullptr) << error;
  auto c = node->Client();
  const std::string place =
      "wal frame " + std::to_string(bad.index) + " at byte " + std::to_string(bad.offset) + ": checksum mismatch";

  auto health = c->Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);

  auto ready = c->Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 503);
  nlohmann::json r = ParseBody(ready->body);
  EXPECT_EQ(r["error"]["code"], "wal_corrupt") << ready->body;
  const std::string message = r["error"].value("message", "");
  EXPECT_EQ(message.rfind(db + "-wal: " + place, 0), 0u) << message;
  EXPECT_NE(message.find("15 committed transactions after the bad frame"), std::string::npos) << message;

  std::vector<httplib::Result> answers;
  answers.push_back(c->Get(Key(3).c_str()));
  answers.push_back(c->Put(Key(3).c_str(), "new", "text/plain"));
  answers.push_back(c->Put("/v1/archives/wal/new", "new", "text/plain"));
  answers.push_back(c->Delete(Key(3).c_str()));
  answers.push_back(c->Get("/v1/archives?prefix=wal/"));
  answers.push_back(c->Get("/v1/search?q=archive"));
  for (const httplib::Result& res : answers) {
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 503) << res->body;
    nlohmann::json e = ParseBody(res->body);
    EXPECT_EQ(e["error"]["code"], "wal_corrupt") << res->body;
    EXPECT_EQ(e["error"]["message"], message);
  }

  auto status = c->Get("/v1/status");
  ASSERT_TRUE(status);
  EXPECT_EQ(status->status, 200);
  nlohmann::json s = ParseBody(status->body);
  EXPECT_EQ(s["state"], "refused") << status->body;
  EXPECT_EQ(s["ready"], false);
  EXPECT_TRUE(s["position"].is_null());
  EXPECT_EQ(s["refusal"]["code"], "wal_corrupt");
  EXPECT_EQ(s["refusal"]["finding"], message);
  EXPECT_NE(s["refusal"].value("action", "").find("keep " + db + "-wal"), std::string::npos) << status->body;
  EXPECT_EQ(s["wal_bytes"], damaged.size());

  EXPECT_EQ(Slurp(db + "-wal"), damaged) << "the WAL must stay as it is while the node runs";
  EXPECT_EQ(node->SignalAndWait(SIGTERM), 0);
  EXPECT_EQ(Slurp(db + "-wal"), damaged) << "the WAL must stay as it is after the node stops";
  EXPECT_EQ(Slurp(db + "-shm"), shm);
  EXPECT_EQ(Slurp(db), db_bytes);
  const std::string log = node->ReadLog();
  EXPECT_NE(log.find("refusing to open the database"), std::string::npos) << LogTail(node->log_path());
  EXPECT_NE(log.find(place), std::string::npos) << LogTail(node->log_path());
}

TEST_F(WalStartupTest, TornTailIsNotRefused) {
  const std::string copy = CopyWithWal("torn", wal_.substr(0, last_frame_.offset + 500));
  std::string error;
  auto node = NodeProcess::Start({.data_dir = copy, .config_toml = kNoCheckpointToml}, &error);
  ASSERT_NE(node, nullptr) << error;
  auto c = node->Client();
  auto ready = c->Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200) << ready->body;
  for (int i = 0; i < kArchives - 1; ++i) {
    auto res = c->Get(Key(i).c_str());
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200) << Key(i) << ": " << res->body;
  }
  auto last = c->Get(Key(kArchives - 1).c_str());
  ASSERT_TRUE(last);
  EXPECT_EQ(last->status, 404) << "the torn last put was never acknowledged as durable in this file";
  auto status = c->Get("/v1/status");
  ASSERT_TRUE(status);
  EXPECT_EQ(ParseBody(status->body)["state"], "serving") << status->body;
  EXPECT_EQ(node->SignalAndWait(SIGTERM), 0);
  EXPECT_NE(node->ReadLog().find("torn tail: "), std::string::npos) << LogTail(node->log_path());
}

}  // namespace
}  // namespace walship::testing
