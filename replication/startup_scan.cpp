#include "replication/startup_scan.h"

#include <filesystem>

#include <memory>

#include "base/log.h"

namespace walship {
namespace {

std::string Plural(uint64_t n, std::string_view one, std::string_view many) {
  return std::to_string(n) + " " + std::string(n == 1 ? one : many);
}

std::string ActionFor(const std::string& wal_path) {
  return "the WAL holds committed transactions behind a damaged frame; keep " + wal_path +
         " and the -shm byte for byte (do not open the database with sqlite3 or any other tool: a "
         "read-write open drops those transactions and deletes the WAL); stop the node and run `walship restore "
         "--data " + std::filesystem::path(wal_path).parent_path().string() +
         "` (add --fetch-from http://STANDBY:PORT when there is a standby): it restores every transaction the "
         "segment store holds, and the WAL's own before the damaged frame, and moves these files to quarantine";
}

// The header itself is not a WAL header: SQLite would ignore the whole file.
void RefuseUnreadableHeader(const Status& error, StartupWalReport* r) {
  r->end = WalEnd::kCorruption;
  r->refusal = Status::Corruption(r->wal_path + ": " + error.message() + ": SQLite would ignore all " +
                                  Plural(r->wal_bytes, "byte", "bytes") +
                                  " of the WAL and any committed transactions in it")
                   .WithReason("wal_corrupt");
  r->action = ActionFor(r->wal_path);
}

void RefuseCorruption(const WalScan& scan, StartupWalReport* r) {
  const WalCorruption& c = *scan.corruption;
  const size_t after = c.commit_frames_at_stake.size();
  r->refusal = Status::Corruption(r->wal_path + ": " + c.ToStatus().message() + "; " +
                                  Plural(after, "committed transaction", "committed transactions") +
                                  " after the bad frame, " + std::to_string(r->committed_transactions) +
                                  " before it")
                   .WithReason("wal_corrupt");
  r->action = ActionFor(r->wal_path);
}

}  // namespace

std::string StartupWalReport::Summary() const {
  if (wal_bytes == 0) return "clean: no WAL";
  std::string committed = Plural(committed_transactions, "committed transaction", "committed transactions");
  switch (end) {
    case WalEnd::kClean:
      return "clean: " + committed + " up to frame " + std::to_string(last_commit_frame);
    case WalEnd::kTornTail: {
      std::string s = "torn tail: " + committed + " up to frame " + std::to_string(last_commit_frame) +
                      ", then " + Plural(tail_frames, "uncommitted frame", "uncommitted frames");
      if (tail_partial_bytes > 0) s += " and a partial frame of " + Plural(tail_partial_bytes, "byte", "bytes");
      s += " that SQLite will drop";
      if (!tail_detail.empty()) s += " (" + tail_detail + ")";
      return s;
    }
    case WalEnd::kCorruption:
      return "corruption: " + refusal.message();
  }
  return "unknown";
}

Result<StartupWalReport> ScanWalAtStartup(const std::string& db_path) {
  StartupWalReport r;
  r.wal_path = db_path + "-wal";
  Result<std::unique_ptr<FileWalSource>> source = FileWalSource::Open(r.wal_path);
  if (!source.ok() && source.status().code() == Code::kNotFound) return r;
  if (!source.ok()) return source.status().Wrap("start-up scan of " + r.wal_path);
  r.wal_bytes = (*source)->size();

  Result<WalScan> scan = ScanWal(**source, WalScanOptions{.after = std::nullopt, .keep_pages = false});
  if (!scan.ok() && scan.status().code() == Code::kCorruption) {
    RefuseUnreadableHeader(scan.status(), &r);
    return r;
  }
  if (!scan.ok()) return scan.status().Wrap("start-up scan of " + r.wal_path);

  r.end = scan->end;
  r.last_commit_frame = scan->last_commit_frame();
  for (const WalFrame& f : scan->frames) r.committed_transactions += f.is_commit() ? 1 : 0;
  if (scan->end == WalEnd::kCorruption) {
    RefuseCorruption(*scan, &r);
  } else if (scan->end == WalEnd::kTornTail && !scan->empty) {
    const uint64_t body = r.wal_bytes - kWalHeaderSize;
    const uint64_t frame_size = scan->header.frame_size();
    r.tail_frames = static_cast<uint32_t>(body / frame_size) - r.last_commit_frame;
    r.tail_partial_bytes = body % frame_size;
    r.tail_detail = scan->stop_detail;
  } else if (scan->end == WalEnd::kTornTail) {
    r.tail_partial_bytes = r.wal_bytes;  // not even a whole header
    r.tail_detail = scan->stop_detail;
  }
  return r;
}

void LogStartupWalReport(const StartupWalReport& r) {
  if (r.refused()) {
    LogError("refusing to open the database: the WAL holds committed transactions SQLite would drop",
             {{"wal", r.wal_path}, {"error", r.refusal.message()}, {"action", r.action}});
  } else if (r.end == WalEnd::kTornTail) {
    LogWarn("wal at start-up", {{"wal", r.wal_path}, {"finding", r.Summary()}});
  } else {
    LogInfo("wal at start-up", {{"wal", r.wal_path}, {"finding", r.Summary()}});
  }
}

}  // namespace walship
