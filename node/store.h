// The store: the SQLite index on disk, its writer thread and its read pool.
//
// Open() takes the data folder's lock, opens the write connection (WAL,
// synchronous=FULL, no automatic checkpoints, no checkpoint on close),
// migrates the schema, reads the position, opens the read pool and starts the
// writer. Reads may be called from any thread; writes are queued to the writer.
//
// Before any of that it scans the -wal (replication/startup_scan.h). When
// committed transactions sit behind a damaged frame, Open() returns a
// *refused* store instead: no SQLite connection at all, the -wal and -shm
// untouched, and every method answers the refusal (kCorruption, reason
// "wal_corrupt"), so the node can stay up and say what is wrong.
//
// On a standby (replication.role = "standby") the store has no writer and
// no capture: a StandbyReplica owns DATA/index.db and the segment store,
// reads go through immutable connections behind its ApplyGate, and writes
// are refused with reason "not_primary", naming the primary.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/fs.h"
#include "base/metrics.h"
#include "backup/take_backup.h"
#include "base/status.h"
#include "node/archive.h"
#include "node/config.h"
#include "node/corruption_watch.h"
#include "node/read_pool.h"
#include "node/reads.h"
#include "node/scrub_scheduler.h"
#include "node/writer.h"
#include "replication/segment_store.h"
#include "replication/standby_replica.h"
#include "replication/wal_capture.h"

namespace walship {

struct StartupWalReport;

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

  // Waits (a standby, up to replication.min_position_wait_ms) until the
  // node's state includes `wanted`; kUnavailable, reason
  // "position_not_reached", when it does not.
  Status WaitForPosition(const Position& wanted);

  // The standby's replica; null on a primary.
  StandbyReplica* replica() { return replica_.get(); }
  // Called after each segment is sealed (primary with capture on; else never).
  void SetSealedListener(WalCapture::SealedListener listener) {
    if (capture_) capture_->SetSealedListener(std::move(listener));
  }
  // Synchronous replication: Write() answers a committed write only once
  // `wait` (the shipper's, for the standby) says so; its failure becomes the
  // write's, naming the position the primary committed. Commits are sealed
  // when `shipper_idle` says so, or when RequestCollect() is called (see
  // WalCapture::SetCollectGate). Set before serving.
  using ReplicationWait = std::function<Status(const Position&)>;
  void SetReplicationWait(ReplicationWait wait, std::function<bool()> shipper_idle) {
    replication_wait_ = std::move(wait);
    if (capture_) capture_->SetCollectGate(std::move(shipper_idle));
  }
  // Asks the writer to seal the commits that pend (see WalCapture::CollectNow).
  void RequestCollect() {
    if (writer_ && capture_) writer_->RequestCollect();
  }

  // Asks the writer for a snapshot (a new base) for a standby to start on.
  void RequestSnapshot() {
    if (writer_ && capture_) writer_->RequestSnapshot();
  }
  void RequestCheckpoint() {
    if (writer_) writer_->RequestCheckpoint();
  }
  Position position() const;
  // Ok when the database is open and writable.
  Status Ready() const;
  int64_t WalBytes() const { return writer_ ? writer_->WalBytes() : refused_wal_bytes_; }
  int64_t LastCheckpointUnixMillis() const { return writer_ ? writer_->LastCheckpointUnixMillis() : 0; }
  // Refused at start-up: the database was never opened (see above).
  bool refused() const { return !refusal_.ok(); }
  const Status& refusal() const { return refusal_; }
  const std::string& refusal_action() const { return refusal_action_; }
  const std::string& database_path() const { return db_path_; }

  // A read transaction pinned at an exact position for a backup (see
  // backup/take_backup.h; node/backup_snapshot.cpp). Blocking: call it on a
  // worker thread. On a primary the writer marks the point between two
  // groups; on a standby the replica is copied into `scratch_dir` inside the
  // apply gate (applies and reads wait only for that copy) and the snapshot
  // reads the copy, which it removes when released.
  Result<std::unique_ptr<PinnedSnapshot>> PinBackupSnapshot(const std::string& scratch_dir);

  // Corruption met outside the store's own calls (a backup reading the live
  // database): see CorruptionWatch::Observe. True when `status` is one. On a
  // primary the first one stops writes; elsewhere nothing is watched (false).
  bool ReportCorruption(std::string_view source, const Status& status) {
    return corruption_ != nullptr && corruption_->Observe(source, status);
  }
  // Blocking: a whole scrub pass, or a quick_check, now (see ScrubScheduler).
  // kUnavailable where none runs (a standby, no capture, a refused store).
  Status ScrubPassNow() {
    return checks_ ? checks_->ScrubPassNow() : Status::Unavailable("no scrub runs on this node");
  }
  Status QuickCheckNow() {
    return checks_ ? checks_->QuickCheckNow() : Status::Unavailable("no quick_check runs on this node");
  }
  // The first corruption found on this primary, if any (status).
  std::optional<CorruptionFinding> CorruptionFound() const {
    return corruption_ ? corruption_->Finding() : std::nullopt;
  }

  // Commits what is queued, checkpoints, closes every connection. Idempotent.
  void Close();

  // The newest segment and the database checksum after it (status).
  std::optional<CaptureStats> Capture() const {
    return capture_ ? std::optional<CaptureStats>(capture_->Stats()) : std::nullopt;
  }
  // The segment store's folder ("" in a refused store, which has none).
  std::string segments_dir() const {
    if (replica_) return replica_->segments_dir();
    return segments_ ? segments_->dir() : std::string();
  }
  // The segment store (primary with capture on; else null).
  const SegmentStore* segment_store() const { return segments_.get(); }

 private:
  Store(const Config& config, DirectoryLock lock) : config_(config), lock_(std::move(lock)) {}
  static Result<std::unique_ptr<Store>> OpenStandby(const Config& config, DirectoryLock lock, Clock& clock,
                                                    MetricsRegistry& metrics);
  // Runs `read` on a read connection (behind the apply gate on a standby).
  template <typename T, typename F>
  Result<T> Read(F&& read);
  static std::unique_ptr<Store> Refused(const Config& config, DirectoryLock lock, const StartupWalReport& report);
  // Opens the segment store and reconciles it with the database (write
  // connection only, before the readers open).
  Status StartCapture(SqliteDb& db, Position pos, bool created, Clock& clock, MetricsRegistry& metrics);

  const Config& config_;
  DirectoryLock lock_;
  std::string db_path_;
  // Declared before the writer: the writer's last checkpoint (in Close)
  // still calls the capture.
  std::unique_ptr<SegmentStore> segments_;
  std::unique_ptr<WalCapture> capture_;
  std::unique_ptr<StandbyReplica> replica_;  // standby only; then no capture, no writer
  ReplicationWait replication_wait_;          // sync replication only
  // Primary only: every corruption error ends here (the writer's, the
  // reads', the checks'); its stop action stops the writer.
  std::unique_ptr<CorruptionWatch> corruption_;
  std::unique_ptr<Writer> writer_;
  std::unique_ptr<ReadPool> readers_;
  std::unique_ptr<ScrubScheduler> checks_;  // primary: quick_check, and the scrub when capture is on
  std::atomic<bool> closed_{false};
  Status refusal_;  // set only in a refused store, which has no writer and no readers
  std::string refusal_action_;
  int64_t refused_wal_bytes_ = 0;
};

}  // namespace walship
