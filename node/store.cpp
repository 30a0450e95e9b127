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
  return db.Exec("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA wal_autocheckpoint=0;");
}

}  // namespace

Result<std::unique_ptr<Store>> Store::Open(const Config& config, Clock& clock, MetricsRegistry& metrics) {
  const std::string context = "open store in " + config.data_dir;
  WALSHIP_RETURN_IF_ERROR(EnsureDirectory(config.data_dir).Wrap(context));
  auto lock = DirectoryLock::Acquire(config.data_dir);
  if (!lock.ok()) return lock.status().Wrap(context);
  if (config.standby()) return OpenStandby(config, std::move(lock).value(), clock, metrics);
  // Before SQLite touches the files: a damaged WAL with committed frames
  // behind the damage must reach no SQLite connection, not even read-only.
  auto wal = ScanWalAtStartup(config.DatabasePath());
  if (!wal.ok()) return wal.status().Wrap(context);
  LogStartupWalReport(*wal);
  if (wal->refused()) return Refused(config, std::move(lock).value(), *wal);
  WALSHIP_RETURN_IF_ERROR(RouteSqliteLogToNodeLog());
  WALSHIP_RETURN_IF_ERROR(RegisterMeteredVfs(&metrics.GetHistogram(
      "walship_fsync_seconds", "Duration of each fsync SQLite asks for", LatencyBuckets())));

  std::unique_ptr<Store> store(new Store(config, std::move(lock).value()));
  store->db_path_ = config.DatabasePath();
  const bool created = FileSizeOrZero(store->db_path_) == 0;
  auto db = SqliteDb::Open(store->db_path_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, kMeteredVfsName);
  if (!db.ok()) return db.status().Wrap(context);
  WALSHIP_RETURN_IF_ERROR(ConfigureWriteConnection(**db, config).Wrap(context));
  WALSHIP_RETURN_IF_ERROR(MigrateSchema(**db).Wrap(context));
  auto pos = ReadPosition(**db);
  if (!pos.ok()) return pos.status().Wrap(context + ": read position");
  // Before any reader opens: the capture may checkpoint and copy the file.
  WALSHIP_RETURN_IF_ERROR(store->StartCapture(**db, *pos, created, clock, metrics).Wrap(context));

  auto readers = ReadPool::Open(store->db_path_, static_cast<int>(config.read_connections),
                                static_cast<int>(config.busy_timeout_ms), kMeteredVfsName);
  if (!readers.ok()) return readers.status().Wrap(context);
  store->readers_ = std::move(readers).value();
  store->corruption_ = std::make_unique<CorruptionWatch>(config.data_dir, clock, metrics);
  store->writer_ = std::make_unique<Writer>(std::move(db).value(), config, clock, metrics, *pos);
  store->writer_->SetCheckpointHook(store->capture_.get());
  Store* self = store.get();
  store->corruption_->SetStopAction([self](const Status& finding) { self->writer_->StopWrites(finding); });
  store->writer_->SetStickyListener([self](const Status& s) { self->corruption_->Observe("writer", s); });
  store->writer_->Start();
  if (!store->capture_) {
    LogWarn("the scrub is off: without WAL capture there is no database checksum to compare pages with", {});
  }
  store->checks_ = std::make_unique<ScrubScheduler>(config, store->capture_ != nullptr, *store->writer_,
                                                    store->db_path_, kMeteredVfsName, *store->corruption_, clock,
                                                    metrics);
  store->checks_->Start();
  LogInfo("store open", {{"database", store->db_path_}, {"position", pos->ToString()}});
  return store;
}

Result<std::unique_ptr<Store>> Store::OpenStandby(const Config& config, DirectoryLock lock, Clock& clock,
                                                  MetricsRegistry& metrics) {
  const std::string context = "open standby store in " + config.data_dir;
  WALSHIP_RETURN_IF_ERROR(RouteSqliteLogToNodeLog());
  WALSHIP_RETURN_IF_ERROR(RegisterMeteredVfs(&metrics.GetHistogram(
      "walship_fsync_seconds", "Duration of each fsync SQLite asks for", LatencyBuckets())));
  std::unique_ptr<Store> store(new Store(config, std::move(lock)));
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

std::unique_ptr<Store> Store::Refused(const Config& config, DirectoryLock lock, const StartupWalReport& report) {
  std::unique_ptr<Store> store(new Store(config, std::move(lock)));
  store->db_path_ = config.DatabasePath();
  store->refusal_ = report.refusal;
  store->refusal_action_ = report.action;
  store->refused_wal_bytes_ = static_cast<int64_t>(report.wal_bytes);
  return store;
}

Status Store::StartCapture(SqliteDb& db, Position pos, bool created, Clock& clock, MetricsRegistry& metrics) {
  if (!config_.segments_capture) {
    LogWarn("WAL capture is off (segments.capture = false): checkpointed frames are kept nowhere", {});
    return Status::Ok();
  }
  auto identity = ReadCaptureIdentity(db, config_.data_dir, pos.timeline);
  if (!identity.ok()) return identity.status();
  auto segments = SegmentStore::Open(config_.SegmentsPath());
  if (!segments.ok()) return segments.status();
  segments_ = std::move(segments).value();
  auto capture = WalCapture::Start(db.raw(), db_path_, *segments_, *identity, pos.txid, created,
                                   static_cast<int>(config_.segments_zstd_level), clock, metrics);
  if (!capture.ok()) return capture.status();
  capture_ = std::move(capture).value();
  capture_->SetCollectInterval(config_.segments_collect_interval_ms);
  return Status::Ok();
}

Store::~Store() { Close(); }

Status Store::Submit(WriteRequest request) {
  if (refused()) return refusal_;
  if (replica_) {
    return Status::Unavailable("this node is a standby: send writes to the primary" +
                               (config_.primary_url.empty() ? std::string(" (replication.primary is not set here)")
                                                            : " at " + config_.primary_url))
        .WithReason("not_primary");
  }
  if (closed_) return Status::Unavailable("the store is closed").WithReason("shutting_down");
  if (corruption_) WALSHIP_RETURN_IF_ERROR(corruption_->WriteRefusal());
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
  if (refused()) return refusal_;
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
  return writer_ ? writer_->position() : Position{};
}

Status Store::WaitForPosition(const Position& wanted) {
  if (refused()) return refusal_;
  if (replica_) {
    return replica_->WaitForPosition(static_cast<uint64_t>(wanted.timeline), wanted.txid,
                                     config_.replication_min_position_wait_ms);
  }
  const Position now = position();
  if (now.timeline > wanted.timeline || (now.timeline == wanted.timeline && now.txid >= wanted.txid)) {
    return Status::Ok();
  }
  return Status::Unavailable("position " + wanted.ToString() + " is ahead of this node's " + now.ToString())
      .WithReason("position_not_reached");
}

Status Store::Ready() const {
  if (refused()) return refusal_;
  if (closed_) return Status::Unavailable("the store is closed").WithReason("shutting_down");
  if (replica_) {
    WALSHIP_RETURN_IF_ERROR(replica_->Health());
    if (!replica_->State().has_database) {
      return Status::Unavailable("this standby has not received a database from the primary yet")
          .WithReason("standby_empty");
    }
    return Status::Ok();
  }
  return writer_->Health();
}

void Store::Close() {
  if (closed_.exchange(true)) return;
  // Open() may fail half-way: close only what exists. The checks first: a
  // scrub batch runs on the writer and reads through its own connection.
  if (checks_) checks_->Stop();
  if (readers_) readers_->Close();
  if (!writer_) return;
  writer_->Stop();
  LogInfo("store closed", {{"database", db_path_}, {"position", writer_->position().ToString()}});
}

}  // namespace walship
