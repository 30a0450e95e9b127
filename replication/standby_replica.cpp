#include "replication/standby_replica.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <chrono>
#include <filesystem>
#include <fstream>

#include "base/fs.h"
#include "base/log.h"
#include "replication/segment_chain.h"
#include "replication/segment_replay.h"

namespace walship {
namespace {

std::string SegmentName(uint64_t sequence) { return "segment " + std::to_string(sequence); }

std::string ChecksumText(uint64_t value, uint32_t pages) {
  return DbChecksumHex(value) + " (" + std::to_string(pages) + " pages)";
}

bool ChecksumIs(const DbChecksum& sum, uint64_t value, uint32_t pages) {
  return sum.Value() == value && sum.page_count() == pages;
}

}  // namespace

StandbyReplica::StandbyReplica(std::string replica_path, std::string segments_dir, std::string quarantine_dir,
                               std::unique_ptr<SegmentStore> store, Clock& clock, MetricsRegistry& metrics)
    : replica_path_(std::move(replica_path)),
      segments_dir_(std::move(segments_dir)),
      quarantine_dir_(std::move(quarantine_dir)),
      store_(std::move(store)),
      clock_(clock),
      segments_applied_(metrics.GetCounter("walship_standby_segments_applied_total",
                                           "Segments the standby verified and applied")),
      bytes_received_(metrics.GetCounter("walship_standby_bytes_received_total",
                                         "Bytes of segments and bases pushed to the standby")),
      rejected_(metrics.GetCounter("walship_standby_segments_rejected_total",
                                   "Pushed segments the standby refused (corrupt, out of order, conflicting)")),
      apply_seconds_(metrics.GetHistogram("walship_standby_apply_seconds",
                                          "Time to apply one segment to the replica and fsync it",
                                          LatencyBuckets())) {}

namespace {

// BaseReceivePath's files: the store lists no name starting with "tmp-".
constexpr std::string_view kReceivePrefix = "tmp-receive-";

// A base push cut off by a crash leaves its temp file (BaseReceivePath):
// bytes still in transit, never data of this node, as big as a database.
void RemoveUnfinishedReceives(const std::string& segments_dir) {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(segments_dir, ec)) {
    const std::string name = e.path().filename().string();
    if (!name.starts_with(kReceivePrefix)) continue;
    std::error_code rm;
    std::filesystem::remove(e.path(), rm);
    LogInfo("removed an unfinished base push", {{"path", e.path().string()}, {"error", rm ? rm.message() : "none"}});
  }
}

}  // namespace

Result<std::unique_ptr<StandbyReplica>> StandbyReplica::Open(const std::string& replica_path,
                                                             const std::string& segments_dir,
                                                             const std::string& quarantine_dir, Clock& clock,
                                                             MetricsRegistry& metrics) {
  const std::string context = "open standby replica " + replica_path;
  if (FileSizeOrZero(replica_path + "-wal") > 0) {
    return Status::Conflict(context + ": " + replica_path +
                            "-wal exists: this folder belongs to a primary (a standby's replica never has a WAL); "
                            "give the standby a folder of its own");
  }
  auto store = SegmentStore::Open(segments_dir);
  if (!store.ok()) return store.status().Wrap(context);
  RemoveUnfinishedReceives(segments_dir);
  std::unique_ptr<StandbyReplica> r(
      new StandbyReplica(replica_path, segments_dir, quarantine_dir, std::move(store).value(), clock, metrics));
  std::lock_guard lock(r->mu_);
  if (Status s = r->Recover(); !s.ok()) {
    // The node stays up to say so (status, /readyz); it applies nothing and
    // serves nothing from a replica it could not make whole.
    r->serveable_ = false;
    Status failed = r->Fail(s.Wrap(context));
    LogError("standby replica cannot continue", {{"error", failed.ToString()}});
  }
  return r;
}

Status StandbyReplica::Fail(Status s) {
  if (failure_.ok()) failure_ = std::move(s);
  return failure_;
}

void StandbyReplica::MarkApplied(const DecodedSegmentHeader& h) {
  applied_ = h;
  state_.has_database = true;
  has_database_ = true;
  state_.sequence = h.header.sequence;
  state_.timeline = h.header.timeline;
  state_.txid = static_cast<int64_t>(h.header.last_txid);
  state_.db_checksum = h.header.db_checksum_after;
  state_.last_commit_unix_ms = h.header.commits.empty() ? 0 : h.header.commits.back().commit_unix_ms;
  state_.last_applied_unix_ms = clock_.NowUnixMillis();
  state_.cluster_hex = HexOf(h.header.cluster_id);
  applied_cv_.notify_all();
}

Status StandbyReplica::Recover() {
  auto entries = store_->List();
  if (!entries.ok()) return entries.status();
  if (entries->empty()) {
    if (FileSizeOrZero(replica_path_) > 0) {
      return Status::Conflict(replica_path_ +
                              " exists but the segment store is empty: this folder is not a standby's");
    }
    LogInfo("standby is empty: waiting for the primary's first segment", {{"replica", replica_path_}});
    return Status::Ok();
  }
  const SegmentFileEntry& newest_entry = entries->back();
  auto bytes = store_->ReadBytes(newest_entry);
  if (!bytes.ok()) return bytes.status();
  auto newest = DecodeSegment(*bytes);
  if (!newest.ok()) return newest.status().Wrap("stored " + SegmentName(newest_entry.sequence));
  const SegmentHeader& h = newest->header.header;

  if (FileSizeOrZero(replica_path_) > 0 || (h.chain_start() && h.db_pages_before == 0)) {
    auto applier = SegmentApplier::Open(replica_path_, h.page_size);
    if (!applier.ok()) return applier.status();
    const DbChecksum& sum = applier->checksum();
    if (ChecksumIs(sum, h.db_checksum_after, h.db_pages_after)) {
      applier_ = std::move(applier).value();
      MarkApplied(newest->header);
      LogInfo("standby replica is at its newest segment", {{"sequence", h.sequence}, {"txid", h.last_txid}});
      return Status::Ok();
    }
    if (ChecksumIs(sum, h.db_checksum_before, h.db_pages_before)) {
      // Stored, then stopped before the apply began.
      applier_ = std::move(applier).value();
      WALSHIP_RETURN_IF_ERROR(ApplyStored(*newest, /*after_crash=*/false));
      MarkApplied(newest->header);
      LogInfo("standby applied its newest stored segment", {{"sequence", h.sequence}, {"txid", h.last_txid}});
      return Status::Ok();
    }
    if (!h.chain_start()) {
      // Stopped in the middle of the apply: write the whole segment again.
      applier_ = std::move(applier).value();
      if (ApplyStored(*newest, /*after_crash=*/true).ok()) {
        MarkApplied(newest->header);
        LogWarn("standby replica was caught in the middle of a segment: applied it again",
                {{"sequence", h.sequence}, {"txid", h.last_txid}});
        return Status::Ok();
      }
      applier_.reset();
    }
  }
  WALSHIP_RETURN_IF_ERROR(RebuildFromChainStart(newest->header, "the replica matches none of the newest segments"));
  serveable_ = true;  // whole again (a failed attempt above may have cleared it); no reader exists yet
  return Status::Ok();
}

Result<std::string> StandbyReplica::QuarantineReplica() {
  return MoveIntoFolder(replica_path_, quarantine_dir_, "index.db." + std::to_string(clock_.NowUnixMillis()));
}

Status StandbyReplica::RebuildFromChainStart(const DecodedSegmentHeader& newest, std::string_view why) {
  LogWarn("standby rebuilds its replica from the chain start", {{"why", why}, {"through", newest.header.sequence}});
  if (FileSizeOrZero(replica_path_) > 0) {
    auto moved = QuarantineReplica();
    if (!moved.ok()) return moved.status().Wrap("rebuild the replica");
    LogWarn("previous replica moved to quarantine", {{"path", *moved}});
  } else if (::unlink(replica_path_.c_str()) != 0 && errno != ENOENT) {
    // An empty file (never a database): nothing in it to keep.
    return Status::IOError("rebuild the replica: remove empty " + replica_path_ + ": " + ErrnoMessage(errno));
  }
  auto replay = ReplaySegments(*store_, replica_path_);
  if (!replay.ok()) return replay.status().Wrap("rebuild the replica");
  if (replay->last_sequence != newest.header.sequence || replay->db_checksum != newest.header.db_checksum_after) {
    return Status::Corruption("rebuild the replica: the replay ended at " + SegmentName(replay->last_sequence) +
                              " with checksum " + DbChecksumHex(replay->db_checksum) + ", expected " +
                              SegmentName(newest.header.sequence) + " with " +
                              DbChecksumHex(newest.header.db_checksum_after));
  }
  auto applier = SegmentApplier::Open(replica_path_, newest.header.page_size);
  if (!applier.ok()) return applier.status();
  applier_ = std::move(applier).value();
  MarkApplied(newest);
  LogInfo("standby replica rebuilt", {{"segments", replay->segments}, {"txid", replay->last_txid}});
  return Status::Ok();
}

Status StandbyReplica::ResetToChainStart(const DecodedSegmentHeader& start, std::string_view why) {
  const uint64_t sequence = start.header.sequence;
  if (FileSizeOrZero(replica_path_) > 0) {
    auto moved = QuarantineReplica();
    if (!moved.ok()) return moved.status();
    LogWarn("replica replaced by a new chain start; the previous one is in quarantine",
            {{"why", why}, {"sequence", sequence}, {"path", *moved}});
  }
  if (start.header.db_pages_before != 0) {
    auto base = store_->BasePath(sequence);
    if (!base) return Status::NotFound("the base of " + SegmentName(sequence) + " is not in the store");
    WALSHIP_RETURN_IF_ERROR(CopyFileAtomically(*base, replica_path_));
  }
  auto applier = SegmentApplier::Open(replica_path_, start.header.page_size);
  if (!applier.ok()) return applier.status();
  applier_ = std::move(applier).value();
  return Status::Ok();
}

namespace {

// Fault injection for the crash tests (tests/integration/standby_test.cpp):
// WALSHIP_FAILPOINT_KILL_MID_APPLY=N makes the N-th apply of this process
// write its first commit's pages only, then SIGKILL the process: a kill -9
// that lands inside an apply, every time. Unset in production.
int64_t KillMidApplyAt() {
  static const int64_t at = [] {
    const char* v = std::getenv("WALSHIP_FAILPOINT_KILL_MID_APPLY");
    return v != nullptr ? std::atoll(v) : 0;
  }();
  return at;
}

}  // namespace

void StandbyReplica::MaybeKillMidApply(const DecodedSegment& segment) {
  // Counts only applies it can cut in two: a segment that follows another.
  if (KillMidApplyAt() <= 0 || !applier_ || segment.header.header.chain_start()) return;
  if (++applies_ != KillMidApplyAt()) return;
  gate_.Apply([&] { return applier_->Apply(segment, segment.header.header.first_txid); })
      .IgnoreError();  // the process dies next; the next start repairs what this left
  LogWarn("failpoint: killing the process in the middle of an apply", {{"sequence", segment.header.header.sequence}});
  ::raise(SIGKILL);
}

Status StandbyReplica::ApplyStored(const DecodedSegment& segment, bool after_crash) {
  const int64_t started = clock_.MonotonicNanos();
  Status s = gate_.Apply([&] {
    if (segment.header.header.chain_start() && !after_crash && applied_) {
      WALSHIP_RETURN_IF_ERROR(ResetToChainStart(segment.header, "the primary started a new base"));
    } else if (segment.header.header.chain_start() && !applier_) {
      WALSHIP_RETURN_IF_ERROR(ResetToChainStart(segment.header, "first segment"));
    }
    Status applied = after_crash ? applier_->Reapply(segment) : applier_->Apply(segment);
    // Part of the segment may be in the file: no reader may see it.
    if (!applied.ok()) serveable_ = false;
    return applied;
  });
  if (s.ok()) s = applier_->Sync();
  apply_seconds_.Observe(static_cast<double>(clock_.MonotonicNanos() - started) / 1e9);
  return s;
}

Status StandbyReplica::CheckFollows(const DecodedSegmentHeader& d) const {
  const SegmentHeader& h = d.header;
  if (applied_ && h.cluster_id != applied_->header.cluster_id) {
    return Status::Conflict(SegmentName(h.sequence) + " belongs to cluster " + HexOf(h.cluster_id) +
                            "; this standby follows cluster " + HexOf(applied_->header.cluster_id))
        .WithReason("cluster_mismatch");
  }
  if (applied_ && h.timeline < applied_->header.timeline) {
    return Status::Conflict(SegmentName(h.sequence) + " is on timeline " + std::to_string(h.timeline) +
                            ", behind the applied timeline " + std::to_string(applied_->header.timeline))
        .WithReason("timeline_behind");
  }
  if (h.chain_start()) return Status::Ok();
  if (!applied_) {
    return Status::Conflict("this standby is empty: it needs a segment that starts a chain, not " +
                            SegmentName(h.sequence))
        .WithReason("out_of_order");
  }
  if (h.sequence != applied_->header.sequence + 1) {
    return Status::Conflict("expected segment " + std::to_string(applied_->header.sequence + 1) + ", got " +
                            std::to_string(h.sequence))
        .WithReason("out_of_order");
  }
  return Status::Ok();
}

std::string StandbyReplica::BaseReceivePath(uint64_t sequence) const {
  // segments_dir_, not store_->dir(): the store object is replaced by a
  // resync, the folder's name is not.
  // A number of its own per call: two pushes of one base never share a file.
  return segments_dir_ + "/" + std::string(kReceivePrefix) + std::to_string(receive_counter_.fetch_add(1)) + "-" +
         SegmentStore::BaseFileName(sequence);
}

namespace {

// At least one page, starting with SQLite's magic.
Result<bool> LooksLikeSqliteDatabase(const std::string& path, int64_t size) {
  static constexpr std::string_view kSqliteMagic("SQLite format 3\0", 16);
  if (size < 512) return false;
  std::ifstream f(path, std::ios::binary);
  std::string head(kSqliteMagic.size(), '\0');
  if (!f.read(head.data(), static_cast<std::streamsize>(head.size()))) {
    return Status::IOError("read " + path + ": cannot read its first " + std::to_string(head.size()) + " bytes");
  }
  return head == kSqliteMagic;
}

}  // namespace

Status StandbyReplica::ReceiveBaseFile(uint64_t sequence, const std::string& path) {
  std::lock_guard lock(mu_);
  const std::string context = "receive the base of " + SegmentName(sequence);
  if (!failure_.ok()) return failure_;
  if (::access(path.c_str(), F_OK) != 0) {
    return Status::Unavailable(context + ": " + path + " is gone: a resync set the segment store aside while it "
                               "arrived; push it again")
        .WithReason("resync");
  }
  const int64_t size = FileSizeOrZero(path);
  bytes_received_.Add(static_cast<uint64_t>(size));
  auto sqlite = LooksLikeSqliteDatabase(path, size);
  if (!sqlite.ok()) return sqlite.status().Wrap(context);
  if (!*sqlite) {
    rejected_.Add();
    return Status::Corruption(context + ": the bytes are not an SQLite database").WithReason("segment_corrupt");
  }
  if (applied_ && sequence <= applied_->header.sequence) {
    // A segment at or before it is applied: the replica no longer needs it,
    // and one already used must stay as it is.
    if (store_->BasePath(sequence)) {
      auto same = store_->BaseHolds(sequence, path);
      if (same.ok() && *same) return Status::Ok();
    }
    rejected_.Add();
    return Status::Conflict(context + ": this standby has applied segment " +
                            std::to_string(applied_->header.sequence) + " already")
        .WithReason("segment_conflict");
  }
  if (store_->BasePath(sequence)) {
    auto same = store_->BaseHolds(sequence, path);
    if (!same.ok()) return same.status().Wrap(context);
    if (*same) return Status::Ok();  // pushed again
    // Not yet used by a stored segment (else the primary would not resend
    // it): the primary made it again; keep the old one aside.
    auto moved = store_->QuarantineBase(sequence, clock_.NowUnixMillis());
    if (!moved.ok()) return Fail(moved.status().Wrap(context));
  }
  // A failed adoption leaves the store as it was: not a sticky failure.
  WALSHIP_RETURN_IF_ERROR(store_->AdoptBase(sequence, path).Wrap(context));
  LogInfo("standby stored a base snapshot", {{"sequence", sequence}, {"bytes", size}});
  return Status::Ok();
}

Result<ReplicaState> StandbyReplica::Receive(uint64_t sequence, std::string_view bytes) {
  std::lock_guard lock(mu_);
  const std::string context = "receive " + SegmentName(sequence);
  if (!failure_.ok()) return failure_;
  bytes_received_.Add(bytes.size());
  auto segment = DecodeSegment(bytes);
  if (!segment.ok()) {
    rejected_.Add();
    return segment.status().Wrap(context).WithReason("segment_corrupt");
  }
  const DecodedSegmentHeader& d = segment->header;
  const SegmentHeader& h = d.header;
  if (h.sequence != sequence) {
    rejected_.Add();
    return Status::InvalidArgument(context + ": the bytes are " + SegmentName(h.sequence));
  }
  if (applied_ && sequence <= applied_->header.sequence) {
    // Pushed again (a lost answer, a primary that restarted): idempotent.
    auto entries = store_->List();
    if (!entries.ok()) return entries.status().Wrap(context);
    for (const auto& e : *entries) {
      if (e.sequence != sequence) continue;
      auto stored = store_->ReadBytes(e);
      if (!stored.ok()) return stored.status().Wrap(context);
      if (*stored == bytes) return state_;
    }
    rejected_.Add();
    return Status::Conflict(context + ": this standby applied another " + SegmentName(sequence) +
                            " (its applied segment is " + std::to_string(applied_->header.sequence) + ")")
        .WithReason("segment_conflict");
  }
  if (Status s = CheckFollows(d); !s.ok()) {
    rejected_.Add();
    return s.Wrap(context);
  }
  if (h.chain_start() && h.db_pages_before != 0) {
    auto base = store_->BasePath(sequence);
    if (!base) {
      rejected_.Add();
      return Status::Conflict(context + ": it starts a chain on a base this standby has not received")
          .WithReason("base_missing");
    }
    auto sum = DbChecksum::ComputeFromFile(*base, h.page_size);
    if (!sum.ok()) return sum.status().Wrap(context + ": base");
    if (!ChecksumIs(*sum, h.db_checksum_before, h.db_pages_before)) {
      rejected_.Add();
      return Status::Conflict(context + ": its base has checksum " + ChecksumText(sum->Value(), sum->page_count()) +
                              ", the segment expects " + ChecksumText(h.db_checksum_before, h.db_pages_before))
          .WithReason("base_mismatch");
    }
  } else if (!h.chain_start()) {
    if (Status s = VerifySegmentChain({*applied_, d}, applied_->header.cluster_id); !s.ok()) {
      return Fail(s.Wrap(context).WithReason("replica_diverged"));
    }
    const DbChecksum& sum = applier_->checksum();
    if (!ChecksumIs(sum, h.db_checksum_before, h.db_pages_before)) {
      return Fail(Status::Corruption(context + ": the replica's checksum is " +
                                     ChecksumText(sum.Value(), sum.page_count()) + ", the segment expects " +
                                     ChecksumText(h.db_checksum_before, h.db_pages_before))
                      .WithReason("replica_diverged"));
    }
  }
  if (Status s = store_->Publish(EncodedSegment{std::string(bytes), d}); !s.ok()) {
    return Fail(s.Wrap(context + ": store"));
  }
  MaybeKillMidApply(*segment);
  if (Status s = ApplyStored(*segment, /*after_crash=*/false); !s.ok()) {
    Status failed = s.code() == Code::kCorruption ? s.WithReason("replica_diverged") : s;
    return Fail(failed.Wrap(context));
  }
  MarkApplied(d);
  segments_applied_.Add();
  return state_;
}

Result<std::string> StandbyReplica::Resync() {
  std::lock_guard lock(mu_);
  const std::string dest = quarantine_dir_ + "/resync-" + std::to_string(clock_.NowUnixMillis());
  const std::string context = "resync the standby";
  // Renames only: refuse, changing nothing, when one cannot work.
  WALSHIP_RETURN_IF_ERROR(EnsureDirectory(quarantine_dir_).Wrap(context));
  auto device_of = [](const std::string& path) -> int64_t {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_dev) : -1;
  };
  if (device_of(segments_dir_) != device_of(quarantine_dir_)) {
    return Status::Conflict(context + ": the segment store " + segments_dir_ + " is on another file system than " +
                            quarantine_dir_ + ", so it cannot be set aside by a rename; stop the standby and move "
                            "its data folder and segment store aside by hand");
  }
  Status moved = gate_.Apply([&]() -> Status {
    WALSHIP_RETURN_IF_ERROR(EnsureDirectory(dest));
    has_database_ = false;  // inside the gate: no reader opens the files being moved
    if (::access(replica_path_.c_str(), F_OK) == 0) {
      WALSHIP_RETURN_IF_ERROR(MoveIntoFolder(replica_path_, dest, "index.db").status());
    }
    WALSHIP_RETURN_IF_ERROR(MoveIntoFolder(segments_dir_, dest, "segments").status());
    RemoveUnfinishedReceives(dest + "/segments");  // a push in flight: bytes in transit, not kept data
    auto store = SegmentStore::Open(segments_dir_);
    if (!store.ok()) return store.status();
    store_ = std::move(store).value();
    serveable_ = true;
    return Status::Ok();
  });
  if (!moved.ok()) {
    serveable_ = false;
    return Fail(moved.Wrap(context));
  }
  const Status previous = failure_;
  applier_.reset();
  applied_.reset();
  failure_ = Status::Ok();
  state_ = ReplicaState{};
  LogWarn("standby resync: starting over; the previous replica and segments are kept",
          {{"moved_to", dest}, {"previous_error", previous.ok() ? std::string("none") : previous.ToString()}});
  return dest;
}

ReplicaState StandbyReplica::State() const {
  std::lock_guard lock(mu_);
  ReplicaState s = state_;
  s.primary_txid = primary_txid_.load();
  return s;
}

Status StandbyReplica::Health() const {
  std::lock_guard lock(mu_);
  return failure_;
}

Status StandbyReplica::WaitForPosition(uint64_t timeline, int64_t txid, int64_t timeout_ms) {
  std::unique_lock lock(mu_);
  auto reached = [&] {
    return state_.has_database && (state_.timeline > timeline || (state_.timeline == timeline && state_.txid >= txid));
  };
  applied_cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return reached() || !failure_.ok(); });
  if (reached()) return Status::Ok();
  std::string have = state_.has_database
                         ? std::to_string(state_.timeline) + "/" + std::to_string(state_.txid)
                         : std::string("nothing");
  return Status::Unavailable("this standby has not applied position " + std::to_string(timeline) + "/" +
                             std::to_string(txid) + " within " + std::to_string(timeout_ms) + " ms (applied: " +
                             have + ")")
      .WithReason("position_not_reached");
}

}  // namespace walship
