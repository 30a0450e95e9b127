#include "backup/restore_database.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>

#include "backup/verify_backup.h"
#include "base/fs.h"
#include "replication/db_checksum.h"

namespace walship {
namespace {

bool IsDirectory(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_directory(path, ec);
}

// The restored history leaves the store's: record the new timeline in the
// database's position row, so that the node's next segments (a new chain on
// a new base) never reuse a position the store already gave to other data.
Status SetTimeline(const std::string& path, uint64_t timeline) {
  const std::string context = "set timeline " + std::to_string(timeline) + " in " + path;
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr);
  std::string error;
  if (rc == SQLITE_OK) {
    const std::string sql = "PRAGMA synchronous=FULL; UPDATE position SET timeline = " + std::to_string(timeline) +
                            " WHERE id = 1;";
    char* message = nullptr;
    rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
    if (rc != SQLITE_OK) error = message != nullptr ? message : sqlite3_errstr(rc);
    sqlite3_free(message);
    if (rc == SQLITE_OK && sqlite3_changes(db) != 1) {
      rc = SQLITE_ERROR;
      error = "the database has no position row";
    }
  } else {
    error = sqlite3_errmsg(db);
  }
  // The last connection to close checkpoints and removes the WAL.
  if (int close_rc = sqlite3_close(db); close_rc != SQLITE_OK && rc == SQLITE_OK) {
    rc = close_rc;
    error = sqlite3_errstr(close_rc);
  }
  if (rc != SQLITE_OK) return Status::IOError(context + ": " + error);
  if (::access((path + "-wal").c_str(), F_OK) == 0) {
    return Status::IOError(context + ": SQLite left a WAL next to the file after closing it");
  }
  ScopedFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0 || ::fsync(fd.get()) != 0) return Status::IOError(context + ": fsync: " + ErrnoMessage(errno));
  return Status::Ok();
}

// The txid in a closed database file's position row.
Result<int64_t> ReadTxid(const std::string& path) {
  sqlite3* db = nullptr;
  const std::string uri = "file:" + path + "?immutable=1";
  int rc = sqlite3_open_v2(uri.c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, nullptr);
  sqlite3_stmt* st = nullptr;
  int64_t txid = -1;
  if (rc == SQLITE_OK) rc = sqlite3_prepare_v2(db, "SELECT txid FROM position WHERE id = 1", -1, &st, nullptr);
  if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) txid = sqlite3_column_int64(st, 0);
  const std::string error = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
  sqlite3_finalize(st);
  sqlite3_close(db);
  if (txid < 0) return Status::Corruption("read the position of " + path + ": " + error);
  return txid;
}

}  // namespace

Result<RestoreReport> RestoreDatabase(const RestoreRequest& request) {
  const std::string context = "restore " + request.data_dir + " to " + request.target.ToString();
  RestoreReport report;
  report.database_path = request.data_dir + "/index.db";
  auto say = [&request](const std::string& line) {
    if (request.progress) request.progress(line);
  };
  if (!IsDirectory(request.data_dir)) return Status::NotFound(context + ": no data folder " + request.data_dir);
  if (!request.dry_run) {
    auto finished = FinishInterruptedRestoreSwap(request.data_dir);
    if (!finished.ok()) return finished.status().Wrap(context);
    report.finished_earlier = *finished;
  }
  if (!IsDirectory(request.segments_dir)) {
    return Status::NotFound(context + ": no segment store at " + request.segments_dir);
  }
  auto segments = SegmentStore::Open(request.segments_dir);
  if (!segments.ok()) return segments.status().Wrap(context);
  std::optional<BackupStore> backups;
  if (IsDirectory(request.backups_dir)) {
    auto opened = BackupStore::OpenExisting(request.backups_dir);
    if (!opened.ok()) return opened.status().Wrap(context);
    backups.emplace(std::move(opened).value());
  }
  auto plan = PlanRestore(**segments, backups ? &*backups : nullptr, request.target);
  if (!plan.ok()) return plan.status().Wrap(context);
  report.plan = std::move(plan).value();
  report.timeline = report.plan.target_timeline;
  if (request.dry_run) return report;

  const std::string base_id = CompactUtcSeconds(request.clock->NowUnixMillis());
  std::string id = base_id;
  for (int n = 2; IsDirectory(request.data_dir + "/quarantine/restore-" + id); ++n) {
    id = base_id + "-" + std::to_string(n);
  }
  const std::string scratch_dir = request.data_dir + "/" + kRestoreScratchDir + "/" + id;
  const std::string out_path = scratch_dir + "/index.db";
  WALSHIP_RETURN_IF_ERROR(EnsureDirectory(scratch_dir).Wrap(context));
  // Our own partial copy, removed on any failure below (nothing else is in it).
  auto fail = [&](const Status& s) {
    std::error_code ec;
    std::filesystem::remove_all(scratch_dir, ec);
    std::filesystem::remove(request.data_dir + "/" + kRestoreScratchDir, ec);
    return s.Wrap(context);
  };
  RestoreBuildOptions options;
  options.fetch = request.fetch;
  options.fetch_source = request.fetch_source;
  options.repair_store = true;
  options.progress = request.progress;
  options.clock = request.clock;
  options.step_delay_ms = request.step_delay_ms;
  options.cancel = request.cancel;
  if (request.target.kind == RestoreTarget::Kind::kLatest) {
    options.wal_path = report.database_path + "-wal";
    options.fetch_beyond_store_end = true;
  }
  auto build = BuildRestoredDatabase(report.plan, **segments, out_path, options);
  if (!build.ok()) return fail(build.status());
  report.build = *build;
  report.timeline = build->timeline;
  report.db_checksum = build->db_checksum;

  say("checking the restored database (PRAGMA integrity_check)");
  if (Status s = IntegrityCheckClosedFile(out_path); !s.ok()) return fail(s.Wrap("restored database"));
  if (build->wal_commits != 0) {
    // Transactions from the WAL: the position row says where they end.
    auto txid = ReadTxid(out_path);
    if (!txid.ok()) return fail(txid.status());
    report.build->txid = *txid;
    report.build->commit_unix_ms = 0;
  }
  if (!report.plan.target_is_store_end || build->loss || build->wal_commits_lost != 0) {
    report.timeline = std::max(report.plan.newest_timeline, build->timeline) + 1;
    report.new_timeline = true;
    say("the restored history leaves the store's: the node continues on timeline " + std::to_string(report.timeline));
    if (Status s = SetTimeline(out_path, report.timeline); !s.ok()) return fail(s);
    auto sum = DbChecksum::ComputeFromFile(out_path, report.plan.start.page_size);
    if (!sum.ok()) return fail(sum.status());
    report.db_checksum = sum->Value();
    if (Status s = IntegrityCheckClosedFile(out_path); !s.ok()) return fail(s.Wrap("after setting the timeline"));
  }
  WALSHIP_RETURN_IF_ERROR(FsyncDirectory(scratch_dir).Wrap(context));
  if (request.cancel != nullptr && request.cancel->load()) {
    return fail(
        Status::Unavailable("cancelled before the swap: the node is shutting down").WithReason("shutting_down"));
  }
  say("swapping the restored database in");
  auto swapped = SwapInRestoredDatabase(request.data_dir, out_path, id, request.step_delay_ms);
  if (!swapped.ok()) return swapped.status().Wrap(context);
  report.swap = *swapped;
  return report;
}

}  // namespace walship
