// The read pool's connections: read-only, with their tuning (node/read_pool.cpp).
#include "node/read_pool.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <string>
#include <vector>

#include "tests/support/temp_dir.h"

namespace walship {
namespace {

using walship::testing::TempDir;

std::string MakeDatabase(const TempDir& tmp) {
  const std::string path = tmp.Sub("reads.db");
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  EXPECT_EQ(sqlite3_exec(db, "PRAGMA journal_mode=WAL; CREATE TABLE t (x); INSERT INTO t VALUES (1);", nullptr,
                         nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  return path;
}

int64_t QueryOr(SqliteDb& db, const std::string& sql, int64_t otherwise) {
  auto v = db.QueryInt(sql);
  EXPECT_TRUE(v.ok()) << sql << ": " << v.status().ToString();
  return v.ok() ? *v : otherwise;
}

TEST(ReadPoolTest, ConnectionsAreReadOnlyWithAPrivateCacheAndNoMmap) {
  TempDir tmp;
  auto pool = ReadPool::Open(MakeDatabase(tmp), 2, 100, nullptr);
  ASSERT_TRUE(pool.ok()) << pool.status().ToString();
  std::vector<ReadPool::Lease> leases;  // both connections at once
  for (int i = 0; i < 2; ++i) {
    auto lease = (*pool)->Acquire();
    ASSERT_TRUE(lease.ok()) << lease.status().ToString();
    leases.push_back(std::move(lease).value());
  }
  for (auto& lease : leases) {
    // An I/O error on a mapped page would be a SIGBUS, not an error.
    EXPECT_EQ(QueryOr(lease.db(), "PRAGMA mmap_size", -1), 0);
    EXPECT_EQ(QueryOr(lease.db(), "PRAGMA cache_size", 0), -16384);
    EXPECT_EQ(QueryOr(lease.db(), "SELECT count(*) FROM t", -1), 1);
    EXPECT_FALSE(lease.db().Exec("INSERT INTO t VALUES (2)").ok());
  }
  leases.clear();
  (*pool)->Close();
}

}  // namespace
}  // namespace walship
