// The online restore (POST /v1/admin/restore): what is asked, and what
// /v1/status shows while it runs and after it ends. The work itself is
// Store::StartRestore (node/store_restore.cpp) around RestoreDatabase
// (backup/restore_database.h), the same restore `walship restore` runs.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "backup/restore_plan.h"
#include "base/status.h"

namespace walship {

struct OnlineRestoreRequest {
  RestoreTarget target;
  // Fills missing or damaged segments from another node (--fetch-from);
  // empty: none. Called on the restore's thread only.
  std::function<Result<std::string>(uint64_t sequence)> fetch;
  std::string fetch_source;  // its URL, for messages
  int step_delay_ms = 0;     // tests only: see RestoreRequest
};

// A snapshot of the online restore; copied out under the store's lock.
struct OnlineRestoreProgress {
  std::string id;     // "restore-<UTC time>"
  std::string state;  // "running", "restored" or "failed"
  std::string target;  // as RestoreTarget::ToString() says it
  int64_t started_unix_ms = 0;
  int64_t finished_unix_ms = 0;  // 0 while running
  std::string step;              // the last step it reported
  // restored:
  std::string position;          // the restored database's position, TIMELINE/TXID
  bool new_timeline = false;     // the node continues on a new timeline
  uint64_t segments_applied = 0;
  uint64_t segments_fetched = 0;
  uint64_t wal_commits = 0;      // transactions taken from the node's own -wal
  std::string quarantine_dir;    // where the previous database files went ("" when there were none)
  std::string not_restored;      // what could not be restored, and why ("" when nothing was lost)
  // failed: the error. When the database was not replaced the node serves
  // the state it had before; the message says which.
  std::string error;
};

}  // namespace walship
