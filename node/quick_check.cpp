#include "node/quick_check.h"

#include "node/sqlite_db.h"

namespace walship {

void QuickCheckCancel::Cancel() {
  std::lock_guard lock(mu_);
  cancelled_ = true;
  if (db_ != nullptr) sqlite3_interrupt(db_);
}

bool QuickCheckCancel::cancelled() const {
  std::lock_guard lock(mu_);
  return cancelled_;
}

void QuickCheckCancel::Attach(sqlite3* db) {
  std::lock_guard lock(mu_);
  db_ = db;
}

void QuickCheckCancel::Detach() {
  std::lock_guard lock(mu_);
  db_ = nullptr;
}

namespace {

Status RunQuickCheck(SqliteDb& db, const std::string& context) {
  // At most 100 problems: enough to say what is wrong, bounded in size.
  auto st = db.Prepare("PRAGMA quick_check(100)");
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

}  // namespace

Status CorruptionQuickCheck(const std::string& db_path, const char* vfs, QuickCheckCancel* cancel) {
  const std::string context = "quick_check of " + db_path;
  auto db = SqliteDb::Open(db_path, SQLITE_OPEN_READONLY, vfs);
  if (!db.ok()) return db.status().Wrap(context);
  sqlite3_busy_timeout((*db)->raw(), 1000);
  if (cancel != nullptr) cancel->Attach((*db)->raw());
  // SQLite forgets an interrupt that comes before its statement starts: ask first.
  Status s = cancel != nullptr && cancel->cancelled() ? Status::Unavailable("cancelled") : RunQuickCheck(**db, context);
  if (cancel != nullptr) {
    cancel->Detach();  // before the connection closes
    if (!s.ok() && cancel->cancelled()) {
      return Status::Unavailable(context + ": cancelled, the node is stopping").WithReason("shutting_down");
    }
  }
  return s;
}

}  // namespace walship
