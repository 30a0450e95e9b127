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
// Online restore (node/store_restore.cpp): StartRestore() puts the store in
// maintenance, closes the primary's parts (the checks, the readers, the
// writer, the capture), restores the database in place on a thread of its
// own (backup/restore_database.h, as `walship restore` does), then opens the
// parts again exactly as Open() does, from a refused store too. Meanwhile
// every read and write answers kUnavailable, reason "maintenance".
//
// Thread contract: parts_mu_ guards the parts that an online restore
// replaces. Every method that uses them holds it shared; only the restore
// holds it exclusively. A method that meets maintenance, or the restore
// holding the lock, never waits: it answers "maintenance".
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
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/fs.h"
#include "base/metrics.h"
#include "backup/take_backup.h"
#include "base/status.h"
#include "node/archive.h"
#include "node/config.h"
#include "node/corruption_watch.h"
#include "node/online_restore.h"
#include "node/read_pool.h"
#include "node/reads.h"
#include "node/scrub_scheduler.h"
#include "node/writer.h"
#include "replication/segment_store.h"
#include "replication/standby_replica.h"
#include "replication/wal_capture.h"

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

  // Waits (a standby, up to replication.min_position_wait_ms) until the
  // node's state includes `wanted`; kUnavailable, reason
  // "position_not_reached", when it does not.
  Status WaitForPosition(const Position& wanted);

  // The standby's replica; null on a primary.
  StandbyReplica* replica() { return replica_.get(); }
  // Called after each segment is sealed (primary with capture on; else never).
  // Kept, and given again to the capture an online restore starts.
  void SetSealedListener(WalCapture::SealedListener listener);
  // Synchronous replication: Write() answers a committed write only once
  // `wait` (the shipper's, for the standby) says so; its failure becomes the
  // write's, naming the position the primary committed. Commits are sealed
  // when `shipper_idle` says so, or when RequestCollect() is called (see
  // WalCapture::SetCollectGate). Set before serving.
  using ReplicationWait = std::function<Status(const Position&)>;
  void SetReplicationWait(ReplicationWait wait, std::function<bool()> shipper_idle);
  // Asks the writer to seal the commits that pend (see WalCapture::CollectNow).
  void RequestCollect();
  // Asks the writer for a snapshot (a new base) for a standby to start on.
  void RequestSnapshot();
  void RequestCheckpoint();
  void RequestTimerCheckpoint();  // see Writer::RequestTimerCheckpoint
  Position position() const;
  // Ok when the database is open and writable.
  Status Ready() const;
  int64_t WalBytes() const;
  int64_t LastCheckpointUnixMillis() const;
  // Refused at start-up (see above), or after an online restore whose
  // database could not be opened: the database is not open.
  bool refused() const;
  Status refusal() const;
  std::string refusal_action() const;
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
  bool ReportCorruption(std::string_view source, const Status& status);
  // Blocking: a whole scrub pass, or a quick_check, now (see ScrubScheduler).
  // kUnavailable where none runs (a standby, no capture, a refused store).
  Status ScrubPassNow();
  Status QuickCheckNow();
  // The first corruption found on this primary, if any (status). An online
  // restore starts a new watch: the finding goes with the damaged file.
  std::optional<CorruptionFinding> CorruptionFound() const;

  // Any thread: starts an online restore (see above) and returns at once
  // with its progress. kUnavailable on a standby (reason "not_primary") or
  // a closing store; kConflict (reason "restore_running") while one runs.
  Result<OnlineRestoreProgress> StartRestore(OnlineRestoreRequest request);
  // The running or the last online restore; nullopt when none ran.
  std::optional<OnlineRestoreProgress> RestoreProgress() const;
  // Any thread, returns at once (the node begins its drain): a running
  // online restore stops before its next segment or its swap.
  void CancelRestore() { restore_cancel_ = true; }
  bool in_maintenance() const { return maintenance_.load(); }

  // Waits for a running online restore, then commits what is queued,
  // checkpoints, closes every connection. Idempotent.
  void Close();

  // The newest segment and the database checksum after it (status).
  std::optional<CaptureStats> Capture() const;
  // The segment store's folder ("" in a refused store, which has none).
  std::string segments_dir() const;
  // The segment store (primary with capture on; else null). Once set, the
  // object lives as long as the store (an online restore keeps it).
  const SegmentStore* segment_store() const;

 private:
  Store(const Config& config, DirectoryLock lock, Clock& clock, MetricsRegistry& metrics)
      : config_(config), lock_(std::move(lock)), clock_(clock), metrics_(metrics) {}
  static Result<std::unique_ptr<Store>> OpenStandby(const Config& config, DirectoryLock lock, Clock& clock,
                                                    MetricsRegistry& metrics);
  // Runs `read` on a read connection (behind the apply gate on a standby).
  template <typename T, typename F>
  Result<T> Read(F&& read);
  // Opens a primary's parts, in order: the WAL scan (a refusal sets
  // refusal_ and opens nothing), the write connection, the capture, the
  // readers, the writer, the checks. Caller: Open, or the restore holding
  // parts_mu_ exclusively. On error the caller closes what was opened.
  Status OpenPrimaryParts();
  // Stops and drops every part OpenPrimaryParts opens (the segment store
  // object stays), remembering the position. Same callers.
  void ClosePrimaryParts();
  // Opens the segment store (once) and reconciles it with the database
  // (write connection only, before the readers open).
  Status StartCapture(SqliteDb& db, Position pos, bool created);
  // A shared hold on the parts, or kUnavailable "maintenance" at once.
  Result<std::shared_lock<std::shared_mutex>> HoldParts() const;
  bool refused_locked() const { return !refusal_.ok(); }
  // The online restore's thread.
  void RunRestore(OnlineRestoreRequest request);
  void SetRestoreStep(const std::string& step);
  // The restore's last step: its final state (failed when done.error is
  // set), the log line, and the progress /v1/status shows.
  void FinishRestore(OnlineRestoreProgress done);

  const Config& config_;
  DirectoryLock lock_;
  Clock& clock_;
  MetricsRegistry& metrics_;
  std::string db_path_;
  // Guards the parts below that an online restore replaces: writer_,
  // readers_, capture_, checks_, corruption_, segments_ (set once),
  // refusal_* (see the thread contract above).
  mutable std::shared_mutex parts_mu_;
  std::atomic<bool> maintenance_{false};
  std::atomic<bool> restore_cancel_{false};  // see CancelRestore
  // Backup snapshots open on the primary's file (node/backup_snapshot.cpp):
  // an online restore does not start while one is.
  std::atomic<int> live_backup_snapshots_{0};
  // segments_, once set (it never changes after): read without parts_mu_.
  std::atomic<SegmentStore*> segments_view_{nullptr};
  // Declared before the writer: the writer's last checkpoint (in Close)
  // still calls the capture.
  std::unique_ptr<SegmentStore> segments_;
  std::unique_ptr<WalCapture> capture_;
  std::unique_ptr<StandbyReplica> replica_;  // standby only; then no capture, no writer
  ReplicationWait replication_wait_;          // sync replication only; set before serving
  // Given to every capture this store starts (set before serving, or under parts_mu_).
  WalCapture::SealedListener sealed_listener_;
  std::function<bool()> collect_gate_;
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
  mutable std::mutex restore_mu_;  // guards restore_progress_, restore_thread_, closed_position_
  Position closed_position_;       // the writer's last position, once the parts closed
  std::optional<OnlineRestoreProgress> restore_progress_;
  std::thread restore_thread_;
};

}  // namespace walship
