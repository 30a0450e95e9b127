// WalCapture's pin: a read-only connection whose read transaction ends at
// the frames last handed to the sealer. SQLite's checkpoint never copies a
// frame past a reader's snapshot, so while the pin is held no frame reaches
// the database file before the sealer has had it (see wal_capture.h for the
// rule that makes that "before it is durable").
//
// Thread contract: the writer thread, like every other WalCapture call that
// touches SQLite.
#include "base/log.h"
#include "replication/wal_capture.h"

namespace walship {

void WalCapture::OpenPin(const std::string& db_path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  int unused = 0;
  // Read-only connections never checkpoint; this says so for certain.
  if (rc == SQLITE_OK) rc = sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, &unused);
  if (rc != SQLITE_OK) {
    LogWarn("WAL capture: no read snapshot to hold checkpoints back; each checkpoint waits for the sealer first",
            {{"error", db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc)}});
    sqlite3_close_v2(db);
    return;
  }
  pin_db_ = db;
}

void WalCapture::MovePinToWalEnd() {
  ReleasePin();
  if (pin_db_ == nullptr) return;
  // The snapshot starts with the first read: it ends at the WAL's last
  // commit, which on the writer thread between groups is the end of what
  // the last collect handed over.
  char* err = nullptr;
  if (sqlite3_exec(pin_db_, "BEGIN; SELECT 1 FROM sqlite_master LIMIT 1", nullptr, nullptr, &err) == SQLITE_OK) {
    pinned_ = true;
    return;
  }
  // A read can meet SQLITE_BUSY for a moment; the next collect tries again.
  // Until then the next checkpoint waits for the sealer before it copies.
  LogEvent(spdlog::level::debug, "WAL capture: could not pin a read snapshot", {{"error", err ? err : "?"}});
  sqlite3_free(err);
  if (sqlite3_get_autocommit(pin_db_) != 0) return;
  if (sqlite3_exec(pin_db_, "ROLLBACK", nullptr, nullptr, nullptr) == SQLITE_OK) return;
  ClosePin();  // a read transaction no one tracks would keep checkpoints from completing
}

void WalCapture::ReleasePin() {
  if (!pinned_) return;
  pinned_ = false;
  if (sqlite3_exec(pin_db_, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK) return;
  // A snapshot that cannot be let go would keep every later checkpoint from
  // completing: give up the pin for good.
  LogWarn("WAL capture: the read snapshot could not be released; closing it, checkpoints now wait for the sealer",
          {{"error", sqlite3_errmsg(pin_db_)}});
  ClosePin();
}

void WalCapture::ClosePin() {
  pinned_ = false;
  sqlite3_close_v2(pin_db_);  // ends any read transaction; nullptr is fine
  pin_db_ = nullptr;
}

Status WalCapture::CollectAndPin() {
  Status s = Collect();
  if (s.ok()) MovePinToWalEnd();
  return s;
}

}  // namespace walship
