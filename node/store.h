// The store: the SQLite index on disk, its writer thread and its read pool.
//
// Open() takes the data folder's lock, opens the write connection (WAL,
// synchronous=FULL, no automatic checkpoints, no checkpoint on close),
// migrates the schema, reads the position, opens the read pool and starts the
// writer. Reads may be called from any thread; writes are queued to the writer.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/fs.h"
#include "base/metrics.h"
#include "base/status.h"
#include "node/archive.h"
#include "node/config.h"
#include "node/read_pool.h"
#include "node/reads.h"
#include "node/writer.h"

namespace walship {

class Store {
 public:
  static Result<std::unique_ptr<Store>> Open(const Config& config, Clock& clock, MetricsRegistry& metrics);
  ~Store();

  // Queues a write; on_committed runs on the writer thread once it is durable.
  Status Submit(WriteRequest request);
  // Queues a write and waits for its outcome (for request threads).
  WriteOutcome Write(std::vector<WriteOp> ops);

  Result<Record> Get(const std::string& key);
  Result<ListPage> List(const std::string& prefix, const std::optional<std::string>& after_key, int64_t limit);
  Result<std::vector<SearchHit>> Search(const std::string& query, int64_t limit);

  void RequestCheckpoint() { writer_->RequestCheckpoint(); }
  Position position() const { return writer_->position(); }
  // Ok when the database is open and writable.
  Status Ready() const;
  int64_t WalBytes() const { return writer_->WalBytes(); }
  int64_t LastCheckpointUnixMillis() const { return writer_->LastCheckpointUnixMillis(); }
  const std::string& database_path() const { return db_path_; }

  // Commits what is queued, checkpoints, closes every connection. Idempotent.
  void Close();

 private:
  Store(const Config& config, DirectoryLock lock) : config_(config), lock_(std::move(lock)) {}

  const Config& config_;
  DirectoryLock lock_;
  std::string db_path_;
  std::unique_ptr<Writer> writer_;
  std::unique_ptr<ReadPool> readers_;
  std::atomic<bool> closed_{false};
};

}  // namespace walship
