#include "node/fts_sync.h"

namespace walship {

Status PrepareFtsStaging(SqliteDb& db) {
  return db
      .Exec("PRAGMA temp_store=MEMORY;"
            "CREATE TEMP TABLE IF NOT EXISTS fts_old (id INTEGER PRIMARY KEY, key TEXT NOT NULL, content TEXT NOT NULL);"
            "CREATE TEMP TABLE IF NOT EXISTS fts_touched (id INTEGER PRIMARY KEY);")
      .Wrap("prepare full-text staging");
}

Status NoteFtsRowChanging(SqliteDb& db, int64_t id) {
  // A row inserted earlier in this group is not in the index yet: its
  // (newer) values must not be deleted from it, hence the NOT EXISTS.
  auto old = db.Prepare(
      "INSERT OR IGNORE INTO temp.fts_old (id, key, content) SELECT id, key, content FROM archives "
      "WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM temp.fts_touched WHERE id = ?1)");
  if (!old.ok()) return old.status();
  (*old)->BindInt(1, id);
  WALSHIP_RETURN_IF_ERROR((*old)->Run().Wrap("stage full-text change"));
  return NoteFtsRowInserted(db, id);
}

Status NoteFtsRowInserted(SqliteDb& db, int64_t id) {
  auto touched = db.Prepare("INSERT OR IGNORE INTO temp.fts_touched (id) VALUES (?1)");
  if (!touched.ok()) return touched.status();
  (*touched)->BindInt(1, id);
  return (*touched)->Run().Wrap("stage full-text change");
}

Status FlushFtsChanges(SqliteDb& db) {
  const char* kSteps[] = {
      "INSERT INTO archives_fts (archives_fts, rowid, key, content) "
      "SELECT 'delete', id, key, content FROM temp.fts_old",
      "INSERT INTO archives_fts (rowid, key, content) "
      "SELECT a.id, a.key, a.content FROM temp.fts_touched t JOIN archives a ON a.id = t.id",
      "DELETE FROM temp.fts_old",
      "DELETE FROM temp.fts_touched",
  };
  for (const char* sql : kSteps) {
    auto st = db.Prepare(sql);
    if (!st.ok()) return st.status().Wrap("update the full-text index");
    WALSHIP_RETURN_IF_ERROR((*st)->Run().Wrap("update the full-text index"));
  }
  return Status::Ok();
}

}  // namespace walship
