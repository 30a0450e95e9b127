#include "node/schema.h"

#include <string>
#include <vector>

namespace walship {
namespace {

// Migration N brings the schema from version N-1 to N. Never edit one that
// has shipped: add the next.
const std::vector<std::string>& Migrations() {
  static const std::vector<std::string> kMigrations = {
      // 1: archives, their full-text index kept in step by triggers, and the position.
      R"sql(
CREATE TABLE archives (
  id         INTEGER PRIMARY KEY,
  key        TEXT    NOT NULL UNIQUE,
  content    TEXT    NOT NULL,
  metadata   TEXT    NOT NULL DEFAULT '{}',
  version    INTEGER NOT NULL CHECK (version >= 1),
  sha256     TEXT    NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE VIRTUAL TABLE archives_fts USING fts5(
  key, content, content='archives', content_rowid='id', tokenize='unicode61'
);
CREATE TRIGGER archives_fts_insert AFTER INSERT ON archives BEGIN
  INSERT INTO archives_fts(rowid, key, content) VALUES (new.id, new.key, new.content);
END;
CREATE TRIGGER archives_fts_delete AFTER DELETE ON archives BEGIN
  INSERT INTO archives_fts(archives_fts, rowid, key, content) VALUES ('delete', old.id, old.key, old.content);
END;
CREATE TRIGGER archives_fts_update AFTER UPDATE ON archives BEGIN
  INSERT INTO archives_fts(archives_fts, rowid, key, content) VALUES ('delete', old.id, old.key, old.content);
  INSERT INTO archives_fts(rowid, key, content) VALUES (new.id, new.key, new.content);
END;
CREATE TABLE position (
  id       INTEGER PRIMARY KEY CHECK (id = 1),
  timeline INTEGER NOT NULL CHECK (timeline >= 1),
  txid     INTEGER NOT NULL CHECK (txid >= 0)
);
INSERT INTO position (id, timeline, txid) VALUES (1, 1, 0);
)sql",
      // 2: the writer keeps archives_fts in step once per group commit
      // (node/fts_sync.cpp). Per-row triggers made FTS5 flush a new index
      // segment at every request's savepoint: most of a write's CPU.
      R"sql(
DROP TRIGGER archives_fts_insert;
DROP TRIGGER archives_fts_delete;
DROP TRIGGER archives_fts_update;
)sql",
      // 3: the cluster's identity, written once when the database is made;
      // every segment carries it (a standby's copy keeps the primary's).
      R"sql(
CREATE TABLE cluster_identity (
  id         INTEGER PRIMARY KEY CHECK (id = 1),
  cluster_id TEXT    NOT NULL CHECK (length(cluster_id) = 32)
);
INSERT INTO cluster_identity (id, cluster_id) VALUES (1, lower(hex(randomblob(16))));
)sql",
  };
  return kMigrations;
}

Status ApplyPendingMigrations(SqliteDb& db) {
  WALSHIP_RETURN_IF_ERROR(
      db.Exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)").Wrap("migrate schema"));
  auto current = db.QueryInt("SELECT coalesce(max(version), 0) FROM schema_version");
  if (!current.ok()) return current.status().Wrap("migrate schema: read version");
  const auto& migrations = Migrations();
  if (*current > static_cast<int64_t>(migrations.size())) {
    return Status::Unsupported("migrate schema: database is at schema version " + std::to_string(*current) +
                               ", newer than this walship knows (" + std::to_string(migrations.size()) + ")");
  }
  for (size_t v = static_cast<size_t>(*current); v < migrations.size(); ++v) {
    std::string context = "migrate schema to version " + std::to_string(v + 1);
    WALSHIP_RETURN_IF_ERROR(db.Exec(migrations[v]).Wrap(context));
    WALSHIP_RETURN_IF_ERROR(
        db.Exec("DELETE FROM schema_version; INSERT INTO schema_version VALUES (" + std::to_string(v + 1) + ")")
            .Wrap(context));
  }
  return Status::Ok();
}

}  // namespace

Status MigrateSchema(SqliteDb& db) {
  // One transaction for every step: a database is never left half-migrated,
  // and a new one is made by exactly one commit (txid 0 of its segment chain).
  WALSHIP_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE").Wrap("migrate schema"));
  Status s = ApplyPendingMigrations(db);
  if (s.ok()) s = db.Exec("COMMIT").Wrap("migrate schema");
  if (!s.ok()) db.Exec("ROLLBACK").IgnoreError();  // the original error is the one to report
  return s;
}

}  // namespace walship
