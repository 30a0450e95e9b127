#include "node/metered_vfs.h"

#include <sqlite3.h>

#include <chrono>
#include <cstring>
#include <mutex>

#include "node/sqlite_db.h"

namespace walship {
namespace {

// Our file object; the default VFS's own file object follows it in memory.
struct MeteredFile {
  sqlite3_file base;
  sqlite3_file* real;
  bool main_db;  // SQLITE_OPEN_MAIN_DB, not a -wal or journal
};

sqlite3_vfs* g_real = nullptr;
std::atomic<Histogram*> g_fsync_seconds{nullptr};
VfsFaults g_faults;

bool Trip(std::atomic<int>& countdown) {
  int v = countdown.load();
  while (v >= 0) {
    if (countdown.compare_exchange_weak(v, v - 1)) return v == 0;
  }
  return false;
}

sqlite3_file* Real(sqlite3_file* f) { return reinterpret_cast<MeteredFile*>(f)->real; }

int Close(sqlite3_file* f) { return Real(f)->pMethods->xClose(Real(f)); }
int Read(sqlite3_file* f, void* buf, int n, sqlite3_int64 off) {
  return Real(f)->pMethods->xRead(Real(f), buf, n, off);
}
int Write(sqlite3_file* f, const void* buf, int n, sqlite3_int64 off) {
  if (Trip(g_faults.write_countdown)) {
    g_faults.writes_failed++;
    int err = g_faults.write_error.load();
    return err ? err : SQLITE_IOERR_WRITE;
  }
  return Real(f)->pMethods->xWrite(Real(f), buf, n, off);
}
int Truncate(sqlite3_file* f, sqlite3_int64 size) { return Real(f)->pMethods->xTruncate(Real(f), size); }
int Sync(sqlite3_file* f, int flags) {
  const bool main_db = reinterpret_cast<MeteredFile*>(f)->main_db;
  if (Trip(g_faults.sync_countdown) || (main_db && Trip(g_faults.main_db_sync_countdown))) {
    g_faults.syncs_failed++;
    return SQLITE_IOERR_FSYNC;
  }
  auto start = std::chrono::steady_clock::now();
  int rc = Real(f)->pMethods->xSync(Real(f), flags);
  if (rc == SQLITE_OK && main_db) g_faults.main_db_syncs++;
  if (Histogram* h = g_fsync_seconds.load()) {
    h->Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return rc;
}
int FileSize(sqlite3_file* f, sqlite3_int64* size) { return Real(f)->pMethods->xFileSize(Real(f), size); }
int Lock(sqlite3_file* f, int l) { return Real(f)->pMethods->xLock(Real(f), l); }
int Unlock(sqlite3_file* f, int l) { return Real(f)->pMethods->xUnlock(Real(f), l); }
int CheckReservedLock(sqlite3_file* f, int* out) {
  return Real(f)->pMethods->xCheckReservedLock(Real(f), out);
}
int FileControl(sqlite3_file* f, int op, void* arg) {
  return Real(f)->pMethods->xFileControl(Real(f), op, arg);
}
int SectorSize(sqlite3_file* f) { return Real(f)->pMethods->xSectorSize(Real(f)); }
int DeviceCharacteristics(sqlite3_file* f) { return Real(f)->pMethods->xDeviceCharacteristics(Real(f)); }
int ShmMap(sqlite3_file* f, int pg, int sz, int extend, void volatile** pp) {
  return Real(f)->pMethods->xShmMap(Real(f), pg, sz, extend, pp);
}
int ShmLock(sqlite3_file* f, int offset, int n, int flags) {
  return Real(f)->pMethods->xShmLock(Real(f), offset, n, flags);
}
void ShmBarrier(sqlite3_file* f) { Real(f)->pMethods->xShmBarrier(Real(f)); }
int ShmUnmap(sqlite3_file* f, int del) { return Real(f)->pMethods->xShmUnmap(Real(f), del); }
int Fetch(sqlite3_file* f, sqlite3_int64 off, int n, void** pp) {
  return Real(f)->pMethods->xFetch(Real(f), off, n, pp);
}
int Unfetch(sqlite3_file* f, sqlite3_int64 off, void* p) {
  return Real(f)->pMethods->xUnfetch(Real(f), off, p);
}

const sqlite3_io_methods kMethods = {
    3,           Close,    Read,   Write,      Truncate,  Sync,        FileSize,
    Lock,        Unlock,   CheckReservedLock,  FileControl, SectorSize, DeviceCharacteristics,
    ShmMap,      ShmLock,  ShmBarrier,         ShmUnmap,  Fetch,       Unfetch,
};

int Open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* f, int flags, int* out_flags) {
  auto* mf = reinterpret_cast<MeteredFile*>(f);
  mf->real = reinterpret_cast<sqlite3_file*>(mf + 1);
  mf->main_db = (flags & SQLITE_OPEN_MAIN_DB) != 0;
  int rc = g_real->xOpen(g_real, name, mf->real, flags, out_flags);
  // Only install our methods if the real open succeeded: SQLite calls xClose
  // on a file whose pMethods is set, even after a failed open.
  mf->base.pMethods = (rc == SQLITE_OK && mf->real->pMethods) ? &kMethods : nullptr;
  return rc;
}
int Delete(sqlite3_vfs*, const char* name, int sync_dir) { return g_real->xDelete(g_real, name, sync_dir); }
int Access(sqlite3_vfs*, const char* name, int flags, int* out) { return g_real->xAccess(g_real, name, flags, out); }
int FullPathname(sqlite3_vfs*, const char* name, int n, char* out) {
  return g_real->xFullPathname(g_real, name, n, out);
}
void* DlOpen(sqlite3_vfs*, const char* name) { return g_real->xDlOpen(g_real, name); }
void DlError(sqlite3_vfs*, int n, char* msg) { g_real->xDlError(g_real, n, msg); }
void (*DlSym(sqlite3_vfs*, void* h, const char* sym))(void) { return g_real->xDlSym(g_real, h, sym); }
void DlClose(sqlite3_vfs*, void* h) { g_real->xDlClose(g_real, h); }
int Randomness(sqlite3_vfs*, int n, char* out) { return g_real->xRandomness(g_real, n, out); }
int Sleep(sqlite3_vfs*, int us) { return g_real->xSleep(g_real, us); }
int CurrentTime(sqlite3_vfs*, double* t) { return g_real->xCurrentTime(g_real, t); }
int GetLastError(sqlite3_vfs*, int n, char* out) {
  return g_real->xGetLastError ? g_real->xGetLastError(g_real, n, out) : 0;
}
int CurrentTimeInt64(sqlite3_vfs*, sqlite3_int64* t) { return g_real->xCurrentTimeInt64(g_real, t); }

sqlite3_vfs g_vfs;

}  // namespace

Status RegisterMeteredVfs(Histogram* fsync_seconds) {
  g_fsync_seconds = fsync_seconds;
  static std::once_flag once;
  static int rc = SQLITE_OK;
  std::call_once(once, [] {
    g_real = sqlite3_vfs_find(nullptr);
    if (g_real == nullptr) {
      rc = SQLITE_ERROR;
      return;
    }
    std::memset(&g_vfs, 0, sizeof g_vfs);
    g_vfs.iVersion = 2;
    g_vfs.szOsFile = static_cast<int>(sizeof(MeteredFile)) + g_real->szOsFile;
    g_vfs.mxPathname = g_real->mxPathname;
    g_vfs.zName = kMeteredVfsName;
    g_vfs.xOpen = Open;
    g_vfs.xDelete = Delete;
    g_vfs.xAccess = Access;
    g_vfs.xFullPathname = FullPathname;
    g_vfs.xDlOpen = DlOpen;
    g_vfs.xDlError = DlError;
    g_vfs.xDlSym = DlSym;
    g_vfs.xDlClose = DlClose;
    g_vfs.xRandomness = Randomness;
    g_vfs.xSleep = Sleep;
    g_vfs.xCurrentTime = CurrentTime;
    g_vfs.xGetLastError = GetLastError;
    g_vfs.xCurrentTimeInt64 = CurrentTimeInt64;
    rc = sqlite3_vfs_register(&g_vfs, 0);
  });
  if (rc != SQLITE_OK) return SqliteStatus(nullptr, rc, "register the walship VFS");
  return Status::Ok();
}

VfsFaults& MeteredVfsFaults() { return g_faults; }

}  // namespace walship
