// Store::StartRestore and its thread: the online restore (see store.h).
#include <filesystem>

#include "backup/restore_database.h"
#include "base/log.h"
#include "base/thread_name.h"
#include "node/store.h"

namespace walship {
namespace {

// What a finished restore says in /v1/status.
void DescribeRestored(const RestoreReport& report, OnlineRestoreProgress& p) {
  const RestoreBuild& b = *report.build;
  p.position = std::to_string(report.timeline) + "/" + std::to_string(b.txid);
  p.new_timeline = report.new_timeline;
  p.segments_applied = b.segments_applied;
  p.segments_fetched = b.segments_fetched;
  p.wal_commits = b.wal_commits;
  if (report.swap && !report.swap->moved.empty()) p.quarantine_dir = report.swap->quarantine_dir;
  if (b.loss) {
    p.not_restored = b.loss->Describe();
  } else if (b.wal_commits_lost != 0) {
    p.not_restored = b.wal_not_applied;
  }
}

}  // namespace

Result<OnlineRestoreProgress> Store::StartRestore(OnlineRestoreRequest request) {
  if (replica_) {
    return Status::Unavailable(
               "this node is a standby: restore the primary; a standby starts over with POST /v1/admin/resync")
        .WithReason("not_primary");
  }
  if (!config_.segments_capture) {
    return Status::Conflict("an online restore needs the segment store, and WAL capture is off here "
                            "(segments.capture = false)")
        .WithReason("no_segments");
  }
  std::lock_guard lock(restore_mu_);
  // Under restore_mu_: Close() sets closed_ before it takes the thread to join.
  if (closed_) return Status::Unavailable("the store is closed").WithReason("shutting_down");
  if (restore_progress_ && restore_progress_->state == "running") {
    return Status::Conflict("an online restore is already running (" + restore_progress_->id +
                            ", started " + FormatRfc3339Millis(restore_progress_->started_unix_ms) +
                            "): see /v1/status")
        .WithReason("restore_running");
  }
  if (live_backup_snapshots_.load() > 0) {
    return Status::Conflict("a backup is copying the database; try again when it ends (GET /v1/admin/backups)")
        .WithReason("backup_running");
  }
  // The last one ended (its state is final): its thread only returns now.
  if (restore_thread_.joinable()) restore_thread_.join();
  // What position() says until the restore ends (the writer is being replaced).
  if (std::shared_lock parts(parts_mu_, std::try_to_lock); parts.owns_lock() && writer_) {
    closed_position_ = writer_->position();
  }
  OnlineRestoreProgress p;
  p.started_unix_ms = clock_.NowUnixMillis();
  p.id = "restore-" + CompactUtcSeconds(p.started_unix_ms);
  p.state = "running";
  p.target = request.target.ToString();
  p.step = "waiting for the requests in flight, then closing the database";
  restore_progress_ = p;
  // From here every new read and write answers "maintenance".
  maintenance_ = true;
  LogInfo("online restore started: the node is in maintenance", {{"id", p.id}, {"target", p.target}});
  restore_thread_ = std::thread([this, request = std::move(request)]() mutable {
    NameThisThread("ws-restore");
    RunRestore(std::move(request));
  });
  return p;
}

std::optional<OnlineRestoreProgress> Store::RestoreProgress() const {
  std::lock_guard lock(restore_mu_);
  return restore_progress_;
}

void Store::SetRestoreStep(const std::string& step) {
  std::lock_guard lock(restore_mu_);
  if (restore_progress_) restore_progress_->step = step;
}

void Store::RunRestore(OnlineRestoreRequest request) {
  // Waits for the reads and writes that hold the parts; new ones see maintenance_.
  std::unique_lock parts(parts_mu_);
  if (live_backup_snapshots_.load() > 0) {
    // A backup pinned the old file between StartRestore's check and here:
    // it must not copy a database moved away under it. Nothing was touched.
    maintenance_ = false;
    parts.unlock();
    OnlineRestoreProgress refused = *RestoreProgress();
    refused.error = "a backup started copying the database; try again when it ends (the database was not replaced)";
    return FinishRestore(std::move(refused));
  }
  SetRestoreStep("closing the database: committing the queued writes, sealing the last segment");
  ClosePrimaryParts();

  RestoreRequest r;
  r.data_dir = config_.data_dir;
  r.segments_dir = config_.SegmentsPath();
  r.backups_dir = config_.BackupsPath();
  r.target = request.target;
  r.fetch = std::move(request.fetch);
  r.fetch_source = request.fetch_source;
  r.clock = &clock_;
  r.step_delay_ms = request.step_delay_ms;
  r.progress = [this](const std::string& line) { SetRestoreStep(line); };
  r.cancel = &restore_cancel_;  // a node shutting down stops the restore before its swap
  // The store holds DATA/LOCK, as RestoreDatabase requires.
  Result<RestoreReport> report = RestoreDatabase(r);

  OnlineRestoreProgress done;
  {
    std::lock_guard lock(restore_mu_);
    done = *restore_progress_;
  }
  if (report.ok()) {
    DescribeRestored(*report, done);
  } else {
    done.error = report.status().ToString();
  }
  bool swapped = report.ok();
  // A swap the restore began but did not finish is finished before anything
  // opens the database (never the old file next to the new one's WAL).
  Status reopened = Status::Ok();
  if (auto finished = FinishInterruptedRestoreSwap(config_.data_dir); !finished.ok()) {
    reopened = finished.status().Wrap("finish the restore's swap");
  } else if (finished->has_value()) {
    swapped = true;
    if (done.quarantine_dir.empty()) done.quarantine_dir = (*finished)->quarantine_dir;
  }
  if (!report.ok()) {
    done.error += swapped ? " (the swap was finished: the restored database is in place)"
                          : " (the database was not replaced: the node serves it as before)";
  }
  if (reopened.ok() && !closed_) {
    SetRestoreStep("opening the database");
    reopened = OpenPrimaryParts();
    if (!reopened.ok()) ClosePrimaryParts();
  }
  if (!reopened.ok()) {
    refusal_ = Status::Unavailable("after the online restore the database could not be opened: " +
                                   reopened.ToString())
                   .WithReason("restore_failed");
    refusal_action_ = "stop the node and run: walship restore --data " + config_.data_dir;
    LogError("online restore: the database could not be opened again", {{"error", reopened.ToString()}});
    if (done.error.empty()) done.error = refusal_.message();
  }
  maintenance_ = false;
  // The new capture may have sealed a base and segments in its Start, before
  // it had the listener: the shipper hears of them now.
  std::optional<DecodedSegmentHeader> newest;
  if (reopened.ok() && capture_ && sealed_listener_) {
    if (auto h = segments_->NewestHeader(); h.ok() && h->has_value()) newest = **h;
  }
  WalCapture::SealedListener listener = sealed_listener_;
  parts.unlock();
  if (newest && listener) listener(*newest);
  FinishRestore(std::move(done));
}

void Store::FinishRestore(OnlineRestoreProgress done) {
  done.finished_unix_ms = clock_.NowUnixMillis();
  done.state = done.error.empty() ? "restored" : "failed";
  done.step = done.error.empty() ? "done" : "failed";
  if (!done.error.empty()) {
    LogError("online restore failed", {{"id", done.id}, {"error", done.error}});
  } else {
    LogInfo("online restore finished: serving again",
            {{"id", done.id}, {"position", done.position}, {"new_timeline", done.new_timeline},
             {"quarantine", done.quarantine_dir}});
    if (!done.not_restored.empty()) LogWarn("online restore: NOT RESTORED: " + done.not_restored, {});
  }
  std::lock_guard lock(restore_mu_);
  restore_progress_ = std::move(done);  // the last thing this thread does with the store's state
}

}  // namespace walship
