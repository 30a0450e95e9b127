// Taking one online backup (blocking: run it on a worker thread).
//
// 1. Pin: the source gives a read-only connection with a read transaction
//    open at an exact position (the primary's writer marks the point between
//    two groups; a standby holds its apply gate), plus what it knows there:
//    the database checksum and page 1.
// 2. Copy with SQLite's backup API, some pages per step. The read
//    transaction stays open for the whole copy, so writes going on never
//    restart it: the copy is the pinned snapshot however long it takes.
// 3. The backup API rewrites page 1's change counter, schema cookie and
//    version fields in its copy; they are set back from the source's page 1
//    (and any other difference is an error), so the copy is byte for byte
//    the database at the position and its checksum must equal the source's.
// 4. Compress (streaming zstd, SHA-256 of both sides), write the manifest,
//    fsync; verify the folder as `walship verify` would; only then publish
//    it (rename tmp-<id> to <id>, fsync the folder).
// Any failure sets the folder aside in failed/ with its error; a backup
// cancelled by a shutdown (progress.cancel) is removed instead: nothing was
// wrong, and nothing of it is worth keeping.
#pragma once

#include <sqlite3.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "backup/backup_store.h"
#include "backup/manifest.h"
#include "base/clock.h"
#include "base/status.h"

namespace walship {

// A read transaction pinned at a position; released when destroyed.
class PinnedSnapshot {
 public:
  virtual ~PinnedSnapshot() = default;
  // Read-only, with the read transaction open. Owned by the snapshot.
  virtual sqlite3* connection() = 0;

  std::string source;  // "primary" or "standby"
  std::string cluster_id;  // 32 hex digits, read inside the read transaction
  int64_t timeline = 0;
  int64_t txid = 0;
  uint64_t segment_sequence = 0;            // the segment ending at txid; 0: none
  std::optional<uint64_t> db_checksum;      // the node's own checksum at txid, when it keeps one
  std::optional<std::string> page_one;      // page 1 at txid, byte for byte, when known
};
// `scratch_dir` is the backup's own folder, for a source that pins by
// copying (a standby copies its replica there, briefly inside the apply gate).
using PinSnapshot = std::function<Result<std::unique_ptr<PinnedSnapshot>>(const std::string& scratch_dir)>;
inline constexpr const char* kBackupSnapshotScratchFile = "snapshot.db";

enum class BackupPhase { kPinning, kCopying, kCompressing, kVerifying, kDone };
std::string_view BackupPhaseName(BackupPhase phase);

// Written by the taker, read by anyone (status, progress bars).
struct BackupProgress {
  std::atomic<BackupPhase> phase{BackupPhase::kPinning};
  std::atomic<uint64_t> pages_copied{0};
  std::atomic<uint64_t> page_count{0};
  std::atomic<uint32_t> page_size{0};
  std::atomic<uint64_t> bytes_done{0};   // compressing / verifying: uncompressed bytes
  std::atomic<bool> cancel{false};       // set to stop between steps (shutdown)
};

struct TakeBackupOptions {
  uint64_t node_id = 0;
  int zstd_level = 3;
  int pages_per_step = 1024;
  std::string tool_version;
  // Test hook (the kill -9 tests): sleep this long after each copy step, so
  // a backup is surely still copying when the test kills the node.
  int step_delay_ms = 0;
};

// Takes backup `id` into `store`. On success the backup is published and
// verified; on failure it is set aside (failed/<id>) and the error says why.
Result<BackupManifest> TakeBackup(const BackupStore& store, const std::string& id, const PinSnapshot& pin,
                                  const TakeBackupOptions& options, Clock& clock, BackupProgress& progress);

}  // namespace walship
