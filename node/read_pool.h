// A pool of read-only connections (SQLITE_OPEN_READONLY). Read-only matters:
// a read-write connection that closes last checkpoints and deletes the WAL,
// and only the writer may ever checkpoint. In WAL mode readers never wait for
// the writer; they only wait for each other when every connection is lent.
#pragma once

#include <condition_variable>
#include <memory>
#include <optional>
#include <mutex>
#include <vector>

#include "base/status.h"
#include "node/sqlite_db.h"

namespace walship {

class ReadPool {
 public:
  class Lease {
   public:
    Lease(ReadPool* pool, std::unique_ptr<SqliteDb> db) : pool_(pool), db_(std::move(db)) {}
    Lease(Lease&&) = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (db_) pool_->Return(std::move(db_));
    }
    SqliteDb& db() { return *db_; }

   private:
    ReadPool* pool_;
    std::unique_ptr<SqliteDb> db_;
  };

  static Result<std::unique_ptr<ReadPool>> Open(const std::string& path, int size, int busy_timeout_ms,
                                                const char* vfs);
  // Blocks until a connection is free; nothing once the pool is closed.
  std::optional<Lease> Acquire();
  // Closes every connection; waits for lent ones to come back. Later
  // Acquire() calls return nothing at once.
  void Close();

 private:
  ReadPool() = default;
  void Return(std::unique_ptr<SqliteDb> db);

  std::mutex mu_;  // guards idle_, lent_ and closed_
  std::condition_variable cv_;
  std::vector<std::unique_ptr<SqliteDb>> idle_;
  int lent_ = 0;
  bool closed_ = false;
};

}  // namespace walship
