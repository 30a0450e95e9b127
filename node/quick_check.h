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

#include <string>

#include "base/status.h"

namespace walship {

// Ok when SQLite says "ok". kCorruption when it reports problems ("quick_check
// of PATH: <its lines, joined by "; ">") or a read fails with SQLITE_CORRUPT
// or SQLITE_NOTADB; other failures with their own codes (kIOError,
// kUnavailable).
Status CorruptionQuickCheck(const std::string& db_path, const char* vfs);

}  // namespace walship
