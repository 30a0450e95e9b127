#include "node/quick_check.h"

#include "node/sqlite_db.h"

namespace walship {

Status CorruptionQuickCheck(const std::string& db_path, const char* vfs) {
  const std::string context = "quick_check of " + db_path;
  auto db = SqliteDb::Open(db_path, SQLITE_OPEN_READONLY, vfs);
  if (!db.ok()) return db.status().Wrap(context);
  sqlite3_busy_timeout((*db)->raw(), 1000);
  // At most 100 problems: enough to say what is wrong, bounded in size.
  auto st = (*db)->Prepare("PRAGMA quick_check(100)");
  if (!st.ok()) return st.status().Wrap(context);
  std::string problems;
  for (;;) {
    auto row = (*st)->Step();
    if (!row.ok()) return row.status().Wrap(context);
    if (!*row) break;
    const std::string line = (*st)->ColumnText(0);
    if (line == "ok") continue;
    if (!problems.empty()) problems += "; ";
    problems += line;
  }
  if (!problems.empty()) return Status::Corruption(context + ": " + problems);
  return Status::Ok();
}

}  // namespace walship
