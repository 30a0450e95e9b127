#include "tests/support/sqlite_check.h"

#include <sqlite3.h>

#include <filesystem>

#include "base/fs.h"

namespace walship::testing {

std::string IntegrityCheck(const std::string& db_path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  if (rc != SQLITE_OK) {
    std::string e = "open failed: " + std::string(db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close_v2(db);
    return e;
  }
  sqlite3_busy_timeout(db, 5000);
  sqlite3_stmt* st = nullptr;
  std::string out;
  rc = sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, nullptr);
  if (rc != SQLITE_OK) {
    out = "prepare failed: " + std::string(sqlite3_errmsg(db));
  } else {
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      if (!out.empty()) out += "\n";
      out += reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    }
    if (rc != SQLITE_DONE) out += "\nstep failed: " + std::string(sqlite3_errmsg(db));
  }
  sqlite3_finalize(st);
  sqlite3_close_v2(db);
  return out;
}

int64_t QueryIntReadOnly(const std::string& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  int64_t v = -1;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
      v = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
  }
  sqlite3_close_v2(db);
  return v;
}

std::string FtsIntegrityCheckOnCopy(const std::string& db_path, const std::string& scratch_dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(scratch_dir, ec);
  const std::string copy = scratch_dir + "/copy.db";
  for (const char* suffix : {"", "-wal"}) {
    fs::remove(copy + suffix, ec);
    if (fs::exists(db_path + suffix)) {
      fs::copy_file(db_path + suffix, copy + suffix, fs::copy_options::overwrite_existing, ec);
      if (ec) return "copy failed: " + ec.message();
    }
  }
  sqlite3* db = nullptr;
  std::string out = "ok";
  if (sqlite3_open_v2(copy.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    out = "open failed: " + std::string(sqlite3_errmsg(db));
  } else {
    char* err = nullptr;
    if (sqlite3_exec(db, "INSERT INTO archives_fts(archives_fts) VALUES('integrity-check')", nullptr, nullptr, &err) !=
        SQLITE_OK) {
      out = "fts5 integrity-check: " + std::string(err ? err : sqlite3_errmsg(db));
    }
    sqlite3_free(err);
  }
  sqlite3_close_v2(db);
  fs::remove_all(scratch_dir, ec);
  return out;
}

std::string DamageAMiddleWalFrame(const std::string& wal_path) {
  auto bytes = ReadWholeFile(wal_path);
  if (!bytes.ok() || bytes->size() < 32) return "";
  const size_t frame = 24 + 4096;
  const size_t frames = (bytes->size() - 32) / frame;
  if (frames <= 10) return "";
  std::string damaged = *bytes;
  damaged[32 + (frames / 2) * frame + 24 + 100] ^= 0x10;
  if (!WriteFileAtomically(wal_path, damaged).ok()) return "";
  return damaged;
}

}  // namespace walship::testing
