#include "node/read_pool.h"

namespace walship {

Result<std::unique_ptr<ReadPool>> ReadPool::Open(const std::string& path, int size, int busy_timeout_ms,
                                                 const char* vfs) {
  std::unique_ptr<ReadPool> pool(new ReadPool());
  for (int i = 0; i < size; ++i) {
    auto db = SqliteDb::Open(path, SQLITE_OPEN_READONLY, vfs);
    if (!db.ok()) return db.status().Wrap("open read connection " + std::to_string(i));
    sqlite3_busy_timeout((*db)->raw(), busy_timeout_ms);
    // Reads straight from the page cache of the OS (mmap) and a larger
    // private cache: GETs by key are the hot read path.
    WALSHIP_RETURN_IF_ERROR(
        (*db)->Exec("PRAGMA mmap_size=268435456; PRAGMA cache_size=-16384").Wrap("configure read connection"));
    pool->idle_.push_back(std::move(db).value());
  }
  return pool;
}

std::optional<ReadPool::Lease> ReadPool::Acquire() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return !idle_.empty() || closed_; });
  if (closed_) return std::nullopt;
  auto db = std::move(idle_.back());
  idle_.pop_back();
  ++lent_;
  return Lease(this, std::move(db));
}

void ReadPool::Return(std::unique_ptr<SqliteDb> db) {
  {
    std::lock_guard lock(mu_);
    idle_.push_back(std::move(db));
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
