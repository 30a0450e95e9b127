// The scrub: re-reads the database file's pages and compares each with the
// page hash behind the database checksum (replication/db_checksum.h), so a
// page that rotted on disk is found before any query trips over it.
//
// What is compared with what, and why a page in the WAL is never flagged:
//
// The WAL capture keeps the database checksum at its position, page by page
// (WalCapture::ChecksumForScrub): the file as it was when the node started or
// copied its last base, plus every captured frame since. In WAL mode only a
// checkpoint writes the database file, and only pages that have frames in
// the WAL. So, at a point between two writer groups, a page of the file must
// equal its checksummed image unless the current WAL generation holds a
// frame for it (an image newer than the file, or one a checkpoint is copying
// right now). Frames of an older generation are all in the file already: the
// WAL restarts only after a checkpoint copied every frame, and the capture
// took every frame before that checkpoint.
//
// Each batch therefore starts on the writer thread, between two groups
// (Writer::RunBetweenGroups), where nothing commits or checkpoints:
//   1. the capture's checksum (refused when another connection committed
//      behind the node's back: then nothing is trusted until a new base);
//   2. a scan of the -wal: every page of the current generation is skipped;
//   3. the scrub's own read-only connection begins a read transaction, and
//      the expected hashes of the batch's other pages are copied.
// Then, on the scrub thread, the pages are read from the file through that
// connection's own file handle (never a descriptor of ours: closing one would
// drop SQLite's locks) and hashed, and the read transaction ends. While it is
// open no checkpoint can copy a frame newer than its snapshot into the file
// (SQLite backfills only up to the oldest reader's mark, and nothing at all
// while a reader reads the file alone), and every frame up to its snapshot
// was in the scan: the pages compared cannot change under the scrub. A page
// that differs is read again in a second batch, with a new checksum and a new
// snapshot, before it counts: a mismatch seen twice is corruption (reported
// to the CorruptionWatch, source "scrub").
//
// Batches are short (the read transaction holds back complete checkpoints for
// the few milliseconds a batch takes); the pace between them is the
// scheduler's (node/scrub_scheduler.h).
//
// Thread contract: one scrub thread calls Step()/RunPass(); the writer must
// outlive the Scrubber. Metrics are atomics.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "base/clock.h"
#include "base/metrics.h"
#include "base/status.h"
#include "node/corruption_watch.h"
#include "node/sqlite_db.h"
#include "node/writer.h"
#include "replication/wal_file.h"

namespace walship {

struct ScrubStepResult {
  uint32_t compared = 0;   // pages read and hashed
  uint32_t skipped = 0;    // pages with a frame in the WAL, not compared
  bool pass_done = false;  // the batch reached the last page
};

class Scrubber {
 public:
  // `db_path` is the database file, `vfs` the one its connections use.
  Scrubber(Writer& writer, std::string db_path, const char* vfs, CorruptionWatch& watch, Clock& clock,
           MetricsRegistry& metrics);
  Scrubber(const Scrubber&) = delete;
  Scrubber& operator=(const Scrubber&) = delete;

  // One batch of at most `max_pages` pages from where the pass stands (a new
  // pass starts at page 1). Errors: kUnavailable when no batch can start now
  // (writes stopped, the capture refuses its checksum): try later; kIOError
  // when the file cannot be read; kCorruption, reason "scrub_mismatch", when
  // a page differs twice (already reported to the watch).
  Result<ScrubStepResult> Step(uint32_t max_pages);
  // Batches from page 1 to the last page (tests, and `max_pages` per batch).
  Status RunPass(uint32_t max_pages);

 private:
  struct Batch;
  // On the writer thread: the reference and the read transaction.
  Status Plan(Batch& batch, const std::vector<uint32_t>& pages_first, uint32_t from, uint32_t max_pages);
  // On the scrub thread: read, hash, compare; ends the read transaction.
  Status Compare(Batch& batch);
  Status EnsureConnection();
  // On the writer thread (in Plan): brings wal_pages_ up to date with the
  // -wal, reading only the frames added since the last batch while the WAL
  // keeps its generation (a full scan per batch would pause writes for as
  // long as a big WAL takes to verify).
  Status UpdatePagesInWal();

  Writer& writer_;
  const std::string db_path_;
  const std::string wal_path_;
  const char* vfs_;
  CorruptionWatch& watch_;
  Clock& clock_;
  std::unique_ptr<SqliteDb> conn_;  // the scrub's read-only connection (scrub thread; writer thread in Plan)
  uint32_t next_page_ = 1;          // where the pass stands
  // The pages the current WAL generation holds, up to wal_seen_ (which keeps
  // its salts: a new generation starts the set over). Used in Plan only.
  std::optional<WalPosition> wal_seen_;
  std::unordered_set<uint32_t> wal_pages_;
  int64_t pass_started_ns_ = 0;

  Counter& pages_;
  Counter& pages_skipped_;
  Counter& mismatches_;
  Counter& passes_;
  Histogram& pass_seconds_;
  Gauge& last_pass_unix_;
};

}  // namespace walship
