// A pool of read-only connections (SQLITE_OPEN_READONLY). Read-only matters:
// a read-write connection that closes last checkpoints and deletes the WAL,
// and only the writer may ever checkpoint. In WAL mode readers never wait for
// the writer; they only wait for each other when every connection is lent.
//
// On a standby the pool opens `file:...?immutable=1` connections lazily (the
// replica may not exist yet) and tags each with a generation: a lease asked
// for a newer generation than its connection's reopens it first, because a
// connection that was open across an apply serves stale pages.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "base/status.h"
#include "node/sqlite_db.h"

namespace walship {

class ReadPool {
 public:
  struct Slot {
    std::unique_ptr<SqliteDb> db;  // null until first used (lazy pools)
    uint64_t generation = 0;
  };

  class Lease {
   public:
    Lease(ReadPool* pool, Slot slot) : pool_(pool), slot_(std::move(slot)) {}
    Lease(Lease&& o) noexcept : pool_(o.pool_), slot_(std::move(o.slot_)) { o.pool_ = nullptr; }
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (pool_ != nullptr) pool_->Return(std::move(slot_));
    }
    SqliteDb& db() { return *slot_.db; }

   private:
    friend class ReadPool;
    ReadPool* pool_;
    Slot slot_;
  };

  // Opens `size` connections to the database file at `path` now.
  static Result<std::unique_ptr<ReadPool>> Open(const std::string& path, int size, int busy_timeout_ms,
                                                const char* vfs);
  // Opens nothing yet: each connection to `path`, read as immutable, opens on
  // first use (and reopens for a newer generation).
  static std::unique_ptr<ReadPool> OpenImmutable(const std::string& path, int size, const char* vfs);

  // Blocks until a connection is free. Unavailable once the pool is closed;
  // the open error when a lazy connection cannot open.
  Result<Lease> Acquire(uint64_t generation = 0);
  // Closes every connection; waits for lent ones to come back. Later
  // Acquire() calls fail at once.
  void Close();

 private:
  ReadPool() = default;
  void Return(Slot slot);
  Result<std::unique_ptr<SqliteDb>> OpenConnection() const;

  std::string path_;
  int busy_timeout_ms_ = 0;
  const char* vfs_ = nullptr;
  bool immutable_ = false;

  std::mutex mu_;  // guards idle_, lent_ and closed_
  std::condition_variable cv_;
  std::vector<Slot> idle_;
  int lent_ = 0;
  bool closed_ = false;
};

// "file:" URI for `path` with `immutable=1`, escaping what a URI path may
// not hold ('%', '?', '#').
std::string ImmutableUri(const std::string& path);

}  // namespace walship
