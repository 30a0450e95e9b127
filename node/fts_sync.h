// Keeping the full-text index (archives_fts, an external-content FTS5 table)
// in step with archives, once per group commit instead of once per row.
//
// FTS5 flushes its pending terms into a new index segment whenever a
// savepoint on it is released, and every request runs in a savepoint: with
// per-row triggers, each request paid for a segment write and later merges.
// Instead, while a group runs, each touched row is noted in two TEMP tables
// (rolled back with the request's savepoint if the request fails), and just
// before COMMIT one statement removes the rows' old terms and one adds their
// new ones. Writer thread only, inside the group's transaction.
#pragma once

#include "base/status.h"
#include "node/sqlite_db.h"

namespace walship {

// Creates the TEMP staging tables on the write connection (once, at open).
Status PrepareFtsStaging(SqliteDb& db);

// Before a row that existed changes or goes: keeps its indexed values as
// they were when the group began (the first touch in a group wins).
Status NoteFtsRowChanging(SqliteDb& db, int64_t id);
// After a row is inserted: its terms are added at the end of the group.
Status NoteFtsRowInserted(SqliteDb& db, int64_t id);

// Applies the group's staged changes to archives_fts and empties the staging.
Status FlushFtsChanges(SqliteDb& db);

}  // namespace walship
