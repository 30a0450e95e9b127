#include "node/read_pool.h"

#include <cstdio>

namespace walship {

std::string ImmutableUri(const std::string& path) {
  std::string uri = "file:";
  for (char c : path) {
    if (c == '%' || c == '?' || c == '#') {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", static_cast<unsigned char>(c));
      uri += buf;
    } else {
      uri += c;
    }
  }
  return uri + "?immutable=1";
}

Result<std::unique_ptr<SqliteDb>> ReadPool::OpenConnection() const {
  const int flags = SQLITE_OPEN_READONLY | (immutable_ ? SQLITE_OPEN_URI : 0);
  auto db = SqliteDb::Open(immutable_ ? ImmutableUri(path_) : path_, flags, vfs_);
  if (!db.ok()) return db.status();
  sqlite3_busy_timeout((*db)->raw(), busy_timeout_ms_);
  // A larger private cache: GETs by key are the hot read path. Reads use
  // plain pread, never mmap: an I/O error on a mapped page is a SIGBUS that
  // kills the node instead of an error for one request, and on the test VM
  // mmap (256 MiB a connection, until 2026-11-27) made GETs no cheaper: the
  // bench's GET by key / healthz was 0.52-0.58 with it and 0.61 without
  // (docs/BENCHMARKS.md). A standby's replica is rewritten under its readers
  // between leases, which mmap would not survive either.
  WALSHIP_RETURN_IF_ERROR(
      (*db)->Exec("PRAGMA mmap_size=0; PRAGMA cache_size=-16384").Wrap("configure read connection"));
  return db;
}

Result<std::unique_ptr<ReadPool>> ReadPool::Open(const std::string& path, int size, int busy_timeout_ms,
                                                 const char* vfs) {
  std::unique_ptr<ReadPool> pool(new ReadPool());
  pool->path_ = path;
  pool->busy_timeout_ms_ = busy_timeout_ms;
  pool->vfs_ = vfs;
  for (int i = 0; i < size; ++i) {
    auto db = pool->OpenConnection();
    if (!db.ok()) return db.status().Wrap("open read connection " + std::to_string(i));
    pool->idle_.push_back(Slot{std::move(db).value(), 0});
  }
  return pool;
}

std::unique_ptr<ReadPool> ReadPool::OpenImmutable(const std::string& path, int size, const char* vfs) {
  std::unique_ptr<ReadPool> pool(new ReadPool());
  pool->path_ = path;
  pool->vfs_ = vfs;
  pool->immutable_ = true;
  pool->idle_.resize(static_cast<size_t>(size));
  return pool;
}

Result<ReadPool::Lease> ReadPool::Acquire(uint64_t generation) {
  Slot slot;
  {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !idle_.empty() || closed_; });
    if (closed_) return Status::Unavailable("the store is closed").WithReason("shutting_down");
    slot = std::move(idle_.back());
    idle_.pop_back();
    ++lent_;
  }
  Lease lease(this, std::move(slot));
  Slot& s = lease.slot_;
  if (!s.db || s.generation != generation) {
    s.db.reset();  // close before reopening: never two views of one slot
    auto db = OpenConnection();
    if (!db.ok()) return db.status().Wrap("open read connection");
    s.db = std::move(db).value();
    s.generation = generation;
  }
  return lease;
}

void ReadPool::Return(Slot slot) {
  {
    std::lock_guard lock(mu_);
    idle_.push_back(std::move(slot));
    --lent_;
    if (closed_) {
      cv_.notify_all();  // Close() waits for the last lease
      return;
    }
  }
  cv_.notify_one();  // one connection came back: wake one reader
}

void ReadPool::Close() {
  std::unique_lock lock(mu_);
  closed_ = true;
  cv_.notify_all();
  cv_.wait(lock, [&] { return lent_ == 0; });
  idle_.clear();
}

}  // namespace walship
