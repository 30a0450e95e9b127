#include "node/backup_manager.h"

#include <cstdlib>

#include "base/log.h"
#include "node/identity.h"
#include "replication/segment_retention.h"

namespace walship {

struct BackupManager::Job {
  std::string id;
  std::string trigger;
  int64_t started_unix_ms = 0;
  int64_t started_ns = 0;
  BackupProgress progress;
  // Set by the pool thread before the after-work callback reads them.
  std::optional<Result<BackupManifest>> result;
  std::string position;  // "" until the snapshot is pinned
};

Result<std::unique_ptr<BackupManager>> BackupManager::Open(const Config& config, Store& store, Clock& clock,
                                                           MetricsRegistry& metrics) {
  auto zone = TimeZone::Load(config.backup_time_zone);
  if (!zone.ok()) return zone.status().Wrap("backup.time_zone");
  std::optional<CronSchedule> schedule;
  if (!config.backup_schedule.empty()) {
    auto cron = CronSchedule::Parse(config.backup_schedule, *zone);
    if (!cron.ok()) return cron.status().Wrap("backup.schedule");
    schedule = std::move(cron).value();
  }
  auto node_id = NodeId(config.data_dir);
  if (!node_id.ok()) return node_id.status().Wrap("backups: read node id");
  auto backups = BackupStore::Open(config.BackupsPath(), clock.NowUnixMillis());
  if (!backups.ok()) return backups.status();
  return std::unique_ptr<BackupManager>(new BackupManager(config, store, clock, metrics, std::move(backups).value(),
                                                          std::move(schedule), std::move(zone).value(), *node_id));
}

BackupManager::BackupManager(const Config& config, Store& store, Clock& clock, MetricsRegistry& metrics,
                             BackupStore backups, std::optional<CronSchedule> schedule, TimeZone zone,
                             uint64_t node_id)
    : config_(config),
      store_(store),
      clock_(clock),
      backups_(std::move(backups)),
      schedule_(std::move(schedule)),
      zone_(std::move(zone)),
      node_id_(node_id),
      backups_verified_(metrics.GetCounter("walship_backups_total", "Backups finished, by result",
                                           {{"result", "verified"}})),
      backups_failed_(metrics.GetCounter("walship_backups_total", "Backups finished, by result",
                                         {{"result", "failed"}})),
      backups_pruned_(metrics.GetCounter("walship_backups_pruned_total", "Backups removed by retention")),
      segments_pruned_(metrics.GetCounter("walship_segments_pruned_total",
                                          "Segment files and base snapshots removed by segment retention",
                                          {{"kind", "segment"}})),
      bases_pruned_(metrics.GetCounter("walship_segments_pruned_total",
                                       "Segment files and base snapshots removed by segment retention",
                                       {{"kind", "base"}})),
      backup_seconds_(metrics.GetHistogram("walship_backup_seconds", "Time to take and verify a backup",
                                           {1, 5, 15, 60, 300, 900, 3600})),
      last_verified_unix_(metrics.GetGauge("walship_backup_last_verified_timestamp_seconds",
                                           "When the newest verified backup finished (0: none)")),
      pages_copied_(metrics.GetGauge("walship_backup_pages_copied",
                                     "Pages the running backup has copied (0 when none runs)")) {
  auto listed = backups_.List();
  if (listed.ok()) {
    for (const auto& b : *listed) {
      if (b.state == BackupState::kVerified && b.manifest) {
        last_verified_unix_.Set(b.manifest->finished_unix_ms / 1000);
        break;
      }
    }
  }
}

BackupManager::~BackupManager() = default;

void BackupManager::SetStandbyAcknowledged(std::function<std::optional<uint64_t>()> acknowledged) {
  standby_acknowledged_ = std::move(acknowledged);
}

void BackupManager::Attach(EventLoop& loop) {
  const auto next = schedule_ ? schedule_->NextAfter(clock_.NowUnixMillis()) : std::nullopt;
  {
    std::lock_guard lock(mu_);
    loop_ = &loop;
    next_run_ms_ = next.value_or(0);
  }
  loop.AddRepeatingTimer(1000, [this] { OnScheduleTick(); });
}

void BackupManager::OnScheduleTick() {
  {
    std::lock_guard lock(mu_);
    pages_copied_.Set(running_ ? static_cast<int64_t>(running_->progress.pages_copied.load()) : 0);
  }
  if (!schedule_) return;
  const int64_t now = clock_.NowUnixMillis();
  {
    std::lock_guard lock(mu_);
    if (next_run_ms_ == 0 || now < next_run_ms_) return;
    next_run_ms_ = schedule_->NextAfter(now).value_or(0);
  }
  bool joined = false;
  auto started = Request("schedule", &joined);
  if (!started.ok()) {
    LogError("scheduled backup did not start", {{"error", started.status().ToString()}});
  } else if (joined) {
    LogInfo("scheduled backup skipped: a backup is already running", {{"id", started->id}});
  }
}

Result<BackupRecord> BackupManager::Request(const std::string& trigger, bool* joined) {
  std::shared_ptr<Job> job;
  {
    std::lock_guard lock(mu_);
    if (shutting_down_ || loop_ == nullptr) {
      return Status::Unavailable("the node is shutting down").WithReason("shutting_down");
    }
    // The database is being replaced: a backup now would copy the old one.
    if (store_.in_maintenance()) {
      return Status::Unavailable("no backup while an online restore runs (see /v1/status)")
          .WithReason("maintenance");
    }
    if (running_) {
      *joined = true;
      return ViewOf(*running_);
    }
    job = std::make_shared<Job>();
    job->id = backups_.NewId(clock_.NowUnixMillis());
    job->trigger = trigger;
    job->started_unix_ms = clock_.NowUnixMillis();
    job->started_ns = clock_.MonotonicNanos();
    running_ = job;
  }
  *joined = false;
  LogInfo("backup started", {{"id", job->id}, {"trigger", trigger}});
  const bool posted = loop_->Post([this, job] {
    loop_->QueueWork([this, job] { RunJob(*job); }, [this, job] { OnJobDone(job); });
  });
  if (!posted) {
    std::lock_guard lock(mu_);
    running_.reset();
    return Status::Unavailable("the node is shutting down").WithReason("shutting_down");
  }
  std::lock_guard lock(mu_);
  return ViewOf(*job);
}

void BackupManager::RunJob(Job& job) {
  TakeBackupOptions options;
  options.node_id = node_id_;
  options.zstd_level = static_cast<int>(config_.backup_zstd_level);
  options.pages_per_step = static_cast<int>(config_.backup_pages_per_step);
  options.tool_version = WALSHIP_VERSION;
  if (const char* delay = std::getenv("WALSHIP_FAILPOINT_BACKUP_STEP_SLEEP_MS")) {
    options.step_delay_ms = std::atoi(delay);  // tests only (see TakeBackupOptions)
  }
  PinSnapshot pin = [this, &job](const std::string& scratch_dir) -> Result<std::unique_ptr<PinnedSnapshot>> {
    auto snap = store_.PinBackupSnapshot(scratch_dir);
    if (snap.ok()) {
      std::lock_guard lock(mu_);
      job.position = std::to_string((*snap)->timeline) + "/" + std::to_string((*snap)->txid);
    }
    return snap;
  };
  auto result = TakeBackup(backups_, job.id, pin, options, clock_, job.progress);
  if (result.ok()) {
    ApplyRetention();
    ApplySegmentRetention();
  }
  // Corruption met while pinning or copying is the live database's (SQLITE_CORRUPT
  // from its pages, or a copy whose checksum is not the node's); later it is the backup's own.
  const BackupPhase phase = job.progress.phase.load();
  if (!result.ok() && (phase == BackupPhase::kPinning || phase == BackupPhase::kCopying)) {
    store_.ReportCorruption("backup", result.status());
  }
  std::lock_guard lock(mu_);
  job.result = std::move(result);
}

void BackupManager::OnJobDone(std::shared_ptr<Job> job) {
  const double seconds = static_cast<double>(clock_.MonotonicNanos() - job->started_ns) / 1e9;
  backup_seconds_.Observe(seconds);
  std::lock_guard lock(mu_);
  const auto& result = *job->result;
  if (result.ok()) {
    backups_verified_.Add();
    last_verified_unix_.Set(result->finished_unix_ms / 1000);
    LogInfo("backup verified", {{"id", job->id}, {"position", result->Position()},
                                {"bytes_uncompressed", static_cast<int64_t>(result->bytes_uncompressed)},
                                {"bytes_compressed", static_cast<int64_t>(result->bytes_compressed)},
                                {"seconds", seconds}});
  } else if (result.status().reason() == "shutting_down") {
    LogInfo("backup cancelled: the node is shutting down", {{"id", job->id}});
  } else {
    backups_failed_.Add();
    LogError("backup failed: set aside in " + backups_.dir() + "/failed/" + job->id,
             {{"id", job->id}, {"error", result.status().ToString()}});
  }
  running_.reset();
  pages_copied_.Set(0);
}

void BackupManager::ApplyRetention() {
  auto listed = backups_.List();
  if (!listed.ok()) {
    LogError("backup retention skipped: cannot list backups", {{"error", listed.status().ToString()}});
    return;
  }
  std::vector<RetainedBackup> verified;
  for (const auto& b : *listed) {
    if (b.state == BackupState::kVerified && b.manifest) {
      verified.push_back({b.id, b.manifest->finished_unix_ms, true});
    }
  }
  RetentionPolicy policy;
  policy.keep_last = static_cast<int>(config_.backup_keep_last);
  policy.daily_days = static_cast<int>(config_.backup_keep_daily_days);
  policy.weekly_weeks = static_cast<int>(config_.backup_keep_weekly_weeks);
  const RetentionPlan plan = PlanRetention(policy, verified, clock_.NowUnixMillis(), zone_);
  for (const auto& id : plan.prune) {
    if (Status s = backups_.Remove(id); !s.ok()) {
      LogError("backup retention: could not remove a backup", {{"id", id}, {"error", s.ToString()}});
      return;
    }
    backups_pruned_.Add();
    LogInfo("backup pruned by retention", {{"id", id}, {"kept", static_cast<int64_t>(plan.keep.size())}});
  }
}

void BackupManager::ApplySegmentRetention() {
  // A standby's store (the replica's) and a node without capture have no
  // segment store here: nothing to prune.
  const SegmentStore* live = store_.segment_store();
  if (!config_.segments_retention || live == nullptr) return;
  // An online restore plans from the listing and reads the files after:
  // leave them be until it ends (the next backup prunes).
  if (auto restore = store_.RestoreProgress(); restore && restore->state == "running") {
    LogInfo("segment retention skipped: an online restore is running", {{"restore", restore->id}});
    return;
  }
  const auto skipped = [](const Status& s) {
    LogError("segment retention skipped", {{"error", s.ToString()}});
  };
  // Removal needs a writable handle; the store is only a folder's name.
  auto store = SegmentStore::Open(live->dir());
  if (!store.ok()) return skipped(store.status());
  auto listed = backups_.List();
  if (!listed.ok()) return skipped(listed.status().Wrap("list backups"));
  SegmentRetentionInput input;
  // Every verified backup still there after backup retention (a removal
  // that failed leaves its backup counted).
  for (const auto& b : *listed) {
    if (b.state != BackupState::kVerified || !b.manifest) continue;
    const BackupManifest& m = *b.manifest;
    input.backups.push_back({b.id, m.segment_sequence, m.txid, m.chain_checksum});
  }
  auto segments = (*store)->List();
  if (!segments.ok()) return skipped(segments.status());
  input.segments = std::move(segments).value();
  auto bases = (*store)->ListBases();
  if (!bases.ok()) return skipped(bases.status());
  input.bases = std::move(bases).value();
  input.standby.configured = !config_.standby() && !config_.standby_url.empty();
  if (input.standby.configured && standby_acknowledged_) input.standby.acknowledged = standby_acknowledged_();

  const SegmentRetentionPlan plan = PlanSegmentRetention(input);
  if (plan.remove_segments.empty() && plan.remove_bases.empty()) {
    LogInfo("segment retention: nothing to remove", {{"why", plan.why}, {"first_kept", plan.floor}});
    return;
  }
  // Recorded first: `segments verify` accepts a store whose oldest segment
  // starts no chain only when retention says it removed the ones before.
  if (Status s = (*store)->RecordPrunedBelow(plan.floor); !s.ok()) return skipped(s);
  // Oldest first, then the bases (see segment_retention.h): a stop part way
  // leaves a suffix of the chain, never a chain start without its base.
  for (const SegmentFileEntry& e : plan.remove_segments) {
    if (Status s = (*store)->RemoveSegment(e); !s.ok()) {
      LogError("segment retention: could not remove a segment; stopping", {{"error", s.ToString()}});
      return;
    }
    segments_pruned_.Add();
    LogInfo("segment removed by retention", {{"sequence", e.sequence},
                                            {"txids", std::to_string(e.first_txid) + "-" + std::to_string(e.last_txid)},
                                            {"bytes", e.bytes},
                                            {"first_kept", plan.floor},
                                            {"why", plan.why}});
  }
  for (uint64_t base : plan.remove_bases) {
    if (Status s = (*store)->RemoveBase(base); !s.ok()) {
      LogError("segment retention: could not remove a base snapshot; stopping", {{"error", s.ToString()}});
      return;
    }
    bases_pruned_.Add();
    LogInfo("base snapshot removed by retention", {{"sequence", base}, {"first_kept", plan.floor}});
  }
}

void BackupManager::BeginShutdown() {
  std::lock_guard lock(mu_);
  shutting_down_ = true;
  if (running_) running_->progress.cancel = true;
}

BackupRecord BackupManager::ViewOf(const Job& job) const {
  BackupRecord v;
  v.id = job.id;
  v.trigger = job.trigger;
  const BackupPhase phase = job.progress.phase.load();
  v.state = phase == BackupPhase::kVerifying ? "verifying" : "running";
  v.phase = std::string(BackupPhaseName(phase));
  v.position = job.position;
  v.started_unix_ms = job.started_unix_ms;
  v.pages_copied = job.progress.pages_copied.load();
  v.page_count = job.progress.page_count.load();
  v.page_size = job.progress.page_size.load();
  v.bytes_done = job.progress.bytes_done.load();
  if (job.result && !job.result->ok()) {
    v.state = "failed";
    v.error = job.result->status().ToString();
  } else if (job.result) {
    v.state = "verified";
  }
  return v;
}

BackupRecord BackupManager::ViewOf(const BackupListing& b) {
  BackupRecord v;
  v.id = b.id;
  v.state = std::string(BackupStateName(b.state));
  v.error = b.error;
  v.finished_unix_ms = b.failed_unix_ms;
  if (b.manifest) {
    const BackupManifest& m = *b.manifest;
    v.position = m.Position();
    v.started_unix_ms = m.started_unix_ms;
    if (b.state == BackupState::kVerified) v.finished_unix_ms = m.finished_unix_ms;
    v.pages_copied = v.page_count = m.page_count;
    v.bytes_uncompressed = m.bytes_uncompressed;
    v.bytes_compressed = m.bytes_compressed;
    v.source = m.source;
  }
  return v;
}

Result<std::vector<BackupRecord>> BackupManager::List() const {
  auto listed = backups_.List();
  if (!listed.ok()) return listed.status();
  std::vector<BackupRecord> out;
  {
    std::lock_guard lock(mu_);
    if (running_) out.push_back(ViewOf(*running_));
  }
  for (const auto& b : *listed) {
    if (!out.empty() && out.front().id == b.id) continue;  // finished while listing
    out.push_back(ViewOf(b));
  }
  return out;
}

Result<BackupRecord> BackupManager::Get(const std::string& id) const {
  {
    std::lock_guard lock(mu_);
    if (running_ && running_->id == id) return ViewOf(*running_);
  }
  auto all = List();
  if (!all.ok()) return all.status();
  for (auto& v : *all) {
    if (v.id == id) return v;
  }
  return Status::NotFound("no backup " + id + " in " + backups_.dir()).WithReason("backup_not_found");
}

BackupsStatus BackupManager::Summary() const {
  BackupsStatus s;
  s.dir = backups_.dir();
  s.schedule = schedule_ ? schedule_->ToString() : "";
  {
    std::lock_guard lock(mu_);
    if (running_) s.running = ViewOf(*running_);
    s.next_run_unix_ms = next_run_ms_;
  }
  auto listed = backups_.List();
  if (listed.ok()) {
    for (const auto& b : *listed) {
      if (b.state == BackupState::kVerified && !s.last_verified) s.last_verified = ViewOf(b);
      if (b.state == BackupState::kFailed && !s.last_verified && !s.last_failure) s.last_failure = ViewOf(b);
    }
  }
  return s;
}

}  // namespace walship
