// The index schema and its migrations. The `schema_version` table records the
// version applied; each migration runs in one transaction with the version bump.
#pragma once

#include "base/status.h"
#include "node/sqlite_db.h"

namespace walship {

inline constexpr int kSchemaVersion = 3;

// Brings `db` (the write connection) to kSchemaVersion. A database from a
// newer walship (higher version) is refused, untouched.
Status MigrateSchema(SqliteDb& db);

}  // namespace walship
