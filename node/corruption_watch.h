// CorruptionWatch: where every sign of a damaged database file ends up.
//
// Any kCorruption status (SQLite's SQLITE_CORRUPT or SQLITE_NOTADB, mapped by
// SqliteStatus; a page the scrub found different from its checksum; a
// quick_check that does not say ok) is handed to Observe() by whoever met it:
// the writer, a read on the read pool, a backup, the quick_check, the scrub.
// The first one is the finding: it is kept (for /v1/status), logged once at
// error level with the command that recovers the database, and the stop
// action runs (the store stops writes: no further damage). Later reports
// change nothing; the finding stays until the process ends.
//
// Thread contract: every method may be called from any thread. The stop
// action runs on the reporting thread, outside the watch's lock, and may call
// back into Observe (the writer reports its own sticky error).
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "base/metrics.h"
#include "base/status.h"

namespace walship {

struct CorruptionFinding {
  int64_t found_unix_ms = 0;
  std::string source;       // "writer", "read", "backup", "quick_check" or "scrub"
  std::string message;      // the error as reported, with its context
  std::string recommended;  // the operator's next step: a command line
};

class CorruptionWatch {
 public:
  // `data_dir` goes into the recommended command.
  CorruptionWatch(std::string data_dir, Clock& clock, MetricsRegistry& metrics);
  CorruptionWatch(const CorruptionWatch&) = delete;
  CorruptionWatch& operator=(const CorruptionWatch&) = delete;

  // Set once, before any Observe: what a finding does to the node.
  void SetStopAction(std::function<void(const Status& finding)> stop) { stop_ = std::move(stop); }

  // True when `status` is a corruption (kCorruption); the first one becomes
  // the finding. Any other status is ignored (false).
  bool Observe(std::string_view source, const Status& status);

  bool found() const;
  std::optional<CorruptionFinding> Finding() const;
  // Ok while nothing was found; else kUnavailable, reason "database_corrupt",
  // naming the finding and the recommended command (the answer to a write).
  Status WriteRefusal() const;

 private:
  const std::string recommended_;
  Clock& clock_;
  std::function<void(const Status&)> stop_;  // set before use, then only read
  Counter& reports_;
  Gauge& found_gauge_;
  mutable std::mutex mu_;  // guards finding_
  std::optional<CorruptionFinding> finding_;
};

// "walship restore --data DIR": the command that rebuilds a damaged
// database from its backups and segments (ops/restore_command).
std::string CorruptionRecommendedCommand(const std::string& data_dir);

}  // namespace walship
