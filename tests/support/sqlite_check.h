// Checks on a stopped node's database files.
#pragma once

#include <cstdint>
#include <string>

namespace walship::testing {

// Runs PRAGMA integrity_check on a read-only connection: it neither
// checkpoints nor deletes the WAL. Returns its rows joined by newlines.
std::string IntegrityCheck(const std::string& db_path);

// Runs one integer query on a read-only connection (-1 on any error).
int64_t QueryIntReadOnly(const std::string& db_path, const std::string& sql);

// The FTS5 index must agree with the archives table. Its integrity-check is
// an INSERT, so it runs on a copy of the (stopped) node's files, never on
// them. Returns "ok" or what went wrong.
std::string FtsIntegrityCheckOnCopy(const std::string& db_path, const std::string& scratch_dir);

// Flips one bit in the middle frame of a stopped node's WAL (4096-byte
// pages) and rewrites the file: committed frames follow the damaged one.
// Returns the damaged bytes; "" when the WAL has 10 frames or fewer, or
// cannot be read or written.
std::string DamageAMiddleWalFrame(const std::string& wal_path);

}  // namespace walship::testing
