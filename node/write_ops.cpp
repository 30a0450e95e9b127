#include "node/write_ops.h"

#include "base/sha256.h"
#include "node/fts_sync.h"

namespace walship {
namespace {

struct Existing {
  bool found = false;
  int64_t id = 0;
  int64_t version = 0;
  int64_t created_at_ms = 0;
  std::string sha256;
  std::string metadata_json;
};

Result<Existing> LookUp(SqliteDb& db, const std::string& key) {
  auto st = db.Prepare("SELECT id, version, created_at, sha256, metadata FROM archives WHERE key = ?1");
  if (!st.ok()) return st.status();
  (*st)->BindText(1, key);
  auto row = (*st)->Step();
  if (!row.ok()) return row.status();
  Existing e;
  if (*row) {
    e.found = true;
    e.id = (*st)->ColumnInt(0);
    e.version = (*st)->ColumnInt(1);
    e.created_at_ms = (*st)->ColumnInt(2);
    e.sha256 = (*st)->ColumnText(3);
    e.metadata_json = (*st)->ColumnText(4);
  }
  return e;
}

Status CheckPreconditions(const WriteOp& op, const Existing& e) {
  if (op.if_none_match_any && e.found) {
    return Status::PreconditionFailed("archive " + op.key + " already exists (version " +
                                      std::to_string(e.version) + ") and If-None-Match: * was given");
  }
  if (op.if_match) {
    if (!e.found) {
      return Status::PreconditionFailed("archive " + op.key + " does not exist, but If-Match expected version " +
                                        std::to_string(*op.if_match));
    }
    if (e.version != *op.if_match) {
      return Status::PreconditionFailed("archive " + op.key + " is at version " + std::to_string(e.version) +
                                        ", If-Match expected version " + std::to_string(*op.if_match));
    }
    if (!op.if_match_tag.empty() && op.if_match_tag != EntityTag(e.version, e.sha256, e.metadata_json)) {
      return Status::PreconditionFailed("archive " + op.key + " is at version " + std::to_string(e.version) +
                                        " but not the one If-Match \"" + op.if_match_tag +
                                        "\" names (it was deleted and created again)");
    }
  }
  return Status::Ok();
}

Result<OpResult> ApplyPut(SqliteDb& db, const WriteOp& op, const Existing& e, int64_t now_ms) {
  OpResult r;
  r.kind = WriteOp::Kind::kPut;
  r.created = !e.found;
  Record& rec = r.record;
  rec.key = op.key;
  // rec.content stays empty: answers to writes never carry it, and a group
  // holds every result until its commit.
  rec.metadata_json = op.metadata_json;
  rec.sha256 = op.sha256;
  rec.updated_at_ms = now_ms;
  rec.content_bytes = static_cast<int64_t>(op.content.size());
  if (e.found) {
    rec.version = e.version + 1;
    rec.created_at_ms = e.created_at_ms;
    WALSHIP_RETURN_IF_ERROR(NoteFtsRowChanging(db, e.id));
    auto st = db.Prepare(
        "UPDATE archives SET content = ?1, metadata = ?2, version = ?3, sha256 = ?4, updated_at = ?5 "
        "WHERE id = ?6");
    if (!st.ok()) return st.status();
    (*st)->BindText(1, op.content).BindText(2, op.metadata_json).BindInt(3, rec.version)
        .BindText(4, op.sha256).BindInt(5, now_ms).BindInt(6, e.id);
    WALSHIP_RETURN_IF_ERROR((*st)->Run());
  } else {
    rec.version = 1;
    rec.created_at_ms = now_ms;
    auto st = db.Prepare(
        "INSERT INTO archives (key, content, metadata, version, sha256, created_at, updated_at) "
        "VALUES (?1, ?2, ?3, 1, ?4, ?5, ?5)");
    if (!st.ok()) return st.status();
    (*st)->BindText(1, op.key).BindText(2, op.content).BindText(3, op.metadata_json)
        .BindText(4, op.sha256).BindInt(5, now_ms);
    WALSHIP_RETURN_IF_ERROR((*st)->Run());
    WALSHIP_RETURN_IF_ERROR(NoteFtsRowInserted(db, sqlite3_last_insert_rowid(db.raw())));
  }
  return r;
}

Result<OpResult> ApplyDelete(SqliteDb& db, const WriteOp& op, const Existing& e) {
  if (!e.found) return Status::NotFound("archive " + op.key + " does not exist");
  WALSHIP_RETURN_IF_ERROR(NoteFtsRowChanging(db, e.id));
  auto st = db.Prepare("DELETE FROM archives WHERE id = ?1");
  if (!st.ok()) return st.status();
  (*st)->BindInt(1, e.id);
  WALSHIP_RETURN_IF_ERROR((*st)->Run());
  OpResult r;
  r.kind = WriteOp::Kind::kDelete;
  r.record.key = op.key;
  r.record.version = e.version;
  return r;
}

}  // namespace

std::string EntityTag(int64_t version, std::string_view content_sha256, std::string_view metadata_json) {
  std::string input;
  input.reserve(content_sha256.size() + 1 + metadata_json.size());
  input.append(content_sha256).append("\n").append(metadata_json);
  return std::to_string(version) + "-" + Sha256Hex(input).substr(0, 16);
}

Result<OpResult> ApplyWriteOp(SqliteDb& db, const WriteOp& op, int64_t now_ms) {
  auto existing = LookUp(db, op.key);
  if (!existing.ok()) return existing.status();
  WALSHIP_RETURN_IF_ERROR(CheckPreconditions(op, *existing));
  if (op.kind == WriteOp::Kind::kPut) return ApplyPut(db, op, *existing, now_ms);
  return ApplyDelete(db, op, *existing);
}

Result<int64_t> AdvanceTxid(SqliteDb& db) {
  auto st = db.Prepare("UPDATE position SET txid = txid + 1 WHERE id = 1 RETURNING txid");
  if (!st.ok()) return st.status();
  auto row = (*st)->Step();
  if (!row.ok()) return row.status();
  if (!*row) return Status::Corruption("position row is missing");
  int64_t txid = (*st)->ColumnInt(0);
  // Finish the statement: RETURNING leaves it mid-step otherwise.
  auto done = (*st)->Step();
  if (!done.ok()) return done.status();
  return txid;
}

Result<Position> ReadPosition(SqliteDb& db) {
  auto st = db.Prepare("SELECT timeline, txid FROM position WHERE id = 1");
  if (!st.ok()) return st.status();
  auto row = (*st)->Step();
  if (!row.ok()) return row.status();
  if (!*row) return Status::Corruption("position row is missing");
  Position p{(*st)->ColumnInt(0), (*st)->ColumnInt(1)};
  return p;
}

}  // namespace walship
