// What the writer tells the WAL capture, and when (node/writer.h calls it).
//
// Thread contract: every call runs on the writer thread, which owns the
// write connection, so no write interleaves with a capture.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace walship {

class DbChecksum;

// The store at one exact point between two groups: every commit up to
// `txid` sealed, none after (see CheckpointHook::MarkPoint).
struct CapturePoint {
  int64_t txid = -1;
  uint64_t db_checksum = 0;   // of the database at txid
  uint64_t sequence = 0;      // the segment that ends at txid; 0 when none does (a chain starts next)
  std::string page_one;       // page 1 of the database at txid, byte for byte
};

class CheckpointHook {
 public:
  virtual ~CheckpointHook() = default;
  // After each committed write transaction: its txid, commit time and the
  // WAL frame its commit frame went to (what sqlite3_wal_hook reported: a
  // hint the capture checks against the WAL itself).
  virtual void AfterCommit(int64_t txid, int64_t commit_unix_ms, uint32_t wal_commit_frame) = 0;
  // Just before each checkpoint: hands every committed frame over. On
  // return, every frame SQLite's checkpoint can copy into the database is
  // durable in the store; frames it cannot copy yet (past a read snapshot the
  // hook holds) may still be sealing. An error skips the checkpoint (the WAL
  // keeps every frame); any error but kUnavailable also stops writes.
  virtual Status BeforeCheckpoint(sqlite3* writer, std::string_view reason) = 0;
  // After the checkpoint's first, passive pass and before the pass that may
  // copy the rest and reset the WAL (node/writer.cpp): waits until every
  // frame handed over is durable and lets go of any snapshot the hook holds.
  // An error skips the rest of the checkpoint, and stops writes as above.
  virtual Status BeforeWalReset() { return Status::Ok(); }
  // Before a checkpoint that may wait a moment (the timer's, the WAL size
  // trigger's; not the shutdown's): hands what is committed to the sealer
  // without waiting for it. True when the checkpoint may go ahead now (no
  // seal in flight); false asks the writer to commit more groups and ask
  // again, so that BeforeCheckpoint then waits only for the commits made in
  // between instead of a whole collect interval's. The default: go ahead.
  virtual bool PrepareCheckpoint() { return true; }
  // When asked between groups (synchronous replication: the standby has
  // everything shipped): hand what is committed to the sealer now.
  virtual void CollectNow() {}
  // When asked (a standby to bootstrap): a consistent snapshot of the
  // database, right after everything committed so far. Errors as for
  // BeforeCheckpoint. The default takes none.
  virtual Status TakeSnapshot(sqlite3* /*writer*/, std::string_view /*why*/) {
    return Status::Unavailable("this checkpoint hook takes no snapshots");
  }
  // When asked (a backup pins its read transaction right after): seals
  // every commit now and says where the store stands. The default has no
  // store to say it from.
  virtual Result<CapturePoint> MarkPoint(sqlite3* /*writer*/) {
    return Status::Unavailable("this checkpoint hook keeps no segments");
  }
  // For the scrub (node/scrub.h): the database checksum at the capture's
  // position, page by page, to compare the file's pages with. Borrowed: valid
  // on this thread until the next call into the hook. kUnavailable when it
  // cannot be trusted right now (frames written behind the node's back wait
  // for a new base); the default keeps none.
  virtual Result<const DbChecksum*> ChecksumForScrub(sqlite3* /*writer*/) {
    return Status::Unavailable("this checkpoint hook keeps no database checksum");
  }
};

}  // namespace walship
