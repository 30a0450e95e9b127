// "walship": a SQLite VFS that wraps the platform's default VFS. It is the
// seam between SQLite and the disk: it times every sync (the fsync latency
// metric) and lets tests inject the failures a disk can produce (a failed
// write, ENOSPC, a failed fsync) without touching production code paths.
#pragma once

#include <atomic>

#include "base/metrics.h"
#include "base/status.h"

namespace walship {

inline constexpr const char* kMeteredVfsName = "walship";

// Faults armed by tests. A countdown of N makes the (N+1)-th matching call
// fail; -1 disarms it. Thread-safe.
struct VfsFaults {
  std::atomic<int> sync_countdown{-1};   // xSync returns SQLITE_IOERR_FSYNC
  std::atomic<int> main_db_sync_countdown{-1};  // the same, counting syncs of main database files only
  std::atomic<int> write_countdown{-1};  // xWrite returns write_error
  std::atomic<int> write_error{0};       // SQLITE_IOERR_WRITE or SQLITE_FULL (ENOSPC)
  std::atomic<int> syncs_failed{0};
  std::atomic<int> writes_failed{0};
  std::atomic<int> main_db_syncs{0};     // syncs of main database files that succeeded
  void Disarm() {
    sync_countdown = -1;
    main_db_sync_countdown = -1;
    write_countdown = -1;
  }
};

// Registers the VFS once per process (idempotent). `fsync_seconds` receives
// the duration of each sync; it must outlive every connection.
Status RegisterMeteredVfs(Histogram* fsync_seconds);

// The process-wide fault switches (disarmed by default).
VfsFaults& MeteredVfsFaults();

}  // namespace walship
