#include "node/sqlite_db.h"

#include "base/log.h"

namespace walship {

namespace {

// What an extended I/O result code says failed; empty when it adds nothing.
const char* FailedOperation(int rc) {
  switch (rc) {
    case SQLITE_IOERR_READ: return "read failed";
    case SQLITE_IOERR_SHORT_READ: return "short read";
    case SQLITE_IOERR_WRITE: return "write failed";
    case SQLITE_IOERR_FSYNC: return "fsync failed";
    case SQLITE_IOERR_DIR_FSYNC: return "directory fsync failed";
    case SQLITE_IOERR_TRUNCATE: return "truncate failed";
    case SQLITE_IOERR_FSTAT: return "fstat failed";
    case SQLITE_IOERR_DELETE: return "delete failed";
    case SQLITE_IOERR_SHMOPEN: return "opening the -shm file failed";
    case SQLITE_IOERR_SHMSIZE: return "resizing the -shm file failed";
    case SQLITE_IOERR_SHMMAP: return "mapping the -shm file failed";
    case SQLITE_IOERR_LOCK: return "file lock failed";
    default: return "";
  }
}

}  // namespace

Status SqliteStatus(sqlite3* db, int rc, std::string_view context) {
  std::string msg(context);
  msg += ": ";
  if (db != nullptr && (rc & 0xff) == rc && (sqlite3_extended_errcode(db) & 0xff) == rc) {
    rc = sqlite3_extended_errcode(db);  // a primary code was passed; the connection knows more
  }
  msg += (db != nullptr && (sqlite3_errcode(db) & 0xff) == (rc & 0xff)) ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  if (const char* op = FailedOperation(rc); *op != '\0') msg.append(" (").append(op).append(")");
  switch (rc & 0xff) {
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
      return Status::IOError(std::move(msg));
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Status::Corruption(std::move(msg));
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status::Unavailable(std::move(msg));
    case SQLITE_CONSTRAINT:
      return Status::Conflict(std::move(msg));
    case SQLITE_TOOBIG:
      return Status::TooLarge(std::move(msg));
    default:
      return Status::Internal(std::move(msg));
  }
}

Result<bool> Stmt::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  // Name the statement, so "commit group of 3 requests: step "COMMIT": disk
  // I/O error (fsync failed)" says which step of the group failed.
  std::string sql = sqlite3_sql(stmt_) ? sqlite3_sql(stmt_) : "";
  if (sql.size() > 48) sql = sql.substr(0, 45) + "...";
  return SqliteStatus(sqlite3_db_handle(stmt_), rc, "step \"" + sql + "\"");
}

Status Stmt::Run() {
  for (;;) {
    auto r = Step();
    if (!r.ok()) return r.status();
    if (!*r) return Status::Ok();
  }
}

std::string Stmt::ColumnText(int i) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, i));
  int n = sqlite3_column_bytes(stmt_, i);
  return p ? std::string(p, static_cast<size_t>(n)) : std::string();
}

Result<std::unique_ptr<SqliteDb>> SqliteDb::Open(const std::string& path, int flags, const char* vfs) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE, vfs);
  if (rc != SQLITE_OK) {
    Status s = SqliteStatus(db, rc, "open " + path);
    sqlite3_close_v2(db);
    return s;
  }
  sqlite3_extended_result_codes(db, 1);
  return std::unique_ptr<SqliteDb>(new SqliteDb(db, path));
}

SqliteDb::~SqliteDb() {
  cache_.clear();  // statements first: close needs them finalized
  sqlite3_close_v2(db_);
}

Status SqliteDb::Exec(const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string m = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    Status s = SqliteStatus(nullptr, rc, "exec");
    return Status(s.code(), "exec \"" + sql.substr(0, 60) + "\": " + m);
  }
  return Status::Ok();
}

Result<StmtHandle> SqliteDb::Prepare(const char* sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) return StmtHandle(it->second.get());
  sqlite3_stmt* s = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr);
  if (rc != SQLITE_OK) return SqliteStatus(db_, rc, std::string("prepare \"") + sql + "\"");
  auto [pos, inserted] = cache_.emplace(sql, std::make_unique<Stmt>(s));
  return StmtHandle(pos->second.get());
}

Result<int64_t> SqliteDb::QueryInt(const std::string& sql) {
  sqlite3_stmt* s = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr);
  if (rc != SQLITE_OK) return SqliteStatus(db_, rc, "prepare \"" + sql + "\"");
  Stmt stmt(s);
  auto row = stmt.Step();
  if (!row.ok()) return row.status().Wrap(sql);
  if (!*row) return Status::Internal(sql + ": no row");
  return stmt.ColumnInt(0);
}

namespace {

void SqliteLogCallback(void*, int code, const char* msg) {
  int primary = code & 0xff;
  auto level = spdlog::level::warn;
  if (primary == SQLITE_NOTICE) level = spdlog::level::warn;  // recovered WAL frames: never lost
  else if (primary == SQLITE_CORRUPT || primary == SQLITE_IOERR || primary == SQLITE_FULL) level = spdlog::level::err;
  else if (primary == SQLITE_SCHEMA) level = spdlog::level::debug;  // routine re-prepare
  LogEvent(level, "sqlite", {{"code", code}, {"error", sqlite3_errstr(code)}, {"message", msg ? msg : ""}});
}

}  // namespace

Status RouteSqliteLogToNodeLog() {
  // Must run before SQLite initialises; a second call (tests open many
  // stores in one process) finds it already routed.
  static const int rc = sqlite3_config(SQLITE_CONFIG_LOG, SqliteLogCallback, nullptr);
  if (rc == SQLITE_MISUSE) {
    // SQLite was used before: its notices (recovered WAL frames) would be lost. Say so.
    static const bool warned = (LogWarn("SQLite's log could not be routed: SQLite was initialised first"), true);
    (void)warned;
    return Status::Ok();
  }
  if (rc != SQLITE_OK) return SqliteStatus(nullptr, rc, "route SQLite's log to the node's log");
  return Status::Ok();
}

}  // namespace walship
