#include "replication/wal_capture.h"

#include <charconv>
#include <cstdint>
#include <filesystem>
#include <string_view>

#include "base/log.h"
#include "replication/db_file_pages.h"

namespace walship {
namespace {

Result<std::string> QueryText(sqlite3* db, const char* sql) {
  sqlite3_stmt* st = nullptr;
  if (int rc = sqlite3_prepare_v2(db, sql, -1, &st, nullptr); rc != SQLITE_OK) {
    return Status::Internal(std::string(sql) + ": " + sqlite3_errmsg(db));
  }
  std::string out;
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    const unsigned char* t = sqlite3_column_text(st, 0);
    out = t == nullptr ? "" : reinterpret_cast<const char*>(t);
  } else if (rc != SQLITE_DONE) {
    std::string msg = std::string(sql) + ": " + sqlite3_errmsg(db);
    sqlite3_finalize(st);
    return rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB ? Status::Corruption(msg) : Status::IOError(msg);
  }
  sqlite3_finalize(st);
  return out;
}

// A decimal number without exceptions: file names come from the disk, and
// 20 digits can be more than 64 bits hold.
std::optional<uint64_t> ParseDecimal(std::string_view digits) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  return v;
}

Status CheckIntegrity(sqlite3* db, const std::string& context) {
  auto check = QueryText(db, "PRAGMA integrity_check");
  if (!check.ok()) return check.status().Wrap(context);
  if (*check != "ok") return Status::Corruption(context + ": integrity_check: " + *check);
  return Status::Ok();
}

// The highest sequence of a base file in `dir` above `above`, if any.
std::optional<uint64_t> HighestBaseAbove(const std::string& dir, uint64_t above) {
  std::optional<uint64_t> best;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("base-", 0) != 0 || name.size() != 5 + 20 + 3 || name.compare(25, 3, ".db") != 0) continue;
    if (name.find_first_not_of("0123456789", 5) != 25) continue;
    const auto seq = ParseDecimal(std::string_view(name).substr(5, 20));
    if (seq && *seq > above && (!best || *seq > *best)) best = *seq;
  }
  return best;
}

// One past the highest sequence any segment file in `dir` names (even one
// whose header cannot be read), so no segment name is ever taken twice.
uint64_t NextFreeSequence(const std::string& dir, uint64_t at_least) {
  uint64_t next = at_least;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.size() < 20 || name.find_first_not_of("0123456789") < 20) continue;
    const auto seq = ParseDecimal(std::string_view(name).substr(0, 20));
    if (seq && *seq < UINT64_MAX) next = std::max<uint64_t>(next, *seq + 1);
  }
  return next;
}

}  // namespace

WalCapture::WalCapture(sqlite3* db, std::string wal_path, SegmentStore& store, const CaptureIdentity& identity,
                       uint32_t page_size, int zstd_level, Clock& clock, MetricsRegistry& metrics)
    : db_(db),
      wal_path_(std::move(wal_path)),
      store_(store),
      identity_(identity),
      page_size_(page_size),
      zstd_level_(zstd_level),
      clock_(clock),
      checksum_(page_size),
      segments_sealed_(metrics.GetCounter("walship_segments_sealed_total", "WAL segments sealed into the store")),
      segment_bytes_(metrics.GetCounter("walship_segment_bytes_total", "Bytes of sealed segments, as stored")),
      frames_captured_(metrics.GetCounter("walship_wal_frames_captured_total", "Committed WAL frames captured")),
      bases_started_(metrics.GetCounter("walship_segment_bases_total", "New chain bases (database snapshots)")),
      capture_seconds_(metrics.GetHistogram("walship_capture_seconds",
                                            "Time to read and verify one collect's new WAL frames (sealer thread)",
                                            LatencyBuckets())),
      seal_seconds_(metrics.GetHistogram("walship_seal_seconds",
                                         "Time to hash, compress and durably publish one segment (sealer thread)",
                                         LatencyBuckets())),
      sealer_(std::make_unique<SegmentSealer>(
          store, zstd_level, [this](const DecodedSegmentHeader& h, size_t bytes, double seconds) {
            segments_sealed_.Add();
            segment_bytes_.Add(bytes);
            seal_seconds_.Observe(seconds);
            stat_sequence_.store(h.header.sequence);
            stat_txid_.store(static_cast<int64_t>(h.header.last_txid));
            stat_checksum_.store(h.header.db_checksum_after);
            std::lock_guard lock(listener_mu_);
            if (sealed_listener_) sealed_listener_(h);
          })) {}

WalCapture::~WalCapture() {
  sealer_->Stop();
  ClosePin();
}

Result<std::unique_ptr<WalCapture>> WalCapture::Start(sqlite3* db, const std::string& db_path, SegmentStore& store,
                                                      const CaptureIdentity& identity, int64_t txid,
                                                      bool created_database, int zstd_level, Clock& clock,
                                                      MetricsRegistry& metrics) {
  auto page_size_text = QueryText(db, "PRAGMA page_size");
  if (!page_size_text.ok()) return page_size_text.status().Wrap("start WAL capture");
  const auto page_size_value = ParseDecimal(*page_size_text);
  if (!page_size_value || *page_size_value < 512 || *page_size_value > 65536) {
    return Status::Internal("start WAL capture: PRAGMA page_size gave \"" + *page_size_text + "\"");
  }
  const uint32_t page_size = static_cast<uint32_t>(*page_size_value);
  std::unique_ptr<WalCapture> c(
      new WalCapture(db, db_path + "-wal", store, identity, page_size, zstd_level, clock, metrics));

  auto file = ChecksumDatabaseFile(db, page_size);
  if (!file.ok()) return file.status().Wrap("start WAL capture");
  auto newest = store.NewestHeader();
  Status started;
  const uint64_t newest_sequence = newest.ok() && newest->has_value() ? (**newest).header.sequence : 0;
  if (auto base = c->ResumeOnNewestBase(newest_sequence, *file, txid); !base.ok()) {
    return base.status().Wrap("start WAL capture");
  } else if (*base) {
    started = Status::Ok();  // continues on a base no segment follows yet
  } else if (!newest.ok()) {
    LogError("segment store: the newest segment cannot be read; starting a new base after it",
             {{"error", newest.status().ToString()}});
    WALSHIP_RETURN_IF_ERROR(CheckIntegrity(db, "start WAL capture: " + db_path));
    c->next_sequence_ = NextFreeSequence(store.dir(), 1);
    c->last_txid_ = txid;
    started = c->StartNewBase("the newest segment cannot be read: " + newest.status().ToString());
  } else if (!newest->has_value()) {
    c->next_sequence_ = NextFreeSequence(store.dir(), 1);
    if (created_database) {
      started = c->StartOnEmptyFile(*file, txid);
    } else {
      // Adopting a database this store has never seen: it must be sound.
      WALSHIP_RETURN_IF_ERROR(CheckIntegrity(db, "start WAL capture: adopt " + db_path));
      c->last_txid_ = txid;
      started = c->StartNewBase("adopting a database the segment store has no chain for");
    }
  } else {
    const DecodedSegmentHeader& h = **newest;
    c->next_sequence_ = NextFreeSequence(store.dir(), h.header.sequence + 1);
    c->sealer_->SetPrevious(h.segment_sha256);
    c->next_starts_chain_ = false;
    c->last_txid_ = static_cast<int64_t>(h.header.last_txid);
    c->checksum_ = *file;
    Status r = c->Reconcile(h, txid);
    if (r.reason() == "db_file_changed") {
      return Status::Corruption(r.message() + ". Nothing was changed; run `walship restore --data " +
                                std::filesystem::path(db_path).parent_path().string() + "`")
          .WithReason("db_file_changed");
    }
    if (!r.ok() && identity.timeline == h.header.timeline && txid < static_cast<int64_t>(h.header.last_txid)) {
      // Committed transactions the store holds are missing from the
      // database: a deleted or replaced WAL, an older copy of the file. A
      // new base here would serve that loss as if nothing happened.
      return Status::Corruption("the database is at txid " + std::to_string(txid) +
                                ", behind the segment store, which holds transactions up to " +
                                std::to_string(h.header.last_txid) + " (segment " +
                                std::to_string(h.header.sequence) +
                                "): its WAL was deleted or replaced, or the file is an older copy. Nothing was "
                                "changed; run `walship restore --data " +
                                std::filesystem::path(db_path).parent_path().string() + "`")
          .WithReason("db_behind_store");
    }
    if (!r.ok()) {
      // Foreign writes while the node was down, or damage: a damaged file
      // must not become a base.
      if (identity.timeline > h.header.timeline) {
        LogInfo("segment store: the database is on a new timeline (a restore to an earlier point); starting a new "
                "base for it",
                {{"segment", h.header.sequence}, {"timeline", identity.timeline}});
      } else {
        LogError("segment store: the database does not continue the newest segment; checking it, then starting "
                 "a new base",
                 {{"segment", h.header.sequence}, {"why", r.ToString()}});
      }
      WALSHIP_RETURN_IF_ERROR(CheckIntegrity(db, "start WAL capture: " + db_path));
      // A database on a newer timeline (a restore to a point before the
      // store's end) starts its own history at its own txid; otherwise the
      // txids never go back, so no position is given to two states.
      c->last_txid_ = identity.timeline > h.header.timeline ? txid : std::max<int64_t>(c->last_txid_, txid);
      started = c->StartNewBase(r.message());
    }
  }
  if (started.ok()) started = c->sealer_->WaitSealed();
  if (!started.ok()) return started.Wrap("start WAL capture");
  auto version = c->DataVersion();
  if (!version.ok()) return version.status().Wrap("start WAL capture");
  c->data_version_ = *version;
  c->PublishStats();
  c->OpenPin(db_path);
  c->MovePinToWalEnd();  // everything in the WAL is sealed (above)
  return c;
}

Status WalCapture::Reconcile(const DecodedSegmentHeader& newest, int64_t txid) {
  const SegmentHeader& h = newest.header;
  if (h.page_size != page_size_) {
    return Status::Conflict("page size " + std::to_string(page_size_) + " differs from the segment's " +
                            std::to_string(h.page_size));
  }
  const WalPosition captured{h.wal_salt1, h.wal_salt2, h.wal_last_frame, WalChecksum{h.wal_checksum1, h.wal_checksum2}};
  auto all = ScanWalFile(wal_path_, {});
  if (!all.ok()) return all.status();
  if (all->end == WalEnd::kCorruption) return all->corruption->ToStatus();
  DbChecksum sum = checksum_;  // the file; then the frames the segment covers
  bool found = false;
  bool frames_after = false;  // committed frames after the segment's last one
  if (!all->empty && all->header.salt1 == h.wal_salt1 && all->header.salt2 == h.wal_salt2) {
    for (const auto& f : all->frames) {
      frames_after |= f.index > h.wal_last_frame;
      if (f.index > h.wal_last_frame) break;
      WALSHIP_RETURN_IF_ERROR(sum.UpdatePage(f.page_number, f.page));
      if (f.is_commit()) sum.SetPageCount(f.db_pages_after_commit);
      found = f.index == h.wal_last_frame && f.checksum == captured.checksum;
    }
    if (!found) return Status::Conflict("the WAL no longer holds the segment's last frame " + std::to_string(h.wal_last_frame));
  }
  if ((sum.Value() != h.db_checksum_after || sum.page_count() != h.db_pages_after) && found && !frames_after) {
    // Our WAL still continues the segment and holds nothing after it: no
    // checkpoint (ours or another process's) can have made this file.
    return Status::Corruption("the database file (checksum " + DbChecksumHex(sum.Value()) + ", " +
                              std::to_string(sum.page_count()) + " pages with the WAL's frames) is not the one "
                              "segment " + std::to_string(h.sequence) + " leaves (checksum " +
                              DbChecksumHex(h.db_checksum_after) + ", " + std::to_string(h.db_pages_after) +
                              " pages), and the WAL, which still continues that segment, holds no commit after it "
                              "that could explain the difference: the file was damaged or replaced while the node "
                              "was stopped")
        .WithReason("db_file_changed");
  }
  if (sum.Value() != h.db_checksum_after || sum.page_count() != h.db_pages_after) {
    return Status::Conflict("the database (checksum " + DbChecksumHex(sum.Value()) + ", " +
                            std::to_string(sum.page_count()) + " pages) is not the one segment " +
                            std::to_string(h.sequence) + " leaves (checksum " + DbChecksumHex(h.db_checksum_after) +
                            ", " + std::to_string(h.db_pages_after) + " pages)");
  }
  checksum_ = sum;
  position_ = captured;
  auto rest = ScanWalFile(wal_path_, {captured, true});
  if (!rest.ok()) return rest.status();
  auto labels = LabelEndingAt(*rest, txid, clock_.NowUnixMillis());
  const int64_t first = labels && !labels->empty() ? labels->front().txid : txid + 1;
  if (!labels || first != last_txid_ + 1) {
    return Status::Conflict(std::to_string(rest->commit_count()) + " commits in the WAL after segment " +
                            std::to_string(h.sequence) + " (txid " + std::to_string(last_txid_) +
                            ") do not lead to the database's txid " + std::to_string(txid));
  }
  if (labels->empty()) return Status::Ok();
  return Seal(std::move(*rest), *labels);
}

Result<bool> WalCapture::ResumeOnNewestBase(uint64_t newest_sequence, const DbChecksum& file, int64_t txid) {
  const auto base = HighestBaseAbove(store_.dir(), newest_sequence);
  if (!base) return false;
  auto path = store_.BasePath(*base);
  if (!path) return false;
  auto sum = DbChecksum::ComputeFromFile(*path, page_size_);
  if (!sum.ok() || sum->Value() != file.Value() || sum->page_count() != file.page_count()) return false;
  // The file is still the base: only WAL commits (if any) came after it.
  auto scan = ScanWalFile(wal_path_, {});
  if (!scan.ok()) return scan.status();
  if (scan->end == WalEnd::kCorruption) return scan->corruption->ToStatus();
  auto labels = LabelEndingAt(*scan, txid, clock_.NowUnixMillis());
  if (!labels) return false;
  checksum_ = std::move(sum).value();
  next_sequence_ = *base;
  next_starts_chain_ = true;
  position_.reset();
  last_txid_ = txid - static_cast<int64_t>(labels->size());
  LogInfo("segment store: continuing on base snapshot " + std::to_string(*base) + ", which no segment follows yet",
          {{"uncaptured_commits", labels->size()}});
  if (labels->empty()) return true;
  WALSHIP_RETURN_IF_ERROR(Seal(std::move(*scan), *labels));
  return true;
}

Status WalCapture::StartOnEmptyFile(const DbChecksum& file, int64_t txid) {
  checksum_ = DbChecksum(page_size_);
  position_.reset();
  next_starts_chain_ = true;
  auto scan = ScanWalFile(wal_path_, {});
  if (!scan.ok()) return scan.status();
  if (scan->end == WalEnd::kCorruption) return scan->corruption->ToStatus();
  // The frames must give the same database on the empty file as on the
  // file SQLite made, or the empty file is no base for them.
  DbChecksum on_empty(page_size_);
  DbChecksum on_file = file;
  for (const auto& f : scan->frames) {
    WALSHIP_RETURN_IF_ERROR(on_empty.UpdatePage(f.page_number, f.page));
    WALSHIP_RETURN_IF_ERROR(on_file.UpdatePage(f.page_number, f.page));
    if (f.is_commit()) {
      on_empty.SetPageCount(f.db_pages_after_commit);
      on_file.SetPageCount(f.db_pages_after_commit);
    }
  }
  auto labels = LabelEndingAt(*scan, txid, clock_.NowUnixMillis());
  if (!labels || labels->empty() || labels->front().txid != 0 || on_empty.Value() != on_file.Value()) {
    last_txid_ = txid;
    return StartNewBase("the WAL's " + std::to_string(scan->commit_count()) +
                        " commits do not make the new database from an empty file");
  }
  return Seal(std::move(*scan), *labels);
}

Status WalCapture::StartNewBase(std::string_view why) {
  LogWarn("segment store: starting a new base (a snapshot of the database)",
          {{"sequence", next_sequence_}, {"why", why}});
  // What was collected before is sealed first: the base comes after it. A
  // conflict the sealer met is why this base is needed (the base holds
  // every frame it did not seal).
  if (Status s = sealer_->WaitSealed(); !s.ok() && !TakeSealerConflict()) return s.Wrap("new base");
  ReleasePin();  // this checkpoint must copy every frame
  int log_frames = 0;
  int done = 0;
  int rc = sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_TRUNCATE, &log_frames, &done);
  if (rc != SQLITE_OK) {
    Status s = rc == SQLITE_BUSY ? Status::Unavailable("a reader holds an older snapshot")
                                 : Status::IOError(sqlite3_errmsg(db_));
    return s.Wrap("new base: checkpoint");
  }
  // From here on the WAL no longer holds the frames since the last segment:
  // if the base cannot be published they are in no segment and no base, so
  // the failure stops writes (an I/O error to the writer).
  Status published;
  if (store_.BasePath(next_sequence_)) {
    // An earlier base no segment followed: this one supersedes it, under the
    // same sequence, so the segments stay one apart.
    auto moved = store_.QuarantineBase(next_sequence_, clock_.NowUnixMillis());
    if (moved.ok()) LogWarn("segment store: superseded base moved to quarantine", {{"path", *moved}});
    published = moved.status();
  }
  // The copy is written straight into the store's durable publish.
  Result<DbChecksum> copy = Status::Internal("the base was not copied");
  if (published.ok()) {
    published = store_.PublishBaseFrom(next_sequence_, [&](int fd, const std::string& tmp_path) {
      copy = CopyDatabaseFile(db_, page_size_, fd, tmp_path);
      return copy.status();
    });
  }
  if (!published.ok()) {
    return Status::IOError("new base " + std::to_string(next_sequence_) + " after a checkpoint: " +
                           published.ToString())
        .WithReason("base_copy_failed");
  }
  checksum_ = std::move(copy).value();
  position_.reset();  // the TRUNCATE checkpoint emptied the WAL
  conflict_.reset();
  next_starts_chain_ = true;
  auto version = DataVersion();
  if (!version.ok()) return version.status().Wrap("new base");
  data_version_ = *version;
  if (!pending_.empty()) last_txid_ = std::max(last_txid_, pending_.back().txid);
  pending_.clear();
  last_commit_frame_ = 0;  // the TRUNCATE checkpoint emptied the WAL
  bases_started_.Add();
  stat_bases_.fetch_add(1);
  PublishStats();
  return Status::Ok();
}

std::optional<std::vector<WalCapture::PendingCommit>> WalCapture::LabelEndingAt(const WalScan& scan, int64_t txid,
                                                                                int64_t now_ms) {
  const int64_t commits = static_cast<int64_t>(scan.commit_count());
  if (txid - commits + 1 < 0) return std::nullopt;
  std::vector<PendingCommit> out;
  for (int64_t t = txid - commits + 1; t <= txid; ++t) out.push_back({t, now_ms});
  return out;
}

void WalCapture::AfterCommit(int64_t txid, int64_t commit_unix_ms, uint32_t wal_commit_frame) {
  if (pending_.empty()) pending_wal_bytes_ = 0;
  pending_.push_back({txid, commit_unix_ms, wal_commit_frame});
  end_checked_ = false;
  // The commit's frames: those after the previous commit's, or from frame 1
  // when the WAL started over (a frame number that went down). A hook that
  // gave no frame (0) counts none: the size limit is a bound, not the truth.
  const uint32_t frames = wal_commit_frame > last_commit_frame_ ? wal_commit_frame - last_commit_frame_
                                                                : wal_commit_frame;
  if (wal_commit_frame != 0) last_commit_frame_ = wal_commit_frame;
  pending_wal_bytes_ += static_cast<int64_t>(frames) * (page_size_ + kWalFrameHeaderSize);
  // Collect now and then between checkpoints, so each pause of the writer
  // stays short and the sealer works while writes go on.
  const int64_t now = clock_.MonotonicNanos();
  if (collect_max_wal_bytes_ > 0 && pending_wal_bytes_ >= collect_max_wal_bytes_ && !collect_blocked_) {
    return CollectBetweenCheckpoints(now);
  }
  if (collect_gate_) {
    if (collect_gate_()) CollectNow();
    return;
  }
  const int64_t interval_ns = collect_interval_ns_.load();
  if (collect_blocked_ || interval_ns <= 0 || now - last_collect_ns_ < interval_ns) return;
  CollectBetweenCheckpoints(now);
}

void WalCapture::CollectBetweenCheckpoints(int64_t now_ns) {
  last_collect_ns_ = now_ns;
  if (Status s = CollectAndPin(); !s.ok()) collect_blocked_ = true;  // the next checkpoint deals with it
}

void WalCapture::CollectNow() {
  if (collect_blocked_ || pending_.empty()) return;
  const int64_t now = clock_.MonotonicNanos();
  // Asynchronous: the node's collect tick; commits collected a moment ago
  // by AfterCommit need no second, tiny segment. Synchronous: only while the
  // shipper is idle (the tick must not cut segments under a push in flight).
  if (collect_gate_) {
    if (!collect_gate_()) return;  // a push travels: its answer asks again
  } else if (now - last_collect_ns_ < collect_interval_ns_.load() / 2) {
    return;
  }
  CollectBetweenCheckpoints(now);
}

Result<int64_t> WalCapture::DataVersion() const {
  auto v = QueryText(db_, "PRAGMA data_version");
  if (!v.ok()) return v.status();
  const auto n = ParseDecimal(*v);
  if (!n) return Status::Internal("PRAGMA data_version gave \"" + *v + "\"");
  return static_cast<int64_t>(*n);
}

bool WalCapture::PrepareCheckpoint() {
  if (!sealer_->Idle()) return false;  // the last hand-over is still being sealed
  if (collect_blocked_ || pending_.empty() || prepared_) return true;
  // Not idle after this (unless nothing new reached the WAL): the writer
  // comes back once the sealer is done, with only a few commits left.
  last_collect_ns_ = clock_.MonotonicNanos();
  if (Status s = CollectAndPin(); !s.ok()) {
    collect_blocked_ = true;  // BeforeCheckpoint deals with it, now
    return true;
  }
  prepared_ = true;
  return sealer_->Idle();
}

Status WalCapture::BeforeCheckpoint(sqlite3* /*writer*/, std::string_view reason) {
  const std::string context = "capture WAL before checkpoint (" + std::string(reason) + ")";
  collect_blocked_ = false;
  prepared_ = false;
  end_checked_ = false;
  last_collect_ns_ = clock_.MonotonicNanos();
  // An idle, healthy sealer has made every frame up to the pin durable: the
  // checkpoint may copy those while the frames collected now seal, and the
  // pin keeps it from copying these (BeforeWalReset waits for them).
  const bool copy_while_sealing = pinned_ && sealer_->Idle();
  if (copy_while_sealing) {
    Status sealed = sealer_->WaitSealed();  // at once: its failure
    if (!sealed.ok() && !TakeSealerConflict()) return sealed.Wrap(context);
  }
  Status s = Collect();
  if (s.reason() == "wal_diverged" || s.reason() == "foreign_writes") return StartNewBase(s.message());
  WALSHIP_RETURN_IF_ERROR(s.Wrap(context));
  if (copy_while_sealing) return Status::Ok();
  WALSHIP_RETURN_IF_ERROR(WaitSealedOrNewBase().Wrap(context));  // the pin stays: writes stop
  ReleasePin();  // everything is durable: the checkpoint may copy it all
  return Status::Ok();
}

Status WalCapture::BeforeWalReset() {
  // After a failed seal the pin stays: the writer stops, and no other
  // process's checkpoint may copy the frames the store does not have.
  WALSHIP_RETURN_IF_ERROR(WaitSealedOrNewBase().Wrap("seal the last segment before the WAL is reset"));
  ReleasePin();
  // The WAL may start over at frame 1: count the next commit's frames from
  // there (if it goes on instead, that commit counts too many, which only
  // collects it early).
  last_commit_frame_ = 0;
  return Status::Ok();
}

Status WalCapture::TakeSnapshot(sqlite3* writer, std::string_view why) {
  const std::string context = "snapshot (" + std::string(why) + ")";
  WALSHIP_RETURN_IF_ERROR(BeforeCheckpoint(writer, why).Wrap(context));
  WALSHIP_RETURN_IF_ERROR(BeforeWalReset().Wrap(context));
  if (next_starts_chain_ && store_.BasePath(next_sequence_)) {
    // The newest base has no segment after it yet: it is the snapshot.
    return Status::Ok();
  }
  Status s = StartNewBase(why);
  if (s.reason() != "base_copy_failed") return s.Wrap(context);
  // Every committed frame was sealed above, so a base that could not be
  // copied (say, the disk is full) loses nothing: the chain goes on as after
  // any checkpoint, and writes go on. Only the snapshot is missing.
  return Status::Unavailable(context + ": " + s.ToString());
}

Result<const DbChecksum*> WalCapture::ChecksumForScrub(sqlite3* /*writer*/) {
  if (collect_blocked_) {
    return Status::Unavailable("the last collect failed; the next checkpoint deals with it").WithReason("capture_behind");
  }
  auto version = DataVersion();
  if (!version.ok()) return version.status().Wrap("database checksum for the scrub");
  if (*version != data_version_) {
    return Status::Unavailable("another connection committed to the database; the next checkpoint starts a new base")
        .WithReason("foreign_writes");
  }
  // The checksum is the sealer's until it has sealed what was handed over.
  const Status sealed = sealer_->WaitSealed();
  TakeSealerConflict();
  if (conflict_) {
    return Status::Unavailable("frames were written behind the node's back; the next checkpoint starts a new base")
        .WithReason("foreign_writes");
  }
  if (!sealed.ok()) return Status::Unavailable("the sealer failed: " + sealed.ToString()).WithReason("capture_behind");
  return &checksum_;
}

void WalCapture::PublishStats() {
  // Before any segment of this process is sealed: what the store holds.
  if (stat_sequence_.load() == 0) {
    stat_sequence_.store(next_sequence_ - 1);
    stat_txid_.store(last_txid_);
    stat_checksum_.store(checksum_.Value());
  }
}

CaptureStats WalCapture::Stats() const {
  return CaptureStats{stat_sequence_.load(), stat_txid_.load(), stat_checksum_.load(), stat_bases_.load()};
}

}  // namespace walship
