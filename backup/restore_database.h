// A whole restore of a node's database, offline: plan (restore_plan.h),
// build and verify in a scratch file (restore_run.h), PRAGMA
// integrity_check, a new timeline when the restored history leaves the
// store's, then the atomic swap with the damaged files quarantined
// (restore_swap.h).
//
// A loss (a segment missing or damaged, and no other node's copy) is not an
// error: the database is restored to the last verified transaction and the
// report's `build->loss` says what is missing. Errors leave the data folder
// as it was (apart from finishing an interrupted swap first).
//
// Contract: the caller holds the data folder's lock (no node runs on it).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "backup/restore_plan.h"
#include "backup/restore_run.h"
#include "backup/restore_swap.h"
#include "base/clock.h"
#include "base/status.h"

namespace walship {

struct RestoreRequest {
  std::string data_dir;
  std::string segments_dir;  // usually DATA/segments
  std::string backups_dir;   // usually DATA/backups; a missing folder means no backups
  RestoreTarget target;
  bool dry_run = false;
  std::function<Result<std::string>(uint64_t sequence)> fetch;  // --fetch-from
  std::string fetch_source;
  std::function<void(const std::string&)> progress;
  const Clock* clock = &SystemClock::Instance();
  // A restore to the latest position also applies the committed
  // transactions DATA/index.db-wal holds after the last segment.
  int step_delay_ms = 0;  // tests only: see RestoreBuildOptions, SwapInRestoredDatabase
  // When set and true (the node is shutting down), the restore stops before
  // its next segment, and before the swap, changing nothing.
  const std::atomic<bool>* cancel = nullptr;
};

struct RestoreReport {
  RestorePlan plan;
  std::optional<RestoreSwapResult> finished_earlier;  // an interrupted swap this run completed
  std::optional<RestoreBuild> build;                   // absent for a dry run
  uint64_t timeline = 0;      // the restored database's timeline (a new one, or the plan's)
  bool new_timeline = false;
  uint64_t db_checksum = 0;   // of the file swapped in
  std::string database_path;
  std::optional<RestoreSwapResult> swap;
};

Result<RestoreReport> RestoreDatabase(const RestoreRequest& request);

}  // namespace walship
