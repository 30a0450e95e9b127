// Test helpers that make real WAL files with SQLite: a database in WAL mode
// with automatic checkpoints off, kept open so its -wal can be copied while
// it still holds every frame.
#pragma once

#include <sqlite3.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "replication/wal_file.h"
#include "tests/support/temp_dir.h"

namespace walship::testing {

inline std::string ReadBytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream out;
  out << f.rdbuf();
  return out.str();
}

inline void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline void PutBigEndian32(std::string* bytes, size_t offset, uint32_t v) {
  for (int i = 0; i < 4; ++i) (*bytes)[offset + i] = static_cast<char>(v >> (24 - 8 * i));
}

// Runs one statement on `db`, failing the test (not aborting it) on error.
inline void ExecOrFail(sqlite3* db, const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    ADD_FAILURE() << sql << ": " << (err ? err : "?");
    sqlite3_free(err);
  }
}

inline int64_t QueryIntOrFail(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  int64_t v = -1;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db);
    return v;
  }
  if (sqlite3_step(stmt) == SQLITE_ROW) v = sqlite3_column_int64(stmt, 0);
  else ADD_FAILURE() << sql << ": no row: " << sqlite3_errmsg(db);
  sqlite3_finalize(stmt);
  return v;
}

// Rows in table t of a database opened read-write, as a fresh process
// would (this open runs SQLite's WAL recovery).
inline int64_t CountRowsWithPlainSqlite(const std::string& db_path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << "open " << db_path << ": " << sqlite3_errmsg(db);
    sqlite3_close(db);
    return -1;
  }
  int64_t n = QueryIntOrFail(db, "SELECT count(*) FROM t");
  sqlite3_close(db);
  return n;
}

class WalBuilder {
 public:
  // Creates table t and checkpoints it into the database file, so the WAL
  // holds only what the test writes next.
  explicit WalBuilder(const std::string& db_path, int page_size = 1024) : path_(db_path) {
    if (sqlite3_open_v2(db_path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
        SQLITE_OK) {
      ADD_FAILURE() << "open " << db_path << ": " << sqlite3_errmsg(db_);
    }
    Exec("PRAGMA page_size=" + std::to_string(page_size));
    Exec("PRAGMA journal_mode=WAL");
    Exec("PRAGMA wal_autocheckpoint=0");
    Exec("PRAGMA synchronous=OFF");  // durability is not what these tests look at
    Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, payload BLOB)");
    Exec("PRAGMA wal_checkpoint(TRUNCATE)");
  }
  ~WalBuilder() { sqlite3_close(db_); }
  WalBuilder(const WalBuilder&) = delete;
  WalBuilder& operator=(const WalBuilder&) = delete;

  void Exec(const std::string& sql) { ExecOrFail(db_, sql); }
  int64_t QueryInt(const std::string& sql) { return QueryIntOrFail(db_, sql); }

  // `count` transactions of one row each; a payload over the page size
  // spreads a transaction over several frames (overflow pages).
  void InsertRows(int count, int payload_bytes) {
    for (int i = 0; i < count; ++i) {
      Exec("INSERT INTO t(payload) VALUES (randomblob(" + std::to_string(payload_bytes) + "))");
    }
  }

  std::string WalBytes() const { return ReadBytes(path_ + "-wal"); }
  std::string DbBytes() const { return ReadBytes(path_); }
  const std::string& path() const { return path_; }
  sqlite3* raw() const { return db_; }

 private:
  std::string path_;
  sqlite3* db_ = nullptr;
};

inline WalScan ScanOrDie(const std::string& wal, const WalScanOptions& options = {}) {
  BytesWalSource source(wal);
  Result<WalScan> scan = ScanWal(source, options);
  EXPECT_TRUE(scan.ok()) << scan.status().ToString();
  return scan.ok() ? std::move(scan).value() : WalScan{};
}

inline std::vector<uint32_t> CommitFrames(const WalScan& scan) {
  std::vector<uint32_t> out;
  for (const WalFrame& f : scan.frames) {
    if (f.is_commit()) out.push_back(f.index);
  }
  return out;
}

// A WAL of `txns` one-row transactions of 2,500-byte payloads on 1 KiB pages:
// about four frames each, so frames in the middle of a transaction exist.
inline std::string MakeWal(const TempDir& tmp, int txns) {
  WalBuilder b(tmp.Sub("db"));
  b.InsertRows(txns, 2500);
  return b.WalBytes();
}

}  // namespace walship::testing
