// Reading the main database file through the write connection's own file
// handle (SQLITE_FCNTL_FILE_POINTER), never with a descriptor of our own:
// closing any descriptor of the file would drop SQLite's POSIX locks on it.
//
// Contract: the caller owns `db` on this thread, and every committed frame
// has been checkpointed into the file (or the file is what it wants to
// read, WAL aside); nobody else writes the file meanwhile.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "replication/db_checksum.h"

namespace walship {

// Calls `visit` for every page of the file, in order.
Status ForEachDatabaseFilePage(sqlite3* db, uint32_t page_size,
                               const std::function<Status(uint32_t page_number, std::string_view page)>& visit);

// Page `page_number` of the file as it is on disk (WAL frames not applied).
Result<std::string> ReadDatabaseFilePage(sqlite3* db, uint32_t page_size, uint32_t page_number);

// The checksum of the file as it is on disk (WAL frames not applied).
Result<DbChecksum> ChecksumDatabaseFile(sqlite3* db, uint32_t page_size);

// fsync of the file through the same handle; `what` starts every error
// ("fsync the database file after ...": kIOError, with SQLite's code).
Status SyncDatabaseFile(sqlite3* db, std::string_view what);

// Writes a byte-exact copy of the file into `fd` (named `path` in errors)
// and returns its checksum. The caller owns the descriptor and its fsync.
Result<DbChecksum> CopyDatabaseFile(sqlite3* db, uint32_t page_size, int fd, const std::string& path);

}  // namespace walship
