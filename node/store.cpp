#include "node/store.h"

#include <future>

#include "base/log.h"
#include "node/metered_vfs.h"
#include "node/schema.h"
#include "node/write_ops.h"
#include "node/identity.h"
#include "replication/startup_scan.h"

namespace walship {
namespace {

Status ConfigureWriteConnection(SqliteDb& db, const Config& config) {
  sqlite3_busy_timeout(db.raw(), static_cast<int>(config.busy_timeout_ms));
  // Keep the WAL when this connection closes: only our checkpoint policy
  // (and the capture hook before it) may move frames into the database.
  int unused = 0;
  if (int rc = sqlite3_db_config(db.raw(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, &unused); rc != SQLITE_OK) {
    return SqliteStatus(db.raw(), rc, "disable checkpoint on close");
  }
  auto mode = db.Prepare("PRAGMA journal_mode=WAL");
  if (!mode.ok()) return mode.status();
  auto row = (*mode)->Step();
  if (!row.ok()) return row.status().Wrap("set journal_mode=WAL");
  if (!*row || (*mode)->ColumnText(0) != "wal") {
    return Status::Internal("set journal_mode=WAL: SQLite kept mode " + (*mode)->ColumnText(0));
  }
  // wal_autocheckpoint=0 is the same as sqlite3_wal_autocheckpoint(db, 0);
  // set it before any wal hook (setting it after removes the hook).
  // Checkpoints let SQLite reuse the -wal file from its start rather than
  // truncate it (node/writer.cpp); a file a long reader made huge is cut
  // back to twice the checkpoint threshold when SQLite next starts it over.
  return db.Exec("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA wal_autocheckpoint=0; "
                 "PRAGMA journal_size_limit=" + std::to_string(2 * config.checkpoint_wal_bytes) + ";");
}

Status MaintenanceStatus() {
  return Status::Unavailable(
             "the node is restoring its database (POST /v1/admin/restore): try again shortly; progress in /v1/status")
      .WithReason("maintenance");
}

}  // namespace

Result<std::unique_ptr<Store>> Store::Open(const Config& config, Clock& clock, MetricsRegistry& metrics) {
  const std::string context = "open store in " + config.data_dir;
  WALSHIP_RETURN_IF_ERROR(EnsureDirectory(config.data_dir).Wrap(context));
  auto lock = DirectoryLock::Acquire(config.data_dir);
  if (!lock.ok()) return lock.status().Wrap(context);
  if (config.standby()) return OpenStandby(config, std::move(lock).value(), clock, metrics);
  WALSHIP_RETURN_IF_ERROR(RouteSqliteLogToNodeLog());
  WALSHIP_RETURN_IF_ERROR(RegisterMeteredVfs(&metrics.GetHistogram(
      "walship_fsync_seconds", "Duration of each fsync SQLite asks for", LatencyBuckets())));
  std::unique_ptr<Store> store(new Store(config, std::move(lock).value(), clock, metrics));
  store->db_path_ = config.DatabasePath();
  // Nothing else has the store yet: no other thread can hold parts_mu_.
  WALSHIP_RETURN_IF_ERROR(store->OpenPrimaryParts().Wrap(context));
  return store;
}

Status Store::OpenPrimaryParts() {
  // Before SQLite touches the files: a damaged WAL with committed frames
  // behind the damage must reach no SQLite connection, not even read-only.
  auto wal = ScanWalAtStartup(db_path_);
  if (!wal.ok()) return wal.status();
  LogStartupWalReport(*wal);
  if (wal->refused()) {
    refusal_ = wal->refusal;
    refusal_action_ = wal->action;
    refused_wal_bytes_ = static_cast<int64_t>(wal->wal_bytes);
    return Status::Ok();
  }
  const bool created = FileSizeOrZero(db_path_) == 0;
  auto db = SqliteDb::Open(db_path_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, kMeteredVfsName);
  if (!db.ok()) return db.status();
  WALSHIP_RETURN_IF_ERROR(ConfigureWriteConnection(**db, config_));
  WALSHIP_RETURN_IF_ERROR(MigrateSchema(**db));
  auto pos = ReadPosition(**db);
  if (!pos.ok()) return pos.status().Wrap("read position");
  // Before any reader opens: the capture may checkpoint and copy the file.
  WALSHIP_RETURN_IF_ERROR(StartCapture(**db, *pos, created));

  auto readers = ReadPool::Open(db_path_, static_cast<int>(config_.read_connections),
                                static_cast<int>(config_.busy_timeout_ms), kMeteredVfsName);
  if (!readers.ok()) return readers.status();
  readers_ = std::move(readers).value();
  corruption_ = std::make_unique<CorruptionWatch>(config_.data_dir, clock_, metrics_);
  writer_ = std::make_unique<Writer>(std::move(db).value(), config_, clock_, metrics_, *pos);
  writer_->SetCheckpointHook(capture_.get());
  // The watch and the writer are replaced together (ClosePrimaryParts): the
  // pointers these callbacks use live as long as the callbacks.
  Writer* writer = writer_.get();
  CorruptionWatch* watch = corruption_.get();
  corruption_->SetStopAction([writer](const Status& finding) { writer->StopWrites(finding); });
  writer_->SetStickyListener([watch](const Status& s) { watch->Observe("writer", s); });
  writer_->Start();
  if (!capture_) {
    LogWarn("the scrub is off: without WAL capture there is no database checksum to compare pages with", {});
  }
  checks_ = std::make_unique<ScrubScheduler>(config_, capture_ != nullptr, *writer_, db_path_, kMeteredVfsName,
                                             *corruption_, clock_, metrics_);
  checks_->Start();
  LogInfo("store open", {{"database", db_path_}, {"position", pos->ToString()}});
  return Status::Ok();
}

void Store::ClosePrimaryParts() {
  // The checks first: a scrub batch runs on the writer and reads through
  // its own connection. Then the readers, then the writer (it commits what
  // is queued and, when it can, checkpoints through the capture).
  if (checks_) checks_->Stop();
  if (readers_) readers_->Close();
  if (writer_) {
    writer_->Stop();
    const Position last = writer_->position();
    {
      std::lock_guard lock(restore_mu_);
      closed_position_ = last;
    }
    LogInfo("store closed", {{"database", db_path_}, {"position", last.ToString()}});
  }
  checks_.reset();
  readers_.reset();
  writer_.reset();
  corruption_.reset();
  capture_.reset();
  refusal_ = Status::Ok();
  refusal_action_.clear();
  refused_wal_bytes_ = 0;
}

Result<std::unique_ptr<Store>> Store::OpenStandby(const Config& config, DirectoryLock lock, Clock& clock,
                                                  MetricsRegistry& metrics) {
  const std::string context = "open standby store in " + config.data_dir;
  WALSHIP_RETURN_IF_ERROR(RouteSqliteLogToNodeLog());
  WALSHIP_RETURN_IF_ERROR(RegisterMeteredVfs(&metrics.GetHistogram(
      "walship_fsync_seconds", "Duration of each fsync SQLite asks for", LatencyBuckets())));
  std::unique_ptr<Store> store(new Store(config, std::move(lock), clock, metrics));
  store->db_path_ = config.DatabasePath();
  auto replica = StandbyReplica::Open(store->db_path_, config.SegmentsPath(), config.data_dir + "/quarantine",
                                      clock, metrics);
  if (!replica.ok()) return replica.status().Wrap(context);
  store->replica_ = std::move(replica).value();
  store->readers_ = ReadPool::OpenImmutable(store->db_path_, static_cast<int>(config.read_connections),
                                            kMeteredVfsName);
  ReplicaState state = store->replica_->State();
  LogInfo("standby store open", {{"replica", store->db_path_},
                                 {"applied", state.has_database ? std::to_string(state.timeline) + "/" +
                                                                      std::to_string(state.txid)
                                                                : std::string("nothing yet")},
                                 {"primary", config.primary_url.empty() ? "(not configured)" : config.primary_url}});
  return store;
}

Status Store::StartCapture(SqliteDb& db, Position pos, bool created) {
  if (!config_.segments_capture) {
    LogWarn("WAL capture is off (segments.capture = false): checkpointed frames are kept nowhere", {});
    return Status::Ok();
  }
  auto identity = ReadCaptureIdentity(db, config_.data_dir, pos.timeline);
  if (!identity.ok()) return identity.status();
  if (!segments_) {  // kept across online restores: the shipper reads through it
    auto segments = SegmentStore::Open(config_.SegmentsPath());
    if (!segments.ok()) return segments.status();
    segments_ = std::move(segments).value();
    segments_view_ = segments_.get();
  }
  auto capture = WalCapture::Start(db.raw(), db_path_, *segments_, *identity, pos.txid, created,
                                   static_cast<int>(config_.segments_zstd_level), clock_, metrics_);
  if (!capture.ok()) return capture.status();
  capture_ = std::move(capture).value();
  capture_->SetCollectInterval(config_.segments_collect_interval_ms);
  capture_->SetCollectMaxWalBytes(config_.segments_collect_max_wal_bytes);
  if (sealed_listener_) capture_->SetSealedListener(sealed_listener_);
  if (collect_gate_) capture_->SetCollectGate(collect_gate_);
  return Status::Ok();
}

Store::~Store() { Close(); }

Result<std::shared_lock<std::shared_mutex>> Store::HoldParts() const {
  if (maintenance_.load()) return MaintenanceStatus();
  std::shared_lock lock(parts_mu_, std::try_to_lock);
  if (!lock.owns_lock()) return MaintenanceStatus();
  return lock;
}

Status Store::Submit(WriteRequest request) {
  if (replica_) {
    return Status::Unavailable("this node is a standby: send writes to the primary" +
                               (config_.primary_url.empty() ? std::string(" (replication.primary is not set here)")
                                                            : " at " + config_.primary_url))
        .WithReason("not_primary");
  }
  if (closed_) return Status::Unavailable("the store is closed").WithReason("shutting_down");
  auto hold = HoldParts();
  if (!hold.ok()) return hold.status();
  if (refused_locked()) return refusal_;
  if (!writer_) return Status::Unavailable("the store is closed").WithReason("shutting_down");
  if (corruption_) WALSHIP_RETURN_IF_ERROR(corruption_->WriteRefusal());
  // Queued under the hold: an online restore's writer->Stop() commits it.
  return writer_->Submit(std::move(request));
}

WriteOutcome Store::Write(std::vector<WriteOp> ops) {
  auto done = std::make_shared<std::promise<WriteOutcome>>();
  auto outcome = done->get_future();
  Status s = Submit(WriteRequest{std::move(ops), [done](WriteOutcome o) { done->set_value(std::move(o)); }});
  if (!s.ok()) return WriteOutcome{s, {}, {}};
  WriteOutcome out = outcome.get();
  if (out.status.ok() && replication_wait_) {
    if (Status r = replication_wait_(out.position); !r.ok()) {
      out.status = Status(r.code(), "the write is committed on this primary at position " + out.position.ToString() +
                                        " but not confirmed by the standby: " + r.message())
                       .WithReason(r.reason());
    }
  }
  return out;
}

template <typename T, typename F>
Result<T> Store::Read(F&& read) {
  std::optional<std::shared_lock<std::shared_mutex>> parts;
  if (!replica_) {
    auto held = HoldParts();
    if (!held.ok()) return held.status();
    parts.emplace(std::move(held).value());
    if (refused_locked()) return refusal_;
    if (!readers_) return Status::Unavailable("the store is closed").WithReason("shutting_down");
  }
  std::optional<ApplyGate::ReadHold> hold;
  uint64_t generation = 0;
  if (replica_) {
    if (!replica_->has_database()) {
      return Status::Unavailable("this standby has not received a database from the primary yet")
          .WithReason("standby_empty");
    }
    hold.emplace(replica_->gate().BeginRead());
    generation = replica_->gate().generation();
    if (!replica_->has_database()) {  // a resync emptied it while this read waited
      return Status::Unavailable("this standby is starting over (resync)").WithReason("standby_empty");
    }
    if (!replica_->serveable()) {
      // Not Health(): it takes the replica's lock, which an apply waiting
      // for this reader to leave the gate may hold.
      return Status::Unavailable(
                 "this standby's replica may hold part of a segment after a failed apply (see /v1/status); "
                 "resync it: POST /v1/admin/resync")
          .WithReason("replica_diverged");
    }
  }
  auto lease = readers_->Acquire(generation);
  if (!lease.ok()) return lease.status();
  Result<T> result = read(lease->db());
  // A read that meets a damaged page stops writes (primary; see CorruptionWatch).
  if (!result.ok() && corruption_) corruption_->Observe("read", result.status());
  return result;
}

Result<Record> Store::Get(const std::string& key) {
  return Read<Record>([&](SqliteDb& db) { return GetArchive(db, key); });
}

Result<ListPage> Store::List(const std::string& prefix, const std::optional<std::string>& after_key,
                             int64_t limit) {
  return Read<ListPage>([&](SqliteDb& db) { return ListArchives(db, prefix, after_key, limit); });
}

Result<std::vector<SearchHit>> Store::Search(const std::string& query, int64_t limit) {
  return Read<std::vector<SearchHit>>([&](SqliteDb& db) { return SearchArchives(db, query, limit); });
}

Position Store::position() const {
  if (replica_) {
    ReplicaState s = replica_->State();
    return Position{static_cast<int64_t>(s.timeline), s.txid};
  }
  std::shared_lock lock(parts_mu_, std::try_to_lock);
  if (lock.owns_lock() && writer_) return writer_->position();
  std::lock_guard restore_lock(restore_mu_);
  return closed_position_;
}

Status Store::WaitForPosition(const Position& wanted) {
  if (replica_) {
    return replica_->WaitForPosition(static_cast<uint64_t>(wanted.timeline), wanted.txid,
                                     config_.replication_min_position_wait_ms);
  }
  if (refused()) return refusal();
  const Position now = position();
  if (now.timeline > wanted.timeline || (now.timeline == wanted.timeline && now.txid >= wanted.txid)) {
    return Status::Ok();
  }
  return Status::Unavailable("position " + wanted.ToString() + " is ahead of this node's " + now.ToString())
      .WithReason("position_not_reached");
}

Status Store::Ready() const {
  if (closed_) return Status::Unavailable("the store is closed").WithReason("shutting_down");
  if (replica_) {
    WALSHIP_RETURN_IF_ERROR(replica_->Health());
    if (!replica_->State().has_database) {
      return Status::Unavailable("this standby has not received a database from the primary yet")
          .WithReason("standby_empty");
    }
    return Status::Ok();
  }
  auto hold = HoldParts();
  if (!hold.ok()) return hold.status();
  if (refused_locked()) return refusal_;
  if (!writer_) return Status::Unavailable("the store is closed").WithReason("shutting_down");
  return writer_->Health();
}

bool Store::refused() const {
  std::shared_lock lock(parts_mu_, std::try_to_lock);
  return lock.owns_lock() && refused_locked();
}

Status Store::refusal() const {
  std::shared_lock lock(parts_mu_, std::try_to_lock);
  return lock.owns_lock() ? refusal_ : Status::Ok();
}

std::string Store::refusal_action() const {
  std::shared_lock lock(parts_mu_, std::try_to_lock);
  return lock.owns_lock() ? refusal_action_ : std::string();
}

int64_t Store::WalBytes() const {
  if (replica_) return 0;
  std::shared_lock lock(parts_mu_, std::try_to_lock);
  if (!lock.owns_lock()) return FileSizeOrZero(db_path_ + "-wal");
  return writer_ ? writer_->WalBytes() : refused_wal_bytes_;
}

int64_t Store::LastCheckpointUnixMillis() const {
  std::shared_lock lock(parts_mu_, std::try_to_lock);
  return lock.owns_lock() && writer_ ? writer_->LastCheckpointUnixMillis() : 0;
}

void Store::SetSealedListener(WalCapture::SealedListener listener) {
  std::unique_lock lock(parts_mu_);  // waits for a restore: the listener must reach its capture
  sealed_listener_ = listener;
  if (capture_) capture_->SetSealedListener(std::move(listener));
}

void Store::SetReplicationWait(ReplicationWait wait, std::function<bool()> shipper_idle) {
  std::unique_lock lock(parts_mu_);  // before serving: Write() reads replication_wait_ without it
  replication_wait_ = std::move(wait);
  collect_gate_ = shipper_idle;
  if (capture_) capture_->SetCollectGate(std::move(shipper_idle));
}

void Store::RequestCollect() {
  auto hold = HoldParts();
  if (hold.ok() && writer_ && capture_) writer_->RequestCollect();
}

void Store::RequestSnapshot() {
  auto hold = HoldParts();
  if (hold.ok() && writer_ && capture_) writer_->RequestSnapshot();
}

void Store::RequestCheckpoint() {
  auto hold = HoldParts();
  if (hold.ok() && writer_) writer_->RequestCheckpoint();
}

void Store::RequestTimerCheckpoint() {
  auto hold = HoldParts();
  if (hold.ok() && writer_) writer_->RequestTimerCheckpoint();
}

bool Store::ReportCorruption(std::string_view source, const Status& status) {
  auto hold = HoldParts();
  return hold.ok() && corruption_ != nullptr && corruption_->Observe(source, status);
}

Status Store::ScrubPassNow() {
  auto hold = HoldParts();
  if (!hold.ok()) return hold.status();
  return checks_ ? checks_->ScrubPassNow() : Status::Unavailable("no scrub runs on this node");
}

Status Store::QuickCheckNow() {
  auto hold = HoldParts();
  if (!hold.ok()) return hold.status();
  return checks_ ? checks_->QuickCheckNow() : Status::Unavailable("no quick_check runs on this node");
}

std::optional<CorruptionFinding> Store::CorruptionFound() const {
  auto hold = HoldParts();
  return hold.ok() && corruption_ ? corruption_->Finding() : std::nullopt;
}

std::optional<CaptureStats> Store::Capture() const {
  auto hold = HoldParts();
  return hold.ok() && capture_ ? std::optional<CaptureStats>(capture_->Stats()) : std::nullopt;
}

std::string Store::segments_dir() const {
  if (replica_) return replica_->segments_dir();
  const SegmentStore* segments = segments_view_.load();
  return segments != nullptr ? segments->dir() : std::string();
}

const SegmentStore* Store::segment_store() const { return segments_view_.load(); }

void Store::Close() {
  if (closed_.exchange(true)) return;
  CancelRestore();
  // A running online restore finishes first (it opens nothing once closed_ is set).
  std::thread restore;
  {
    std::lock_guard lock(restore_mu_);
    restore.swap(restore_thread_);
  }
  if (restore.joinable()) restore.join();
  std::unique_lock parts(parts_mu_);
  if (replica_) {
    if (readers_) readers_->Close();
    return;
  }
  ClosePrimaryParts();
}

}  // namespace walship
