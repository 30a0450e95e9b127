// Thin RAII wrappers over the SQLite C API that speak Status.
//
// Thread contract: a SqliteDb and its statements belong to one thread at a
// time (the writer thread, or whoever holds a read lease).
#pragma once

#include <sqlite3.h>

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/status.h"

namespace walship {

// Maps a SQLite result code to a Status: I/O and full-disk errors are kIOError,
// corrupt and not-a-database are kCorruption, busy/locked are kUnavailable.
Status SqliteStatus(sqlite3* db, int rc, std::string_view context);

class Stmt {
 public:
  explicit Stmt(sqlite3_stmt* s) : stmt_(s) {}
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt() { sqlite3_finalize(stmt_); }

  Stmt& BindText(int i, std::string_view v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    return *this;
  }
  Stmt& BindInt(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Stmt& BindNull(int i) {
    sqlite3_bind_null(stmt_, i);
    return *this;
  }
  // Steps once: true when a row is ready, false when done.
  Result<bool> Step();
  // Steps to the end, expecting no rows.
  Status Run();
  // Resets and clears bindings; always call before reuse (the cache does).
  void Reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

  int64_t ColumnInt(int i) const { return sqlite3_column_int64(stmt_, i); }
  std::string ColumnText(int i) const;
  bool ColumnIsNull(int i) const { return sqlite3_column_type(stmt_, i) == SQLITE_NULL; }
  sqlite3_stmt* raw() const { return stmt_; }

 private:
  sqlite3_stmt* stmt_;
};

// A cached statement on loan: reset (and its bindings cleared) when the loan
// ends, so no statement keeps a read snapshot open by accident.
class StmtHandle {
 public:
  explicit StmtHandle(Stmt* s) : s_(s) {}
  StmtHandle(StmtHandle&& o) noexcept : s_(o.s_) { o.s_ = nullptr; }
  StmtHandle& operator=(StmtHandle&&) = delete;
  StmtHandle(const StmtHandle&) = delete;
  ~StmtHandle() {
    if (s_) s_->Reset();
  }
  Stmt* operator->() const { return s_; }
  Stmt& operator*() const { return *s_; }

 private:
  Stmt* s_;
};

class SqliteDb {
 public:
  // flags: SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, or SQLITE_OPEN_READONLY.
  // vfs: nullptr for the default, or kMeteredVfsName once registered.
  static Result<std::unique_ptr<SqliteDb>> Open(const std::string& path, int flags,
                                                const char* vfs = nullptr);
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;
  ~SqliteDb();

  Status Exec(const std::string& sql);
  // A prepared statement from this connection's cache, ready to bind.
  // `sql` must be a string literal: the cache is keyed by its address.
  Result<StmtHandle> Prepare(const char* sql);
  // Runs a query that returns one integer (PRAGMAs, counts).
  Result<int64_t> QueryInt(const std::string& sql);

  sqlite3* raw() const { return db_; }
  const std::string& path() const { return path_; }

 private:
  SqliteDb(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_;
  std::string path_;
  std::unordered_map<const char*, std::unique_ptr<Stmt>> cache_;  // keyed by the SQL literal
};

// Routes SQLite's own log (SQLITE_CONFIG_LOG: recovered WAL frames, I/O
// notices, corruption reports) to the node's log. Call before any connection opens.
Status RouteSqliteLogToNodeLog();

}  // namespace walship
