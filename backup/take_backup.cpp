#include "backup/take_backup.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include "backup/backup_format.h"
#include "backup/compressed_file.h"
#include "backup/verify_backup.h"
#include "base/fs.h"
#include "base/log.h"
#include "replication/db_checksum.h"

namespace walship {

std::string_view BackupPhaseName(BackupPhase phase) {
  switch (phase) {
    case BackupPhase::kPinning: return "pinning";
    case BackupPhase::kCopying: return "copying";
    case BackupPhase::kCompressing: return "compressing";
    case BackupPhase::kVerifying: return "verifying";
    case BackupPhase::kDone: return "done";
  }
  return "unknown";
}

namespace {

Status SqliteError(sqlite3* db, int rc, const std::string& what) {
  return Status::IOError(what + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
}

// The backup API copy of `source` into the new file `path`.
Status CopyWithBackupApi(sqlite3* source, const std::string& path, const TakeBackupOptions& options,
                         BackupProgress& progress) {
  sqlite3* dest = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &dest, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  if (rc != SQLITE_OK) {
    Status s = SqliteError(dest, rc, "open the copy " + path);
    sqlite3_close(dest);
    return s;
  }
  // A scratch file: no journal, no syncs (the compressed file is fsynced).
  sqlite3_exec(dest, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF", nullptr, nullptr, nullptr);
  sqlite3_backup* backup = sqlite3_backup_init(dest, "main", source, "main");
  if (backup == nullptr) {
    Status s = SqliteError(dest, SQLITE_ERROR, "start the backup API");
    sqlite3_close(dest);
    return s;
  }
  Status s;
  for (;;) {
    if (progress.cancel.load()) {
      s = Status::Unavailable("cancelled: the node is shutting down").WithReason("shutting_down");
      break;
    }
    rc = sqlite3_backup_step(backup, options.pages_per_step);
    const int total = sqlite3_backup_pagecount(backup);
    progress.page_count.store(static_cast<uint64_t>(total));
    progress.pages_copied.store(static_cast<uint64_t>(total - sqlite3_backup_remaining(backup)));
    if (rc == SQLITE_DONE) break;
    if (rc == SQLITE_OK && options.step_delay_ms > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(options.step_delay_ms));
    }
    if (rc != SQLITE_OK) {
      // BUSY/LOCKED cannot happen with the read transaction held; anything
      // else is an I/O or corruption error in the source or the copy.
      s = SqliteError(dest, rc, "backup step");
      break;
    }
  }
  rc = sqlite3_backup_finish(backup);
  if (s.ok() && rc != SQLITE_OK) s = SqliteError(dest, rc, "finish the backup API");
  if (sqlite3_close(dest) != SQLITE_OK && s.ok()) s = Status::Internal("close the copy " + path);
  return s;
}

// Page 1 of the copy differs from the source's only in what the backup API
// rewrites: the file change counter (24), the schema cookie (40), the
// version-valid-for number (92) and the SQLite version (96). Sets them back.
Status RestorePageOne(const std::string& path, const std::string& source_page_one) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return Status::IOError("open " + path + ": " + ErrnoMessage(errno));
  std::string copy(source_page_one.size(), '\0');
  Status s;
  const ssize_t got = ::pread(fd, copy.data(), copy.size(), 0);
  if (got != static_cast<ssize_t>(copy.size())) {
    s = Status::IOError("read page 1 of " + path + ": " + (got < 0 ? ErrnoMessage(errno) : "short read"));
  }
  auto rewritten = [](size_t at) { return (at >= 24 && at < 28) || (at >= 40 && at < 44) || (at >= 92 && at < 100); };
  for (size_t i = 0; s.ok() && i < copy.size(); ++i) {
    if (copy[i] != source_page_one[i] && !rewritten(i)) {
      s = Status::Internal("page 1 of the copy differs from the source's at byte " + std::to_string(i) +
                           ", beyond the counters the backup API rewrites");
    }
  }
  if (s.ok()) s = WriteAllAt(fd, source_page_one, 0).Wrap("write page 1 of " + path);
  ::close(fd);
  return s;
}

Result<BackupManifest> Take(const BackupStore& store, const std::string& id, const PinSnapshot& pin,
                            const TakeBackupOptions& options, Clock& clock, BackupProgress& progress,
                            const std::string& dir) {
  BackupManifest m;
  m.format_version = kBackupFormatVersion;
  m.id = id;
  m.node_id = options.node_id;
  m.zstd_level = options.zstd_level;
  m.tool_version = options.tool_version;
  m.data_file = kBackupDataFile;
  m.started_unix_ms = clock.NowUnixMillis();

  const std::string copy = dir + "/data.db";
  {
    progress.phase = BackupPhase::kPinning;
    auto snapshot = pin(dir);
    if (!snapshot.ok()) return snapshot.status().Wrap("pin a snapshot");
    m.source = (*snapshot)->source;
    m.cluster_id = (*snapshot)->cluster_id;
    m.timeline = (*snapshot)->timeline;
    m.txid = (*snapshot)->txid;
    m.segment_sequence = (*snapshot)->segment_sequence;
    progress.phase = BackupPhase::kCopying;
    {
      sqlite3_stmt* st = nullptr;
      if (sqlite3_prepare_v2((*snapshot)->connection(), "PRAGMA page_size", -1, &st, nullptr) == SQLITE_OK &&
          sqlite3_step(st) == SQLITE_ROW) {
        progress.page_size = static_cast<uint32_t>(sqlite3_column_int(st, 0));  // for the rate shown while copying
      }
      sqlite3_finalize(st);
    }
    WALSHIP_RETURN_IF_ERROR(
        CopyWithBackupApi((*snapshot)->connection(), copy, options, progress).Wrap("copy"));
    if ((*snapshot)->page_one) {
      WALSHIP_RETURN_IF_ERROR(RestorePageOne(copy, *(*snapshot)->page_one).Wrap("copy"));
    }
    // The read transaction ends here: writes no longer keep the WAL for us.
    auto header_page = ReadPageOneFromFile(copy);
    if (!header_page.ok()) return header_page.status().Wrap("read the copy's header");
    const auto page_size = static_cast<uint32_t>(header_page->size());
    progress.page_size = page_size;
    m.page_size = page_size;
    auto sum = DbChecksum::ComputeFromFile(copy, page_size);
    if (!sum.ok()) return sum.status().Wrap("checksum the copy");
    m.db_checksum = sum->Value();
    m.page_count = sum->page_count();
    if ((*snapshot)->db_checksum && (*snapshot)->page_one) {
      if (*(*snapshot)->db_checksum != m.db_checksum) {
        return Status::Corruption("the copy's database checksum " + DbChecksumHex(m.db_checksum) +
                                  " is not the node's " + DbChecksumHex(*(*snapshot)->db_checksum) + " at " +
                                  std::to_string(m.timeline) + "/" + std::to_string(m.txid))
            .WithReason("db_checksum_mismatch");
      }
      m.chain_checksum = true;
    }
  }

  progress.phase = BackupPhase::kCompressing;
  progress.bytes_done = 0;
  auto sums = CompressFile(copy, dir + "/" + kBackupDataFile, options.zstd_level,
                           [&](uint64_t done) { progress.bytes_done = done; });
  if (!sums.ok()) return sums.status().Wrap("compress");
  ::unlink(copy.c_str());  // the scratch copy; the compressed file is the backup
  m.bytes_uncompressed = sums->bytes_uncompressed;
  m.bytes_compressed = sums->bytes_compressed;
  m.sha256_uncompressed = sums->sha256_uncompressed;
  m.sha256_compressed = sums->sha256_compressed;
  m.finished_unix_ms = clock.NowUnixMillis();
  WALSHIP_RETURN_IF_ERROR(WriteFileAtomically(dir + "/" + kBackupManifestFile, EncodeManifest(m)).Wrap("manifest"));

  progress.phase = BackupPhase::kVerifying;
  progress.bytes_done = 0;
  VerifyBackupOptions verify;
  verify.expected_cluster = m.cluster_id;
  verify.expected_id = id;
  verify.scratch_path = dir + "/verify.db";
  verify.progress = [&](uint64_t done) { progress.bytes_done = done; };
  auto verified = VerifyBackup(dir, verify);
  if (!verified.ok()) return verified.status().Wrap("verify");
  WALSHIP_RETURN_IF_ERROR(FsyncDirectory(dir).Wrap("sync the backup folder"));
  WALSHIP_RETURN_IF_ERROR(store.Publish(id));
  progress.phase = BackupPhase::kDone;
  return m;
}

}  // namespace

Result<BackupManifest> TakeBackup(const BackupStore& store, const std::string& id, const PinSnapshot& pin,
                                  const TakeBackupOptions& options, Clock& clock, BackupProgress& progress) {
  const std::string context = "backup " + id;
  auto dir = store.CreateTempDir(id);
  if (!dir.ok()) return dir.status().Wrap(context);
  auto m = Take(store, id, pin, options, clock, progress, *dir);
  if (m.ok()) return m;
  Status failed = m.status().Wrap(context);
  ::unlink((*dir + "/data.db").c_str());  // scratch copies, never the backup's own files
  ::unlink((*dir + "/verify.db").c_str());
  ::unlink((*dir + "/" + kBackupSnapshotScratchFile).c_str());
  if (failed.reason() == "shutting_down") {
    // Cancelled, not failed: nothing was wrong with the data, and a partial
    // backup of ours is worth nothing. No alert, nothing kept.
    std::error_code ec;
    std::filesystem::remove_all(*dir, ec);
    return failed;
  }
  auto where = store.SetAside(id, failed.ToString(), clock.NowUnixMillis());
  if (!where.ok()) {
    LogError("a failed backup could not be set aside", {{"id", id}, {"error", where.status().ToString()}});
  }
  return failed;
}

}  // namespace walship
