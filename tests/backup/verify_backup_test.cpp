// The damage matrix (after PostgreSQL's pg_verifybackup tests): each kind of
// damage to a backup folder fails verification with its own named error,
// and an untouched backup verifies. Also: taking a backup, and a failed one
// set aside with its error.
#include "backup/verify_backup.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>

#include "backup/backup_format.h"
#include "backup/backup_store.h"
#include "backup/take_backup.h"
#include "base/fs.h"
#include "base/sha256.h"
#include <nlohmann/json.hpp>
#include "tests/support/temp_dir.h"

namespace walship {
namespace {

namespace fs = std::filesystem;
using walship::testing::TempDir;

constexpr const char* kCluster = "00112233445566778899aabbccddeeff";

// A plain SQLite database pinned in a read transaction (no node): enough
// for TakeBackup, without the node's checksum.
class PlainSnapshot : public PinnedSnapshot {
 public:
  explicit PlainSnapshot(const std::string& path) {
    sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr);
    sqlite3_exec(db_, "BEGIN; SELECT count(*) FROM t;", nullptr, nullptr, nullptr);
    source = "primary";
    cluster_id = kCluster;
    txid = 42;
  }
  ~PlainSnapshot() override { sqlite3_close(db_); }
  sqlite3* connection() override { return db_; }

 private:
  sqlite3* db_ = nullptr;
};

class VerifyBackupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_path_ = tmp_.Sub("source.db");
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(db_path_.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "PRAGMA journal_mode=WAL; CREATE TABLE t(x); "
                           "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 2000) "
                           "INSERT INTO t SELECT printf('row %d %.*c', i, 200, 'x') FROM n;",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
    auto store = BackupStore::Open(tmp_.Sub("backups"), 1'700'000'000'000);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_.emplace(std::move(store).value());
    BackupProgress progress;
    TakeBackupOptions options;
    options.tool_version = "test";
    auto m = TakeBackup(*store_, kId, [&](const std::string&) -> Result<std::unique_ptr<PinnedSnapshot>> {
      return std::unique_ptr<PinnedSnapshot>(new PlainSnapshot(db_path_));
    }, options, clock_, progress);
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    manifest_ = *m;
  }

  // A copy of the backup folder to damage.
  std::string Copy(const std::string& name) {
    const std::string to = tmp_.Sub(name);
    fs::copy(store_->FinalDir(kId), to, fs::copy_options::recursive);
    return to;
  }

  Result<BackupManifest> Verify(const std::string& dir, std::optional<std::string> cluster = kCluster) {
    VerifyBackupOptions o;
    o.expected_cluster = std::move(cluster);
    o.scratch_path = tmp_.Sub("scratch.db");
    return VerifyBackup(dir, o);
  }

  static void FlipByte(const std::string& path, uint64_t at) {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(at));
    char c = 0;
    f.get(c);
    f.seekp(static_cast<std::streamoff>(at));
    f.put(static_cast<char>(c ^ 0x01));
  }

  static constexpr const char* kId = "20231114T221320Z";
  TempDir tmp_;
  std::string db_path_;
  ManualClock clock_{1'700'000'000'000};
  std::optional<BackupStore> store_;
  BackupManifest manifest_;
};

TEST_F(VerifyBackupTest, AnUntouchedBackupVerifies) {
  auto m = Verify(store_->FinalDir(kId));
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->id, kId);
  EXPECT_EQ(m->txid, 42);
  EXPECT_FALSE(m->chain_checksum);  // a plain database: no node checksum to compare with
  EXPECT_GT(m->page_count, 100u);
  EXPECT_LT(m->bytes_compressed, m->bytes_uncompressed);
  EXPECT_FALSE(fs::exists(tmp_.Sub("scratch.db"))) << "the scratch copy is removed";
  auto listed = store_->List();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].state, BackupState::kVerified);
}

TEST_F(VerifyBackupTest, ABitFlipInTheDataIsAChecksumMismatch) {
  const std::string dir = Copy("flip");
  FlipByte(dir + "/" + kBackupDataFile, manifest_.bytes_compressed / 2);
  auto m = Verify(dir);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().reason(), "data_checksum_mismatch");
  EXPECT_EQ(m.status().message().rfind("data.db.zst: SHA-256 ", 0), 0u) << m.status().message();
  EXPECT_NE(m.status().message().find(" is not the manifest's " + manifest_.sha256_compressed), std::string::npos);
}

TEST_F(VerifyBackupTest, ATruncatedDataFileIsNamedTruncated) {
  const std::string dir = Copy("truncated");
  fs::resize_file(dir + "/" + kBackupDataFile, manifest_.bytes_compressed - 100);
  auto m = Verify(dir);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().reason(), "data_truncated");
  EXPECT_EQ(m.status().message(), "data.db.zst: " + std::to_string(manifest_.bytes_compressed - 100) +
                                      " bytes, the manifest says " + std::to_string(manifest_.bytes_compressed) +
                                      ": truncated");
}

TEST_F(VerifyBackupTest, AppendedBytesAreNamedAppended) {
  const std::string dir = Copy("appended");
  std::ofstream(dir + "/" + kBackupDataFile, std::ios::app | std::ios::binary) << "tail";
  auto m = Verify(dir);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().reason(), "data_appended");
  EXPECT_EQ(m.status().message(), "data.db.zst: " + std::to_string(manifest_.bytes_compressed + 4) +
                                      " bytes, the manifest says " + std::to_string(manifest_.bytes_compressed) +
                                      ": 4 bytes appended");
}

TEST_F(VerifyBackupTest, ATamperedManifestFailsItsChecksum) {
  const std::string dir = Copy("tampered");
  auto text = ReadWholeFile(dir + "/" + kBackupManifestFile);
  ASSERT_TRUE(text.ok());
  const std::string from = "\"txid\": 42";
  const auto at = text->find(from);
  ASSERT_NE(at, std::string::npos) << *text;
  std::string edited = *text;
  edited.replace(at, from.size(), "\"txid\": 43");
  ASSERT_TRUE(WriteFileAtomically(dir + "/" + kBackupManifestFile, edited).ok());
  auto m = Verify(dir);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().reason(), "manifest_checksum_mismatch");
  EXPECT_NE(m.status().message().find("manifest.json: checksum mismatch (stated "), std::string::npos);
  EXPECT_NE(m.status().message().find("): the manifest was changed after it was written"), std::string::npos);
}

TEST_F(VerifyBackupTest, AMissingDataFileIsNamedMissing) {
  const std::string dir = Copy("missing");
  fs::remove(dir + "/" + kBackupDataFile);
  auto m = Verify(dir);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().reason(), "data_missing");
  EXPECT_EQ(m.status().message(), "data.db.zst: missing");
}

TEST_F(VerifyBackupTest, AMissingManifestIsNamedMissing) {
  const std::string dir = Copy("no-manifest");
  fs::remove(dir + "/" + kBackupManifestFile);
  auto m = Verify(dir);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().reason(), "manifest_missing");
  EXPECT_EQ(m.status().message(), "manifest.json: missing");
}

TEST_F(VerifyBackupTest, AManifestOfAnotherClusterIsRefused) {
  auto m = Verify(store_->FinalDir(kId), "ffeeddccbbaa99887766554433221100");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().reason(), "other_cluster");
  EXPECT_EQ(m.status().message(), std::string("manifest.json: cluster ") + kCluster +
                                      " is not this node's cluster ffeeddccbbaa99887766554433221100");
}

TEST_F(VerifyBackupTest, DataOfAnotherBackupUnderThisManifestIsAChecksumMismatch) {
  // Same size, other bytes: a data file swapped in from elsewhere.
  const std::string dir = Copy("swapped");
  FlipByte(dir + "/" + kBackupDataFile, 0);
  auto m = Verify(dir);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().reason(), "data_checksum_mismatch");
}

TEST_F(VerifyBackupTest, ManifestThatIsNotJsonIsUnreadable) {
  const std::string dir = Copy("garbage");
  ASSERT_TRUE(WriteFileAtomically(dir + "/" + kBackupManifestFile, "{not json").ok());
  auto m = Verify(dir);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().reason(), "manifest_unreadable");
  EXPECT_EQ(m.status().message(), "manifest.json: not JSON");
}

TEST_F(VerifyBackupTest, ABackupDamagedAfterPublishingIsNotListedAsVerified) {
  fs::resize_file(store_->FinalDir(kId) + "/" + kBackupDataFile, manifest_.bytes_compressed - 1);
  auto listed = store_->List();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].state, BackupState::kFailed);
  EXPECT_FALSE((*listed)[0].set_aside);
  EXPECT_EQ((*listed)[0].error, "damaged after it was verified: data.db.zst is " +
                                    std::to_string(manifest_.bytes_compressed - 1) + " bytes, the manifest says " +
                                    std::to_string(manifest_.bytes_compressed));
  fs::remove(store_->FinalDir(kId) + "/" + kBackupDataFile);
  listed = store_->List();
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ((*listed)[0].error, "damaged after it was verified: data.db.zst is missing");
}

TEST_F(VerifyBackupTest, RemovalInterruptedByACrashIsFinishedAtTheNextOpen) {
  ASSERT_TRUE(store_->Remove(kId).ok());
  EXPECT_FALSE(fs::exists(store_->FinalDir(kId)));
  // A crash between the rename and the delete leaves this behind:
  fs::create_directories(tmp_.Sub("backups/deleting-20231114T221300Z"));
  std::ofstream(tmp_.Sub("backups/deleting-20231114T221300Z/data.db.zst")) << "old";
  EXPECT_TRUE(store_->List()->empty()) << "never listed";
  store_.reset();
  auto reopened = BackupStore::Open(tmp_.Sub("backups"), 1'700'000'100'000);
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  EXPECT_FALSE(fs::exists(tmp_.Sub("backups/deleting-20231114T221300Z")));
}

TEST_F(VerifyBackupTest, ASecondStoreOnTheSameFolderIsRefused) {
  auto second = BackupStore::Open(tmp_.Sub("backups"), 1'700'000'000'000);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Code::kUnavailable);
  EXPECT_NE(second.status().message().find("(backup.dir must belong to one node): data folder " + tmp_.Sub("backups") +
                                           " is in use by another walship process"),
            std::string::npos)
      << second.status().message();
}

TEST_F(VerifyBackupTest, ADeeplyNestedOrHugeManifestIsUnreadableNotACrash) {
  const std::string dir = Copy("nested");
  std::string deep = "{\"sha256\":\"00\",\"manifest\":{\"x\":" + std::string(100000, '[') + std::string(100000, ']') + "}}";
  ASSERT_TRUE(WriteFileAtomically(dir + "/" + kBackupManifestFile, deep).ok());
  auto m = Verify(dir);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().reason(), "manifest_unreadable");
  EXPECT_EQ(m.status().message(), "manifest.json: " + std::to_string(deep.size()) + " bytes, more than a manifest's 65536");
  std::string shallow_but_deep = "{\"sha256\":\"00\",\"manifest\":{\"x\":[[[1]]]}}";
  ASSERT_TRUE(WriteFileAtomically(dir + "/" + kBackupManifestFile, shallow_but_deep).ok());
  m = Verify(dir);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().message(), "manifest.json: nested deeper than a walship manifest");
}

TEST_F(VerifyBackupTest, AManifestWithAWrongTypeNamesTheField) {
  const std::string dir = Copy("wrong-type");
  auto text = ReadWholeFile(dir + "/" + kBackupManifestFile);
  ASSERT_TRUE(text.ok());
  auto j = nlohmann::json::parse(*text);
  j["manifest"]["page_count"] = "many";
  j["sha256"] = Sha256Hex(j["manifest"].dump());  // a consistent checksum: only the type is wrong
  ASSERT_TRUE(WriteFileAtomically(dir + "/" + kBackupManifestFile, j.dump(2)).ok());
  auto m = Verify(dir);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().reason(), "manifest_invalid");
  EXPECT_EQ(m.status().message(), "manifest.json: \"page_count\" is not an integer");
  j["manifest"]["page_count"] = manifest_.page_count;
  j["manifest"]["format_version"] = 2;
  j["sha256"] = Sha256Hex(j["manifest"].dump());
  ASSERT_TRUE(WriteFileAtomically(dir + "/" + kBackupManifestFile, j.dump(2)).ok());
  m = Verify(dir);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().reason(), "manifest_version");
}

TEST_F(VerifyBackupTest, AFailedBackupIsSetAsideWithItsErrorAndNeverListedAsVerified) {
  BackupProgress progress;
  TakeBackupOptions options;
  auto m = TakeBackup(*store_, "20231114T221321Z", [](const std::string&) -> Result<std::unique_ptr<PinnedSnapshot>> {
    return Status::Unavailable("the node is shutting down");
  }, options, clock_, progress);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().ToString(),
            "unavailable: backup 20231114T221321Z: pin a snapshot: the node is shutting down");
  auto listed = store_->List();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].id, "20231114T221321Z");
  EXPECT_EQ((*listed)[0].state, BackupState::kFailed);
  EXPECT_EQ((*listed)[0].error, m.status().ToString());
  EXPECT_TRUE(fs::exists(tmp_.Sub("backups/failed/20231114T221321Z/error.json")));
}

TEST_F(VerifyBackupTest, ABackupCancelledByAShutdownLeavesNothingAndRaisesNoFailure) {
  BackupProgress progress;
  progress.cancel = true;
  TakeBackupOptions options;
  auto m = TakeBackup(*store_, "20231114T221323Z", [&](const std::string&) -> Result<std::unique_ptr<PinnedSnapshot>> {
    return std::unique_ptr<PinnedSnapshot>(new PlainSnapshot(db_path_));
  }, options, clock_, progress);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().reason(), "shutting_down");
  EXPECT_EQ(m.status().ToString(), "unavailable: backup 20231114T221323Z: copy: cancelled: the node is shutting down");
  EXPECT_FALSE(fs::exists(store_->TempDir("20231114T221323Z")));
  EXPECT_FALSE(fs::exists(tmp_.Sub("backups/failed/20231114T221323Z")));
  auto listed = store_->List();
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 1u);
}

TEST_F(VerifyBackupTest, AnUnfinishedBackupIsSetAsideAtTheNextOpen) {
  // What a kill -9 mid-backup leaves: a tmp- folder with a partial copy.
  ASSERT_TRUE(store_->CreateTempDir("20231114T221322Z").ok());
  std::ofstream(store_->TempDir("20231114T221322Z") + "/data.db") << "partial";
  std::ofstream(store_->TempDir("20231114T221322Z") + "/" + kBackupDataFile) << "partial";
  store_.reset();  // the node that held the folder is gone (its lock with it)
  auto reopened = BackupStore::Open(tmp_.Sub("backups"), 1'700'000'100'000);
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  EXPECT_FALSE(fs::exists(tmp_.Sub("backups/tmp-20231114T221322Z")));
  const std::string aside = tmp_.Sub("backups/failed/20231114T221322Z");
  EXPECT_TRUE(fs::exists(aside + "/" + kBackupDataFile)) << "what the backup wrote is kept";
  EXPECT_FALSE(fs::exists(aside + "/data.db")) << "the uncompressed scratch copy is not";
  auto listed = reopened->List();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].state, BackupState::kFailed);
  EXPECT_EQ((*listed)[0].error, "interrupted: the backup never finished (found unfinished at start-up)");
  EXPECT_EQ((*listed)[1].state, BackupState::kVerified);
}

}  // namespace
}  // namespace walship
