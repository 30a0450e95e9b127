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
  store->writer_ = std::make_unique<Writer>(std::move(db).value(), config, clock, metrics, *pos);
  store->writer_->SetCheckpointHook(store->capture_.get());
  store->writer_->Start();
  LogInfo("store open", {{"database", store->db_path_}, {"position", pos->ToString()}});
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
  if (closed_) return Status::Unavailable("the store is closed").WithReason("shutting_down");
  return writer_->Submit(std::move(request));
}

WriteOutcome Store::Write(std::vector<WriteOp> ops) {
  auto done = std::make_shared<std::promise<WriteOutcome>>();
  auto outcome = done->get_future();
  Status s = Submit(WriteRequest{std::move(ops), [done](WriteOutcome o) { done->set_value(std::move(o)); }});
  if (!s.ok()) return WriteOutcome{s, {}, {}};
  return outcome.get();
}

Result<Record> Store::Get(const std::string& key) {
  if (refused()) return refusal_;
  auto lease = readers_->Acquire();
  if (!lease) return Status::Unavailable("the store is closed").WithReason("shutting_down");
  return GetArchive(lease->db(), key);
}

Result<ListPage> Store::List(const std::string& prefix, const std::optional<std::string>& after_key,
                             int64_t limit) {
  if (refused()) return refusal_;
  auto lease = readers_->Acquire();
  if (!lease) return Status::Unavailable("the store is closed").WithReason("shutting_down");
  return ListArchives(lease->db(), prefix, after_key, limit);
}

Result<std::vector<SearchHit>> Store::Search(const std::string& query, int64_t limit) {
  if (refused()) return refusal_;
  auto lease = readers_->Acquire();
  if (!lease) return Status::Unavailable("the store is closed").WithReason("shutting_down");
  return SearchArchives(lease->db(), query, limit);
}

Status Store::Ready() const {
  if (refused()) return refusal_;
  if (closed_) return Status::Unavailable("the store is closed").WithReason("shutting_down");
  return writer_->Health();
}

void Store::Close() {
  if (closed_.exchange(true)) return;
  // Open() may fail half-way: close only what exists.
  if (readers_) readers_->Close();
  if (!writer_) return;
  writer_->Stop();
  LogInfo("store closed", {{"database", db_path_}, {"position", writer_->position().ToString()}});
}

}  // namespace walship
