// The node's backups: taken when asked (POST /v1/admin/backups, `walship
// backup`) or on backup.schedule, one at a time, on the libuv work pool;
// kept by backup.keep_* (retention); listed with their state and progress.
// After each verified backup and its retention, segment retention
// (segments.retention, replication/segment_retention.h) removes the segments
// no kept backup and no standby needs, on a primary that captures segments.
//
// Thread contract: Request/List/Get/Status from any thread (HTTP handlers);
// the job's state is guarded by mu_. The schedule tick runs on the loop
// thread; the backup itself (TakeBackup, then retention) on a pool thread,
// and its result is recorded by the after-work callback on the loop thread.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "backup/backup_store.h"
#include "backup/cron.h"
#include "backup/retention.h"
#include "backup/take_backup.h"
#include "base/clock.h"
#include "base/metrics.h"
#include "base/status.h"
#include "node/config.h"
#include "node/loop.h"
#include "node/store.h"

namespace walship {

// One backup as the API shows it.
struct BackupRecord {
  std::string id;
  std::string state;  // running, verifying, verified, failed
  std::string phase;  // running: pinning, copying, compressing, verifying
  std::string position;  // "" until pinned
  int64_t started_unix_ms = 0;
  int64_t finished_unix_ms = 0;  // 0 while running
  std::string error;
  uint64_t pages_copied = 0;
  uint64_t page_count = 0;
  uint32_t page_size = 0;  // 0 until the copy's header is read
  uint64_t bytes_done = 0;
  uint64_t bytes_uncompressed = 0;
  uint64_t bytes_compressed = 0;
  std::string source;
  std::string trigger;  // "schedule" or "request"
};

struct BackupsStatus {
  std::optional<BackupRecord> running;
  std::optional<BackupRecord> last_verified;
  std::optional<BackupRecord> last_failure;  // newer than the last verified one: an alert
  std::string schedule;                    // "" when only on request
  int64_t next_run_unix_ms = 0;            // 0: none scheduled
  std::string dir;
};

class BackupManager {
 public:
  static Result<std::unique_ptr<BackupManager>> Open(const Config& config, Store& store, Clock& clock,
                                                     MetricsRegistry& metrics);
  ~BackupManager();

  // Before Attach (no job runs yet): on a primary with a standby, what the
  // standby acknowledged (SegmentShipper::AcknowledgedSequence). Without it,
  // a configured standby counts as never acknowledged: segment retention
  // removes nothing.
  void SetStandbyAcknowledged(std::function<std::optional<uint64_t>()> acknowledged);
  // Loop thread, before Run: the schedule tick, and where jobs are queued.
  void Attach(EventLoop& loop);
  // Any thread: starts a backup, or returns the one running (joined = true).
  // kUnavailable (reason "shutting_down") once the node drains.
  Result<BackupRecord> Request(const std::string& trigger, bool* joined);
  // Any thread: newest first, the running one included.
  Result<std::vector<BackupRecord>> List() const;
  Result<BackupRecord> Get(const std::string& id) const;
  BackupsStatus Summary() const;
  // Loop thread: asks a running backup to stop between steps; no new ones.
  void BeginShutdown();

 private:
  BackupManager(const Config& config, Store& store, Clock& clock, MetricsRegistry& metrics, BackupStore backups,
                std::optional<CronSchedule> schedule, TimeZone zone, uint64_t node_id);
  struct Job;
  void OnScheduleTick();        // loop thread
  void RunJob(Job& job);        // pool thread
  void OnJobDone(std::shared_ptr<Job> job);  // loop thread
  void ApplyRetention();        // pool thread, after a verified backup
  void ApplySegmentRetention();  // pool thread, after ApplyRetention
  BackupRecord ViewOf(const Job& job) const;
  static BackupRecord ViewOf(const BackupListing& listing);

  const Config& config_;
  Store& store_;
  Clock& clock_;
  BackupStore backups_;
  std::optional<CronSchedule> schedule_;
  TimeZone zone_;
  uint64_t node_id_;
  mutable std::mutex mu_;  // guards loop_, next_run_ms_, running_, shutting_down_
  EventLoop* loop_ = nullptr;  // set once by Attach, before any job
  int64_t next_run_ms_ = 0;
  std::shared_ptr<Job> running_;
  bool shutting_down_ = false;
  std::function<std::optional<uint64_t>()> standby_acknowledged_;  // set before Attach

  Counter& backups_verified_;
  Counter& backups_failed_;
  Counter& backups_pruned_;
  Counter& segments_pruned_;
  Counter& bases_pruned_;
  Histogram& backup_seconds_;
  Gauge& last_verified_unix_;
  Gauge& pages_copied_;
};

}  // namespace walship
