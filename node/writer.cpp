#include "node/writer.h"

#include <chrono>

#include "base/fs.h"
#include "base/log.h"
#include "base/thread_name.h"
#include "node/fts_sync.h"
#include "node/write_ops.h"
#include "replication/db_file_pages.h"
#include "replication/wal_file.h"

namespace walship {

Writer::Writer(std::unique_ptr<SqliteDb> db, const Config& config, Clock& clock,
               MetricsRegistry& metrics, Position start)
    : db_(std::move(db)),
      config_(config),
      clock_(clock),
      wal_path_(db_->path() + "-wal"),
      timeline_(start.timeline),
      txid_(start.txid),
      group_size_(metrics.GetHistogram("walship_group_commit_requests", "Requests committed per group (transaction)",
                                       SizeBuckets())),
      commit_seconds_(metrics.GetHistogram("walship_commit_seconds",
                                           "Time to apply and durably commit one group", LatencyBuckets())),
      checkpoint_seconds_(metrics.GetHistogram("walship_checkpoint_seconds", "Checkpoint duration",
                                               LatencyBuckets())),
      checkpoint_hook_seconds_(metrics.GetHistogram(
          "walship_checkpoint_hook_seconds",
          "Time each checkpoint waited for the WAL capture (the last frames sealed) before SQLite ran it",
          LatencyBuckets())),
      commits_(metrics.GetCounter("walship_commits_total", "Write transactions committed")),
      commit_failures_(metrics.GetCounter("walship_commit_failures_total", "Groups whose commit failed")),
      checkpoints_done_(metrics.GetCounter("walship_checkpoints_total", "Checkpoints by result",
                                           {{"result", "complete"}})),
      checkpoints_incomplete_(metrics.GetCounter("walship_checkpoints_total", "Checkpoints by result",
                                                 {{"result", "incomplete"}})),
      checkpoints_failed_(metrics.GetCounter("walship_checkpoints_total", "Checkpoints by result",
                                             {{"result", "failed"}})) {
  auto page_size = db_->QueryInt("PRAGMA page_size");
  wal_frame_bytes_ = static_cast<int64_t>(kWalFrameHeaderSize) + (page_size.ok() && *page_size > 0 ? *page_size : 4096);
  // Until the first commit says: what the file holds (after a crash, maybe
  // an older generation too; the first checkpoint settles it).
  const int64_t header = static_cast<int64_t>(kWalHeaderSize);
  const int64_t file = FileSizeOrZero(wal_path_);
  wal_frames_.store(file > header ? (file - header) / wal_frame_bytes_ : 0);
  sqlite3_wal_hook(db_->raw(), &Writer::OnWalCommit, this);
}

int Writer::OnWalCommit(void* writer, sqlite3* /*db*/, const char* /*schema*/, int frames) {
  auto* w = static_cast<Writer*>(writer);
  w->wal_frames_.store(frames);
  if (w->frames_before_restart_ > 0) {
    // The first commit after a complete passive checkpoint: fewer frames
    // than before means SQLite started the WAL over; more, that a reader was
    // in the way and the generation goes on (see Checkpoint).
    if (frames < w->frames_before_restart_) w->wal_bytes_after_incomplete_ = 0;
    w->frames_before_restart_ = 0;
  }
  return SQLITE_OK;
}

Writer::~Writer() { Stop(); }

void Writer::Start() {
  thread_ = std::thread([this] {
    NameThisThread("ws-writer");
    Run();
  });
}

Status Writer::Submit(WriteRequest request) {
  {
    std::lock_guard lock(mu_);
    if (!sticky_.ok()) return Status::Unavailable("writes are stopped: " + sticky_.ToString()).WithReason("writes_stopped");
    if (stopping_) return Status::Unavailable("the node is shutting down").WithReason("shutting_down");
    queue_.push_back(std::move(request));
  }
  cv_.notify_one();
  return Status::Ok();
}

void Writer::RequestCheckpoint() {
  {
    std::lock_guard lock(mu_);
    checkpoint_requested_ = true;
  }
  cv_.notify_one();
}

void Writer::RequestTimerCheckpoint() {
  {
    std::lock_guard lock(mu_);
    timer_tick_ = true;
  }
  cv_.notify_one();
}

void Writer::RequestSnapshot() {
  {
    std::lock_guard lock(mu_);
    snapshot_requested_ = true;
  }
  cv_.notify_one();
}

void Writer::RequestCollect() {
  {
    std::lock_guard lock(mu_);
    collect_requested_ = true;
  }
  cv_.notify_one();
}

void Writer::RunBetweenGroups(BetweenGroupsTask task) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      tasks_.push_back(std::move(task));
      task = nullptr;
    }
  }
  if (task) {
    task(Status::Unavailable("the node is shutting down").WithReason("shutting_down"), nullptr, nullptr).IgnoreError();
    return;
  }
  cv_.notify_one();
}

void Writer::RunTasks(std::vector<BetweenGroupsTask>& tasks) {
  for (auto& task : tasks) {
    const Status health = Health();
    if (health.ok()) {
      Status s = task(health, db_->raw(), hook_);
      if (!s.ok() && s.code() != Code::kUnavailable) SetSticky(s);
    } else {
      // Told it cannot run; what it returns then changes nothing.
      task(Status::Unavailable("writes are stopped: " + health.ToString()).WithReason("writes_stopped"), nullptr,
           nullptr)
          .IgnoreError();
    }
  }
  tasks.clear();
}

void Writer::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

Position Writer::position() const { return Position{timeline_.load(), txid_.load()}; }

Status Writer::Health() const {
  std::lock_guard lock(mu_);
  return sticky_;
}

int64_t Writer::WalBytes() const {
  const int64_t frames = wal_frames_.load();
  return frames <= 0 ? 0 : static_cast<int64_t>(kWalHeaderSize) + frames * wal_frame_bytes_;
}

void Writer::SetSticky(const Status& status) {
  {
    std::lock_guard lock(mu_);
    if (!sticky_.ok()) return;
    sticky_ = status;
    LogError("writer stopped: no further writes will be accepted", {{"error", status.ToString()}});
  }
  if (sticky_listener_) sticky_listener_(status);
}

void Writer::Run() {
  // The full-text staging lives on this connection (TEMP tables).
  if (Status s = PrepareFtsStaging(*db_); !s.ok()) SetSticky(s.Wrap("start writer"));
  for (;;) {
    std::vector<WriteRequest> group;
    std::vector<BetweenGroupsTask> tasks;
    bool checkpoint = false;
    bool timer_tick = false;
    bool snapshot = false;
    bool collect = false;
    bool last = false;
    {
      std::unique_lock lock(mu_);
      auto has_work = [&] {
        return !queue_.empty() || !tasks_.empty() || stopping_ || checkpoint_requested_ || timer_tick_ ||
               snapshot_requested_ || collect_requested_;
      };
      if (checkpoint_deferred_since_ns_ != 0) {
        // A put-off checkpoint is looked at again soon even with no writes.
        cv_.wait_for(lock, std::chrono::milliseconds(kDeferredCheckpointPollMs), has_work);
      } else {
        cv_.wait(lock, has_work);
      }
      size_t n = std::min(queue_.size(), static_cast<size_t>(config_.max_group_requests));
      group.reserve(n);
      for (size_t i = 0; i < n; ++i) {
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      tasks.swap(tasks_);
      checkpoint = checkpoint_requested_;
      checkpoint_requested_ = false;
      timer_tick = timer_tick_;
      timer_tick_ = false;
      snapshot = snapshot_requested_;
      snapshot_requested_ = false;
      collect = collect_requested_;
      collect_requested_ = false;
      last = stopping_ && queue_.empty();
    }
    if (!group.empty()) CommitGroup(group);
    bool writable = Health().ok();
    if (writable && collect && hook_ != nullptr) hook_->CollectNow();
    RunTasks(tasks);
    writable = Health().ok();
    if (writable && snapshot && !last) {
      Snapshot();
      writable = Health().ok();
    }
    if (writable && last) {
      Checkpoint("shutdown");
    } else if (const bool timed = checkpoint || (timer_tick && TimerCheckpointDue());
               writable && (timed || WalBytes() >= wal_bytes_after_incomplete_ + config_.checkpoint_wal_bytes)) {
      CheckpointWhenReady(timed ? "timer" : "wal_size");
    } else if (writable && checkpoint_deferred_since_ns_ != 0) {
      CheckpointWhenReady(deferred_reason_);
    }
    if (!writable) checkpoint_deferred_since_ns_ = 0;  // no checkpoint after a sticky error
    if (last) break;
  }
  db_.reset();  // close on the owning thread
}

Status Writer::Savepoint(const char* sql) {
  auto st = db_->Prepare(sql);
  if (!st.ok()) return st.status();
  return (*st)->Run();
}

void Writer::FailGroup(std::vector<WriteRequest>& group, const Status& status) {
  for (auto& r : group) r.on_committed(WriteOutcome{status, {}, {}});
}

void Writer::CommitGroup(std::vector<WriteRequest>& group) {
  if (Status sticky = Health(); !sticky.ok()) {
    FailGroup(group, Status::Unavailable("writes are stopped: " + sticky.ToString()).WithReason("writes_stopped"));
    return;
  }
  const int64_t start_ns = clock_.MonotonicNanos();
  const int64_t now_ms = clock_.NowUnixMillis();
  const std::string context =
      "commit group of " + std::to_string(group.size()) + (group.size() == 1 ? " request" : " requests");

  if (Status s = Savepoint("BEGIN IMMEDIATE"); !s.ok()) {
    s = s.Wrap(context + ": begin");
    if (s.code() == Code::kIOError || s.code() == Code::kCorruption) SetSticky(s);
    commit_failures_.Add();
    FailGroup(group, s);
    return;
  }

  std::vector<WriteOutcome> outcomes(group.size());
  size_t applied = 0;
  Status fatal;  // an error that aborted the whole transaction
  for (size_t i = 0; i < group.size() && fatal.ok(); ++i) {
    WriteOutcome& out = outcomes[i];
    out.status = Savepoint("SAVEPOINT request");
    for (size_t k = 0; out.status.ok() && k < group[i].ops.size(); ++k) {
      auto r = ApplyWriteOp(*db_, group[i].ops[k], now_ms);
      if (r.ok()) {
        out.results.push_back(std::move(r).value());
      } else {
        out.status = group[i].ops.size() > 1 ? r.status().Wrap("ops[" + std::to_string(k) + "]") : r.status();
      }
    }
    if (out.status.ok()) {
      out.status = Savepoint("RELEASE request");
      if (out.status.ok()) {
        ++applied;
      } else {
        // Its savepoint is still open and would commit with the group.
        fatal = out.status;
      }
    } else {
      out.results.clear();
      if (sqlite3_get_autocommit(db_->raw())) {
        // SQLite rolled the whole transaction back (I/O error, disk full).
        fatal = out.status;
      } else if (Status s = Savepoint("ROLLBACK TO request"); !s.ok()) {
        fatal = s;
      } else if (Status r = Savepoint("RELEASE request"); !r.ok()) {
        fatal = r;
      }
    }
    if (out.status.code() == Code::kIOError || out.status.code() == Code::kCorruption) fatal = out.status;
  }

  Status commit = fatal;
  Position pos = position();
  if (commit.ok() && applied > 0) commit = FlushFtsChanges(*db_);
  if (commit.ok() && applied > 0) {
    auto txid = AdvanceTxid(*db_);
    if (!txid.ok()) commit = txid.status().Wrap("advance txid");
    else pos.txid = *txid;
  }
  if (commit.ok()) commit = Savepoint(applied > 0 ? "COMMIT" : "ROLLBACK");
  if (!commit.ok()) {
    commit = commit.Wrap(context);
    if (!sqlite3_get_autocommit(db_->raw())) Savepoint("ROLLBACK").IgnoreError();  // reporting `commit`
    commit_failures_.Add();
    // We cannot know what reached the disk: stop writing rather than guess.
    SetSticky(commit);
    FailGroup(group, commit);
    return;
  }
  if (applied > 0) {
    txid_.store(pos.txid);
    if (hook_ != nullptr) hook_->AfterCommit(pos.txid, now_ms, static_cast<uint32_t>(wal_frames_.load()));
    commits_.Add();
    group_size_.Observe(static_cast<double>(applied));
  }
  commit_seconds_.Observe(static_cast<double>(clock_.MonotonicNanos() - start_ns) / 1e9);
  for (size_t i = 0; i < group.size(); ++i) {
    if (outcomes[i].status.ok()) outcomes[i].position = pos;
    group[i].on_committed(std::move(outcomes[i]));
  }
}

void Writer::Snapshot() {
  if (hook_ == nullptr) return;
  Status s = hook_->TakeSnapshot(db_->raw(), "standby bootstrap");
  if (s.ok()) {
    LogInfo("snapshot taken for a standby", {});
    return;
  }
  // As for a checkpoint: only "try again later" lets writes go on.
  if (s.code() != Code::kUnavailable) SetSticky(s);
  LogError("snapshot failed", {{"error", s.ToString()}});
}

void Writer::CheckpointWhenReady(std::string_view reason) {
  const int64_t now = clock_.MonotonicNanos();
  const bool overdue = checkpoint_deferred_since_ns_ != 0 &&
                       now - checkpoint_deferred_since_ns_ >= kMaxCheckpointDeferMs * 1'000'000;
  if (hook_ != nullptr && !overdue && !hook_->PrepareCheckpoint()) {
    if (checkpoint_deferred_since_ns_ == 0) {
      checkpoint_deferred_since_ns_ = now;
      deferred_reason_ = reason;
    }
    return;
  }
  const std::string why = checkpoint_deferred_since_ns_ != 0 ? deferred_reason_ : std::string(reason);
  checkpoint_deferred_since_ns_ = 0;
  Checkpoint(why);
}

bool Writer::CheckpointHookSucceeded(const Status& s, std::string_view reason) {
  if (s.ok()) return true;
  checkpoints_failed_.Add();
  // Damaged WAL bytes, a failed segment write, anything but "try again
  // later": writing on would add frames the store cannot take.
  if (s.code() != Code::kUnavailable) SetSticky(s);
  LogError("checkpoint skipped: the checkpoint hook failed", {{"reason", reason}, {"error", s.ToString()}});
  return false;
}

int Writer::CheckpointPass(int mode, int* log_frames, int* checkpointed) {
  // No busy wait: a reader holding an old snapshot makes the pass do what it
  // can (SQLITE_BUSY for TRUNCATE) instead of stalling every writer behind it.
  sqlite3_busy_timeout(db_->raw(), 0);
  int rc = sqlite3_wal_checkpoint_v2(db_->raw(), nullptr, mode, log_frames, checkpointed);
  sqlite3_busy_timeout(db_->raw(), static_cast<int>(config_.busy_timeout_ms));
  return rc;
}

bool Writer::TimerCheckpointDue() const {
  if (last_size_checkpoint_start_ns_ == 0) return true;
  const int64_t half_interval_ns = config_.checkpoint_interval_ms * 1'000'000 / 2;
  return clock_.MonotonicNanos() - last_size_checkpoint_start_ns_ >= half_interval_ns;
}

void Writer::Checkpoint(std::string_view reason) {
  const int64_t start_ns = clock_.MonotonicNanos();
  // The last pass, while writes wait: a passive one. Once it has copied
  // every frame, SQLite starts the WAL over from its first frame at the next
  // write, in the same file; truncating tens of MiB instead cost about 30 ms
  // of paused writes per checkpoint on the test VM (docs/BENCHMARKS.md).
  // With no write waiting (and at shutdown) it is TRUNCATE: the pause costs
  // no one, and an idle node's -wal holds no stale generation that the
  // scrub would have to leave alone.
  int rc = SQLITE_OK;
  int log_frames = 0;
  int checkpointed = 0;
  if (hook_ != nullptr) {
    // The hook's last frames seal while a first passive pass copies the
    // frames that are already durable (the hook's snapshot keeps SQLite from
    // copying the others); the last pass, after which the WAL may start
    // over, waits for them. See CheckpointHook::BeforeCheckpoint.
    const int64_t hook_start_ns = clock_.MonotonicNanos();
    Status s = hook_->BeforeCheckpoint(db_->raw(), reason);
    int64_t hook_ns = clock_.MonotonicNanos() - hook_start_ns;
    int first_log_frames = 0;
    int first_checkpointed = 0;
    if (s.ok()) rc = CheckpointPass(SQLITE_CHECKPOINT_PASSIVE, &first_log_frames, &first_checkpointed);
    // SQLite fsyncs the database only after a pass that copied every frame.
    // Left to the last pass, that fsync would write back everything this
    // pass copied, after the wait for the seal. Done now, the write-back
    // (about 6 ms under wrk) overlaps the seal, and the last pass syncs only
    // its own few pages: the last pass and the wait went from 6-17 ms to
    // 2-3 ms per checkpoint (docs/BENCHMARKS.md, the ninth session).
    Status synced;
    if (s.ok() && rc == SQLITE_OK && first_checkpointed > 0 && first_checkpointed < first_log_frames) {
      synced = SyncDatabaseFile(db_->raw(), "fsync the database file after the first checkpoint pass");
    }
    if (s.ok()) {
      const int64_t reset_start_ns = clock_.MonotonicNanos();
      s = hook_->BeforeWalReset();
      hook_ns += clock_.MonotonicNanos() - reset_start_ns;
    }
    checkpoint_hook_seconds_.Observe(static_cast<double>(hook_ns) / 1e9);
    // First: a failed fsync stops writes whatever the hook said (even a
    // "try again later" from it), and is never retried.
    if (!synced.ok()) {
      checkpoints_failed_.Add();
      SetSticky(synced.Wrap("checkpoint (" + std::string(reason) + ")"));
      return;
    }
    if (!CheckpointHookSucceeded(s, reason)) return;
  }
  bool truncate_wal = reason == "shutdown";
  if (!truncate_wal) {
    std::lock_guard lock(mu_);
    truncate_wal = queue_.empty();
  }
  if (rc == SQLITE_OK) {
    rc = CheckpointPass(truncate_wal ? SQLITE_CHECKPOINT_TRUNCATE : SQLITE_CHECKPOINT_PASSIVE, &log_frames,
                        &checkpointed);
    // A passive pass does what it can: a reader on an older snapshot keeps
    // the rest in the WAL. Counted as incomplete, like a TRUNCATE's BUSY.
    if (rc == SQLITE_OK && !truncate_wal && checkpointed < log_frames) rc = SQLITE_BUSY;
  }
  checkpoint_seconds_.Observe(static_cast<double>(clock_.MonotonicNanos() - start_ns) / 1e9);
  if (rc == SQLITE_BUSY) {
    wal_bytes_after_incomplete_ = WalBytes();
    checkpoints_incomplete_.Add();
    LogEvent(spdlog::level::debug, "checkpoint incomplete: a reader holds an older snapshot",
             {{"reason", reason}, {"wal_frames", log_frames}, {"checkpointed", checkpointed}});
    return;
  }
  if (rc != SQLITE_OK) {
    checkpoints_failed_.Add();
    Status s = SqliteStatus(db_->raw(), rc, "checkpoint (" + std::string(reason) + ")");
    if (s.code() == Code::kIOError || s.code() == Code::kCorruption) SetSticky(s);
    else LogError("checkpoint failed", {{"error", s.ToString()}});
    return;
  }
  if (truncate_wal) {
    wal_bytes_after_incomplete_ = 0;
    frames_before_restart_ = 0;
  } else {
    // Every frame is copied, but SQLite starts the WAL over only if no
    // reader holds a read mark at the next write. Until the wal hook shows
    // it did, the size trigger counts from this generation's size, as after
    // an incomplete checkpoint, or it would fire after every group.
    wal_bytes_after_incomplete_ = WalBytes();
    frames_before_restart_ = wal_frames_.load();
  }
  wal_frames_.store(0);  // every frame copied
  last_size_checkpoint_start_ns_ = reason == "wal_size" ? start_ns : 0;
  checkpoints_done_.Add();
  last_checkpoint_ms_.store(clock_.NowUnixMillis());
  LogEvent(spdlog::level::debug, "checkpoint complete",
           {{"reason", reason}, {"ms", static_cast<double>(clock_.MonotonicNanos() - start_ns) / 1e6}});
}

}  // namespace walship
