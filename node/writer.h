// The writer: one thread that owns the only write connection and commits
// queued requests in groups (group commit).
//
// Each request runs inside its own savepoint, so a failing request fails
// alone; the group is one transaction, committed with synchronous=FULL, and
// every request's completion runs only after that commit is durable.
// Checkpoints run on this thread too, between groups, so no write interleaves
// with the checkpoint hook (where WAL capture plugs in).
//
// After a failed commit, write or fsync the writer stops writing for good
// (a sticky error): we never retry an fsync and carry on.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/metrics.h"
#include "base/status.h"
#include "node/archive.h"
#include "node/config.h"
#include "node/sqlite_db.h"
#include "replication/checkpoint_hook.h"

namespace walship {

struct WriteOutcome {
  Status status;                 // the request's own result
  std::vector<OpResult> results;  // one per op, when ok
  Position position;             // the commit's position, when ok
};

struct WriteRequest {
  std::vector<WriteOp> ops;  // applied atomically: all or nothing
  // Called once on the writer thread after the group's commit (or failure).
  // Must not block: hand the outcome to the waiting thread and return.
  std::function<void(WriteOutcome)> on_committed;
};

class Writer {
 public:
  Writer(std::unique_ptr<SqliteDb> db, const Config& config, Clock& clock, MetricsRegistry& metrics,
         Position start);
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  void Start();
  // Queues a request. Fails (and never calls on_committed) when the writer is
  // stopping or stopped by a sticky error.
  Status Submit(WriteRequest request);
  // Asks for a checkpoint at the next gap between groups.
  void RequestCheckpoint();
  // The checkpoint timer's tick: a checkpoint at the next gap, unless one
  // for the WAL size (below) completed less than half
  // checkpoint.interval_ms ago: so soon after, it would copy little and
  // still cost a database fsync and a pause of every write.
  void RequestTimerCheckpoint();
  // Asks the checkpoint hook for a snapshot between two groups (see
  // CheckpointHook::TakeSnapshot); returns at once.
  void RequestSnapshot();
  // Asks the checkpoint hook to collect between two groups
  // (CheckpointHook::CollectNow); returns at once.
  void RequestCollect();
  // Runs `task` on the writer thread at the next gap between groups, with
  // the write connection and the checkpoint hook (null when none), so no
  // write interleaves with it; `health` is not ok (and `writer` null) when
  // the writer stopped, or is stopping, before it ran. Must not block long:
  // writes wait for it. Every queued task runs exactly once. The task returns
  // what the checkpoint hook said: as after a failed BeforeCheckpoint, any
  // error but kUnavailable stops writes (the WAL or the store is damaged).
  using BetweenGroupsTask = std::function<Status(const Status& health, sqlite3* writer, CheckpointHook* hook)>;
  void RunBetweenGroups(BetweenGroupsTask task);
  // Stops taking requests, commits what is queued, checkpoints, closes the
  // connection and joins the thread.
  void Stop();
  void SetCheckpointHook(CheckpointHook* hook) { hook_ = hook; }  // before Start()
  // Called once, on the thread that stopped writes, with the sticky error
  // (outside the writer's lock). Set before Start().
  void SetStickyListener(std::function<void(const Status&)> listener) { sticky_listener_ = std::move(listener); }
  // Any thread: stops writes for good with `why` (as a failed commit does);
  // queued requests fail. Nothing if writes are already stopped.
  void StopWrites(const Status& why) { SetSticky(why); }

  Position position() const;
  // Ok while the writer can write; else the error that stopped it.
  Status Health() const;
  int64_t LastCheckpointUnixMillis() const { return last_checkpoint_ms_.load(); }
  // Bytes of the WAL's current generation (header and frames), from the
  // wal hook after each commit; 0 after a complete checkpoint. Not the file's
  // size: checkpoints let SQLite reuse the file from its start.
  int64_t WalBytes() const;

 private:
  void Run();
  void CommitGroup(std::vector<WriteRequest>& group);
  void Checkpoint(std::string_view reason);
  // For a timer tick: no size checkpoint began in the last half interval.
  bool TimerCheckpointDue() const;
  // One sqlite3_wal_checkpoint_v2 call in `mode`, with no busy wait.
  int CheckpointPass(int mode, int* log_frames, int* checkpointed);
  // False (counted, logged, sticky unless kUnavailable) when the hook failed.
  bool CheckpointHookSucceeded(const Status& s, std::string_view reason);
  // A checkpoint that may wait for the hook (see PrepareCheckpoint), at most
  // kMaxCheckpointDeferMs: runs it now or puts it off to a later gap.
  void CheckpointWhenReady(std::string_view reason);
  void Snapshot();
  void RunTasks(std::vector<BetweenGroupsTask>& tasks);
  void FailGroup(std::vector<WriteRequest>& group, const Status& status);
  void SetSticky(const Status& status);
  Status Savepoint(const char* sql);

  std::unique_ptr<SqliteDb> db_;  // owned by the writer thread once started
  const Config& config_;
  Clock& clock_;
  CheckpointHook* hook_ = nullptr;
  std::function<void(const Status&)> sticky_listener_;  // set before Start(), then only read
  std::string wal_path_;
  int64_t wal_frame_bytes_ = 0;            // frame header plus one page (replication/wal_file.h)
  std::atomic<int64_t> wal_frames_{0};     // set by the writer thread, read by any
  // sqlite3_wal_hook: `frames` in the WAL after each commit (writer thread).
  static int OnWalCommit(void* writer, sqlite3* db, const char* schema, int frames);

  mutable std::mutex mu_;  // guards queue_, tasks_, stopping_, checkpoint_requested_, timer_tick_, snapshot_requested_, collect_requested_, sticky_
  std::condition_variable cv_;
  std::deque<WriteRequest> queue_;
  std::vector<BetweenGroupsTask> tasks_;
  bool stopping_ = false;
  bool checkpoint_requested_ = false;
  bool timer_tick_ = false;
  bool snapshot_requested_ = false;
  bool collect_requested_ = false;
  Status sticky_;

  std::atomic<int64_t> timeline_;
  std::atomic<int64_t> txid_;
  std::atomic<int64_t> last_checkpoint_ms_{0};
  // When the last complete checkpoint began, if the WAL's size caused it
  // (writer thread only; 0 before the first, and after a timer's): what a
  // timer tick is measured from. An incomplete or failed one left the WAL
  // as it was, so the next tick tries again; and a tick late to run (the
  // writer busy) must not make the next tick skip.
  int64_t last_size_checkpoint_start_ns_ = 0;
  // WalBytes() after the last incomplete checkpoint (writer thread only).
  // An incomplete checkpoint leaves the WAL as large as before, so the size
  // trigger waits for another checkpoint.wal_bytes of growth beyond it rather
  // than retrying after every group.
  int64_t wal_bytes_after_incomplete_ = 0;
  // After a complete passive checkpoint, the WAL's frames then (writer
  // thread only); the first commit after it tells whether the WAL restarted.
  int64_t frames_before_restart_ = 0;
  // A checkpoint the hook asked to put off (CheckpointHook::PrepareCheckpoint)
  // since this monotonic time, and why it was due; 0: none (writer thread only).
  static constexpr int64_t kMaxCheckpointDeferMs = 200;
  static constexpr int kDeferredCheckpointPollMs = 5;
  int64_t checkpoint_deferred_since_ns_ = 0;
  std::string deferred_reason_;
  std::thread thread_;

  Histogram& group_size_;
  Histogram& commit_seconds_;
  Histogram& checkpoint_seconds_;
  Histogram& checkpoint_hook_seconds_;  // the part of a checkpoint spent in the hook (capture)
  Counter& commits_;
  Counter& commit_failures_;
  Counter& checkpoints_done_;
  Counter& checkpoints_incomplete_;
  Counter& checkpoints_failed_;
};

}  // namespace walship
