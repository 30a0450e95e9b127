// The start-up check of the -wal, before SQLite opens the database.
//
// SQLite's recovery stops at the first WAL frame that fails its checksum and
// drops that frame and every frame after it, committed or not, without an
// error; a read-write connection then checkpoints the shortened log and
// deletes the WAL (see "Facts measured here" in the brief). So the node reads
// the -wal itself first, with plain file calls (safe for the -wal; the
// database file itself is never opened here) and classifies it:
//   clean       the WAL ends after its last commit frame;
//   torn tail   frames after the last commit frame that were never committed
//               (SQLite drops them, rightly): logged, and the node opens;
//   corruption  a frame fails and committed transactions verify behind it:
//               the node must not open the database at all and must leave
//               the -wal and -shm byte for byte as they are.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"
#include "replication/wal_file.h"

namespace walship {

struct StartupWalReport {
  std::string wal_path;
  uint64_t wal_bytes = 0;              // 0: no -wal (or an empty one)
  WalEnd end = WalEnd::kClean;
  uint32_t committed_transactions = 0; // commit frames SQLite's recovery will replay
  uint32_t last_commit_frame = 0;      // 0: none
  // Torn tail: whole frames after the last commit frame (verified or not)
  // and the bytes of a partial frame at the very end; SQLite drops them.
  uint32_t tail_frames = 0;
  uint64_t tail_partial_bytes = 0;
  std::string tail_detail;             // why the run of valid frames ended

  // Set (kCorruption, reason "wal_corrupt") exactly when the node must not
  // open the database: names the WAL, the first bad frame and its byte
  // offset, and the committed transactions behind it.
  Status refusal;
  // What an operator should do about the refusal; empty otherwise.
  std::string action;

  bool refused() const { return !refusal.ok(); }
  // One line for the log: "clean: 20 committed transactions in 41 frames", ...
  std::string Summary() const;
};

// Reads db_path + "-wal" (a missing file is clean). Errors: kIOError when
// the -wal cannot be read. A WAL that is damaged is not an error: it is a
// report with `refusal` set.
Result<StartupWalReport> ScanWalAtStartup(const std::string& db_path);

// Logs the report: info when clean, warning for a torn tail, error with the
// full finding and the action when refused.
void LogStartupWalReport(const StartupWalReport& report);

}  // namespace walship
