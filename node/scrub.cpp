#include "node/scrub.h"

#include <algorithm>
#include <future>

#include "base/log.h"
#include "replication/db_checksum.h"
#include "replication/db_file_pages.h"

namespace walship {

struct Scrubber::Batch {
  std::string db_path;
  uint32_t page_size = 0;
  uint32_t page_count = 0;         // of the checksummed database
  std::vector<uint32_t> pages;     // to compare, in order
  std::vector<uint64_t> expected;  // their checksummed hashes
  uint32_t skipped = 0;            // in the WAL
  uint32_t next_page = 0;          // where the pass goes on after this batch
  std::vector<size_t> differ;      // indexes into pages: the file image differs (Compare)
  std::vector<uint64_t> found;     // their hashes as read
};

namespace {

// "page 5 of DB differs from its image in the database checksum (read 0x..,
// checksummed 0x..)", then the other pages that differ, if any.
template <typename B>
Status MismatchStatus(const B& batch) {
  const size_t first = batch.differ.front();
  std::string m = "page " + std::to_string(batch.pages[first]) + " of " + batch.db_path +
                  " differs from its image in the database checksum (read " + DbChecksumHex(batch.found.front()) +
                  ", checksummed " + DbChecksumHex(batch.expected[first]) + ")";
  if (batch.differ.size() > 1) {
    m += "; " + std::to_string(batch.differ.size()) + " pages differ:";
    for (size_t i = 0; i < batch.differ.size() && i < 16; ++i) m += " " + std::to_string(batch.pages[batch.differ[i]]);
    if (batch.differ.size() > 16) m += " ...";
  }
  return Status::Corruption(m);
}

}  // namespace

Scrubber::Scrubber(Writer& writer, std::string db_path, const char* vfs, CorruptionWatch& watch, Clock& clock,
                   MetricsRegistry& metrics)
    : writer_(writer),
      db_path_(std::move(db_path)),
      wal_path_(db_path_ + "-wal"),
      vfs_(vfs),
      watch_(watch),
      clock_(clock),
      pages_(metrics.GetCounter("walship_scrub_pages_total",
                                "Database pages the scrub read and compared with the database checksum")),
      pages_skipped_(metrics.GetCounter("walship_scrub_pages_skipped_total",
                                        "Pages the scrub left alone: a newer image is in the WAL")),
      mismatches_(metrics.GetCounter("walship_scrub_mismatches_total",
                                     "Pages whose file image differed from the database checksum, twice")),
      passes_(metrics.GetCounter("walship_scrub_passes_total", "Complete scrub passes over the database file")),
      pass_seconds_(metrics.GetHistogram("walship_scrub_pass_seconds", "Duration of a complete scrub pass",
                                         LatencyBuckets())),
      last_pass_unix_(metrics.GetGauge("walship_scrub_last_pass_timestamp_seconds",
                                       "When the last complete scrub pass ended (Unix seconds; 0: none yet)")) {}

Status Scrubber::EnsureConnection() {
  if (conn_) return Status::Ok();
  auto db = SqliteDb::Open(db_path_, SQLITE_OPEN_READONLY, vfs_);
  if (!db.ok()) return db.status().Wrap("open the scrub's read connection");
  // Writes wait while a batch is planned: never wait long for a lock.
  sqlite3_busy_timeout((*db)->raw(), 50);
  conn_ = std::move(db).value();
  return Status::Ok();
}

Status Scrubber::UpdatePagesInWal() {
  auto scan = ScanWalFile(wal_path_, WalScanOptions{wal_seen_, /*keep_pages=*/false});
  if (!scan.ok() && scan.status().reason() == "wal_diverged") {
    wal_seen_.reset();  // rewritten behind our back: read it all again
    scan = ScanWalFile(wal_path_, WalScanOptions{std::nullopt, /*keep_pages=*/false});
  }
  if (!scan.ok()) return scan.status().Wrap("scan the WAL");
  if (scan->end == WalEnd::kCorruption) {
    wal_seen_.reset();
    return Status::Unavailable("the WAL is damaged (the capture reports it): " +
                               scan->corruption->ToStatus().ToString());
  }
  if (!scan->resumed) wal_pages_.clear();  // a new generation, or the first scan
  for (const WalFrame& f : scan->frames) wal_pages_.insert(f.page_number);
  if (scan->empty) {
    wal_seen_.reset();
  } else {
    wal_seen_ = scan->next;
  }
  return Status::Ok();
}

Status Scrubber::Plan(Batch& batch, const std::vector<uint32_t>& pages_first, uint32_t from, uint32_t max_pages) {
  std::promise<Status> planned;
  writer_.RunBetweenGroups([&](const Status& health, sqlite3* writer, CheckpointHook* hook) -> Status {
    planned.set_value([&]() -> Status {
      if (!health.ok()) return health;
      if (hook == nullptr) return Status::Unavailable("no WAL capture: no database checksum to compare with");
      auto sum = hook->ChecksumForScrub(writer);
      if (!sum.ok()) return sum.status();
      // Every page the current WAL generation holds may differ in the file.
      WALSHIP_RETURN_IF_ERROR(UpdatePagesInWal());
      const std::unordered_set<uint32_t>& in_wal = wal_pages_;
      // The snapshot, right here: no frame after the scan can reach the file
      // while it is open.
      WALSHIP_RETURN_IF_ERROR(conn_->Exec("BEGIN").Wrap("begin the scrub's read transaction"));
      auto started = conn_->QueryInt("SELECT count(*) FROM sqlite_master");
      if (!started.ok()) {
        conn_->Exec("ROLLBACK").IgnoreError();  // reporting `started`
        return started.status().Wrap("start the scrub's read transaction");
      }
      const DbChecksum& ref = **sum;
      batch.page_size = ref.page_size();
      batch.page_count = ref.page_count();
      auto take = [&](uint32_t pgno) {
        if (pgno == 0 || pgno > batch.page_count) return;
        if (in_wal.count(pgno) != 0) {
          ++batch.skipped;
          return;
        }
        batch.pages.push_back(pgno);
        batch.expected.push_back(ref.PageHashAt(pgno));
      };
      for (uint32_t pgno : pages_first) take(pgno);
      uint32_t pgno = from;
      for (; pgno <= batch.page_count && pgno - from < max_pages; ++pgno) take(pgno);
      batch.next_page = pgno;
      return Status::Ok();
    }());
    return Status::Ok();  // the scrub's failures are its own, never the writer's
  });
  return planned.get_future().get();
}

Status Scrubber::Compare(Batch& batch) {
  Status s;
  for (size_t i = 0; i < batch.pages.size() && s.ok(); ++i) {
    auto page = ReadDatabaseFilePage(conn_->raw(), batch.page_size, batch.pages[i]);
    if (!page.ok()) {
      s = page.status();
      break;
    }
    const uint64_t hash = DbChecksum::PageHash(batch.pages[i], *page);
    if (hash != batch.expected[i]) {
      batch.differ.push_back(i);
      batch.found.push_back(hash);
    }
  }
  Status end = conn_->Exec("COMMIT").Wrap("end the scrub's read transaction");
  pages_.Add(batch.pages.size());
  pages_skipped_.Add(batch.skipped);
  return s.ok() ? end : s;
}

Result<ScrubStepResult> Scrubber::Step(uint32_t max_pages) {
  const std::string context = "scrub " + db_path_;
  WALSHIP_RETURN_IF_ERROR(EnsureConnection().Wrap(context));
  if (next_page_ == 1) pass_started_ns_ = clock_.MonotonicNanos();
  Batch batch{db_path_};
  WALSHIP_RETURN_IF_ERROR(Plan(batch, {}, next_page_, std::max<uint32_t>(1, max_pages)).Wrap(context));
  WALSHIP_RETURN_IF_ERROR(Compare(batch).Wrap(context));
  ScrubStepResult result{static_cast<uint32_t>(batch.pages.size()), batch.skipped, false};
  if (!batch.differ.empty()) {
    // Read again under a new checksum and a new snapshot: only a page that
    // differs twice counts.
    std::vector<uint32_t> suspects;
    for (size_t i : batch.differ) suspects.push_back(batch.pages[i]);
    Batch again{db_path_};
    WALSHIP_RETURN_IF_ERROR(Plan(again, suspects, 1, 0).Wrap(context + ": read again"));
    WALSHIP_RETURN_IF_ERROR(Compare(again).Wrap(context + ": read again"));
    if (again.differ.empty()) {
      LogWarn("scrub: pages differed once, then matched; not counted",
              {{"pages", suspects.size()}, {"first", suspects.front()}});
    } else {
      mismatches_.Add(again.differ.size());
      Status found = MismatchStatus(again);
      watch_.Observe("scrub", found);
      return found.Wrap("scrub").WithReason("scrub_mismatch");
    }
  }
  next_page_ = batch.next_page;
  if (next_page_ > batch.page_count) {
    result.pass_done = true;
    next_page_ = 1;
    passes_.Add();
    pass_seconds_.Observe(static_cast<double>(clock_.MonotonicNanos() - pass_started_ns_) / 1e9);
    last_pass_unix_.Set(clock_.NowUnixMillis() / 1000);
  }
  return result;
}

Status Scrubber::RunPass(uint32_t max_pages) {
  next_page_ = 1;
  for (;;) {
    auto step = Step(max_pages);
    if (!step.ok()) return step.status();
    if (step->pass_done) return Status::Ok();
  }
}

}  // namespace walship
