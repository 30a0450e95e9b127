#include "replication/db_file_pages.h"

#include "base/fs.h"

namespace walship {

namespace {
Result<sqlite3_file*> MainFile(sqlite3* db) {
  sqlite3_file* file = nullptr;
  if (sqlite3_file_control(db, "main", SQLITE_FCNTL_FILE_POINTER, &file) != SQLITE_OK || file == nullptr ||
      file->pMethods == nullptr) {
    return Status::Internal("read database file: the connection has no open database file");
  }
  return file;
}
}  // namespace

Status SyncDatabaseFile(sqlite3* db, std::string_view what) {
  auto file = MainFile(db);
  if (!file.ok()) return Status::Internal(std::string(what) + ": the connection has no open database file");
  if (int rc = (*file)->pMethods->xSync(*file, SQLITE_SYNC_NORMAL); rc != SQLITE_OK) {
    return Status::IOError(std::string(what) + ": " + sqlite3_errstr(rc) + " (SQLite error " + std::to_string(rc) + ")");
  }
  return Status::Ok();
}

Result<std::string> ReadDatabaseFilePage(sqlite3* db, uint32_t page_size, uint32_t page_number) {
  auto file = MainFile(db);
  if (!file.ok()) return file.status();
  std::string page(page_size, '\0');
  const sqlite3_int64 offset = static_cast<sqlite3_int64>(page_number - 1) * page_size;
  // SQLITE_IOERR_SHORT_READ zero-fills: a page past the end reads as zeros.
  if (int rc = (*file)->pMethods->xRead(*file, page.data(), static_cast<int>(page_size), offset);
      rc != SQLITE_OK && rc != SQLITE_IOERR_SHORT_READ) {
    return Status::IOError("read database file: page " + std::to_string(page_number) + ": SQLite error " +
                           std::to_string(rc));
  }
  return page;
}

Status ForEachDatabaseFilePage(sqlite3* db, uint32_t page_size,
                               const std::function<Status(uint32_t page_number, std::string_view page)>& visit) {
  auto main_file = MainFile(db);
  if (!main_file.ok()) return main_file.status();
  sqlite3_file* file = *main_file;
  sqlite3_int64 size = 0;
  if (int rc = file->pMethods->xFileSize(file, &size); rc != SQLITE_OK) {
    return Status::IOError("read database file: size: SQLite error " + std::to_string(rc));
  }
  if (size % page_size != 0) {
    return Status::Corruption("read database file: size " + std::to_string(size) + " is not a multiple of the page size " +
                              std::to_string(page_size));
  }
  std::string page(page_size, '\0');
  const uint32_t pages = static_cast<uint32_t>(size / page_size);
  for (uint32_t pgno = 1; pgno <= pages; ++pgno) {
    const sqlite3_int64 offset = static_cast<sqlite3_int64>(pgno - 1) * page_size;
    if (int rc = file->pMethods->xRead(file, page.data(), static_cast<int>(page_size), offset); rc != SQLITE_OK) {
      return Status::IOError("read database file: page " + std::to_string(pgno) + ": SQLite error " +
                             std::to_string(rc));
    }
    WALSHIP_RETURN_IF_ERROR(visit(pgno, page));
  }
  return Status::Ok();
}

Result<DbChecksum> ChecksumDatabaseFile(sqlite3* db, uint32_t page_size) {
  DbChecksum sum(page_size);
  WALSHIP_RETURN_IF_ERROR(ForEachDatabaseFilePage(db, page_size, [&](uint32_t pgno, std::string_view page) {
    return sum.UpdatePage(pgno, page);
  }));
  return sum;
}

Result<DbChecksum> CopyDatabaseFile(sqlite3* db, uint32_t page_size, int fd, const std::string& path) {
  DbChecksum sum(page_size);
  Status s = ForEachDatabaseFilePage(db, page_size, [&](uint32_t pgno, std::string_view page) {
    WALSHIP_RETURN_IF_ERROR(WriteAllAt(fd, page, static_cast<int64_t>(pgno - 1) * page_size)
                                .Wrap("page " + std::to_string(pgno)));
    return sum.UpdatePage(pgno, page);
  });
  if (!s.ok()) return s.Wrap("copy database file to " + path);
  return sum;
}

}  // namespace walship
