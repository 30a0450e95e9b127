// PRAGMA quick_check of the live database, on a read-only connection of its
// own (never the writer's; a read-only connection never checkpoints nor
// deletes the WAL). It reads every page of the database as the newest
// snapshot sees it (file and WAL) and checks the b-trees' structure, in
// O(N): the cheap cousin of integrity_check (no index-content cross-check).
//
// Thread contract: blocking; call it on a worker thread (node/
// scrub_scheduler.h). It holds a read transaction while it runs, so a
// checkpoint meanwhile is incomplete and the WAL waits for the next one.
#pragma once

#include <sqlite3.h>

#include <mutex>
#include <string>

#include "base/status.h"

namespace walship {

// Lets another thread stop a quick_check that runs (a node shutting down
// must not wait for a whole database to be read).
class QuickCheckCancel {
 public:
  // Any thread: the quick_check running now, or the next one, stops early.
  void Cancel();
  bool cancelled() const;

 private:
  friend Status CorruptionQuickCheck(const std::string&, const char*, QuickCheckCancel*);
  void Attach(sqlite3* db);
  void Detach();

  mutable std::mutex mu_;  // guards db_ and cancelled_ (sqlite3_interrupt only on an open connection)
  sqlite3* db_ = nullptr;
  bool cancelled_ = false;
};

// Ok when SQLite says "ok". kCorruption when it reports problems ("quick_check
// of PATH: <its lines, joined by "; ">") or a read fails with SQLITE_CORRUPT
// or SQLITE_NOTADB; other failures with their own codes (kIOError,
// kUnavailable). Cancelled: kUnavailable, reason "shutting_down".
Status CorruptionQuickCheck(const std::string& db_path, const char* vfs, QuickCheckCancel* cancel = nullptr);

}  // namespace walship
