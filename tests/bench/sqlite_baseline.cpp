// The physical baseline: raw SQLite on the same disk, no HTTP, one thread.
// WAL mode, synchronous=FULL (each commit fsyncs the WAL), a table with a
// key and a ~1 KiB text column, SQLite's default automatic checkpoints.
// One row per transaction is what a server that commits every request on
// its own could do at best; the batched figure is context for what group
// commit could reach.
#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "tests/bench/bench.h"

namespace walship::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;

struct Db {
  sqlite3* db = nullptr;
  sqlite3_stmt* insert = nullptr;
  ~Db() {
    sqlite3_finalize(insert);
    sqlite3_close_v2(db);
  }
  bool Exec(const char* sql, std::string* error) {
    char* msg = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &msg) == SQLITE_OK) return true;
    *error = std::string(sql) + ": " + (msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    return false;
  }
  bool Insert(const std::string& key, const std::string& text, std::string* error) {
    sqlite3_bind_text(insert, 1, key.data(), static_cast<int>(key.size()), SQLITE_STATIC);
    sqlite3_bind_text(insert, 2, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
    int rc = sqlite3_step(insert);
    sqlite3_reset(insert);
    if (rc == SQLITE_DONE) return true;
    *error = std::string("insert: ") + sqlite3_errmsg(db);
    return false;
  }
};

// Runs `unit` (one transaction of `rows_per_unit` rows) in a loop for a
// warm-up and a measured window; ops counts rows.
PhaseResult Loop(const std::string& name, double warmup_s, double measure_s, int rows_per_unit,
                 const std::function<bool(std::string*)>& unit, std::string* error) {
  const auto start = SteadyClock::now();
  const auto warm_end = start + std::chrono::duration_cast<SteadyClock::duration>(
                                    std::chrono::duration<double>(warmup_s));
  const auto end = warm_end + std::chrono::duration_cast<SteadyClock::duration>(
                                  std::chrono::duration<double>(measure_s));
  std::vector<uint64_t> lat;
  lat.reserve(1 << 16);
  PhaseResult r;
  r.name = name;
  r.clients = 1;
  r.seconds = measure_s;
  bool measuring = false;
  double cpu0 = 0;
  for (;;) {
    const auto t0 = SteadyClock::now();
    if (t0 >= end) break;
    if (!measuring && t0 >= warm_end) {
      measuring = true;
      cpu0 = SelfCpuSeconds();
    }
    if (!unit(error)) {
      ++r.errors;
      r.error_kinds["sqlite: " + *error]++;
      return r;
    }
    const auto t1 = SteadyClock::now();
    if (t0 >= warm_end && t1 <= end) {
      lat.push_back(static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count()));
    }
  }
  r.client_cpu_s = SelfCpuSeconds() - cpu0;
  r.ops = lat.size() * static_cast<uint64_t>(rows_per_unit);
  r.ops_per_s = static_cast<double>(r.ops) / measure_s;
  Summarize(lat, &r.p50_ms, &r.p99_ms, &r.max_ms);
  return r;
}

bool Open(const std::string& path, Db* d, std::string* error) {
  if (sqlite3_open_v2(path.c_str(), &d->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK) {
    *error = "open " + path + ": " + (d->db ? sqlite3_errmsg(d->db) : "out of memory");
    return false;
  }
  if (!d->Exec("PRAGMA journal_mode=WAL", error) || !d->Exec("PRAGMA synchronous=FULL", error) ||
      !d->Exec("CREATE TABLE archives(key TEXT PRIMARY KEY, content TEXT NOT NULL)", error)) {
    return false;
  }
  if (sqlite3_prepare_v2(d->db, "INSERT INTO archives(key, content) VALUES (?1, ?2)", -1, &d->insert, nullptr) !=
      SQLITE_OK) {
    *error = std::string("prepare: ") + sqlite3_errmsg(d->db);
    return false;
  }
  return true;
}

}  // namespace

PhaseResult RunSqliteBaseline(const std::string& path, const std::vector<std::string>& texts, double warmup_s,
                              double measure_s, int rows_per_txn, std::string* error) {
  Db d;
  if (!Open(path, &d, error)) return PhaseResult{};
  char key[64];
  uint64_t n = 0;
  auto insert_next = [&](std::string* e) {
    std::snprintf(key, sizeof key, "raw/%010llu", static_cast<unsigned long long>(n));
    return d.Insert(key, texts[n++ % texts.size()], e);
  };
  if (rows_per_txn == 1) {
    return Loop("sqlite one row/txn", warmup_s, measure_s, 1, insert_next, error);
  }
  return Loop("sqlite " + std::to_string(rows_per_txn) + " rows/txn", warmup_s, measure_s, rows_per_txn,
              [&](std::string* e) {
                if (!d.Exec("BEGIN", e)) return false;
                for (int i = 0; i < rows_per_txn; ++i) {
                  if (!insert_next(e)) return false;
                }
                return d.Exec("COMMIT", e);
              },
              error);
}

}  // namespace walship::bench
