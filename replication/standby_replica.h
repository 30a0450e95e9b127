// The standby's replica: the primary's database rebuilt, byte for byte, from
// the segments the primary pushes, and proven by the database checksum after
// every segment.
//
// Files (the standby's data folder DATA):
//   DATA/index.db         the replica. Only this class writes it (pwrite and
//                         ftruncate, through SegmentApplier); SQLite only
//                         ever reads it, as immutable.
//   segments dir          every segment received, and the bases they start
//                         on (a SegmentStore, DATA/segments by default)
//   DATA/quarantine/      replicas set aside when a new base replaced them
//
// Receive() takes the next segment: its sequence follows the applied one,
// or it starts a chain (the first segment, or a new base on the primary).
// Before anything is written it is decoded (header checksum, body hash and
// frames), and checked: same cluster, timeline never going back, its link to
// the applied segment (previous SHA-256, txids, size), and the replica's
// checksum equal to its checksum before. Then it is published durably in the
// store, applied under the ApplyGate (no reader inside), fsynced, and the
// replica's checksum must equal its checksum after.
//
// A segment already applied, pushed again: the same bytes are a no-op; other
// bytes are refused (kConflict, reason "segment_conflict"). A sequence past
// the next one: kConflict, reason "out_of_order" (the primary resends from
// the applied one). Bytes that do not decode: kCorruption, reason
// "segment_corrupt"; nothing is stored, the next push may be whole.
// A checksum that does not match, or a failed write or fsync, stops the
// replica for good (sticky; Health() says it, reason "replica_diverged" or
// the I/O error): nothing more is applied until an operator resyncs.
//
// Crash safety: a segment is stored before it is applied, so at start-up the
// newest stored segment is at most one ahead of the replica. Open() computes
// the replica's checksum and continues from the segment it equals; a replica
// caught between two segments (a kill during an apply) gets the newest
// segment applied again, which rewrites every page it touches (re-applying
// is idempotent), checked against its checksum after. Anything else is
// rebuilt from the chain's start; the old file goes to quarantine.
//
// Threads: Receive/ReceiveBaseFile from any thread (one at a time, under mu_);
// readers hold gate().BeginRead() while they read; State() from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "base/metrics.h"
#include "base/status.h"
#include "replication/apply_gate.h"
#include "replication/segment_apply.h"
#include "replication/segment_store.h"

namespace walship {

struct ReplicaState {
  bool has_database = false;  // false until the first segment is applied
  uint64_t sequence = 0;      // the applied segment's
  uint64_t timeline = 0;
  int64_t txid = -1;          // the last applied transaction; -1: none
  uint64_t db_checksum = 0;
  int64_t last_commit_unix_ms = 0;   // of the last applied transaction (primary's clock)
  int64_t last_applied_unix_ms = 0;  // when this standby applied it
  std::string cluster_hex;           // "" until the first segment
  int64_t primary_txid = -1;         // the primary's txid as its last push said; -1: unknown
};

class StandbyReplica {
 public:
  // `replica_path` is DATA/index.db, `quarantine_dir` DATA/quarantine.
  static Result<std::unique_ptr<StandbyReplica>> Open(const std::string& replica_path,
                                                      const std::string& segments_dir,
                                                      const std::string& quarantine_dir, Clock& clock,
                                                      MetricsRegistry& metrics);

  // A base snapshot the chain-start segment `sequence` will apply onto, in
  // the complete file at `path`, which must be a BaseReceivePath (streamed
  // there by the caller: a base is the size of the database). When stored,
  // the file is renamed into the store (no copy); otherwise it is left to
  // the caller to remove. kUnavailable, reason "resync", when a resync moved
  // the file away meanwhile.
  Status ReceiveBaseFile(uint64_t sequence, const std::string& path);
  // Where a caller streams a pushed base before ReceiveBaseFile: a temp
  // file in the segment store's folder, which the store never lists.
  std::string BaseReceivePath(uint64_t sequence) const;
  // One base receive at a time (each may put a database's size on disk):
  // false while another runs. EndBaseReceive after a true.
  bool TryBeginBaseReceive() { return !base_receiving_.exchange(true); }
  void EndBaseReceive() { base_receiving_.store(false); }
  // A segment's file bytes; the state after it (see the header comment).
  Result<ReplicaState> Receive(uint64_t sequence, std::string_view bytes);

  // Starts over (an operator's resync, or a diverged replica): the replica
  // and every stored segment and base move to DATA/quarantine/resync-<ms>/,
  // the sticky failure is cleared, and the standby is empty again: the
  // primary's shipper then sends a snapshot or the chain. Returns where the
  // old files went.
  Result<std::string> Resync();

  ReplicaState State() const;
  // Without waiting for an apply in progress (readers ask it on every read).
  bool has_database() const { return has_database_.load(); }
  // False once an apply failed part-way (or start-up could not make the
  // replica whole): the file may hold part of a segment, and no read may
  // see it until a resync. Ask it inside gate().BeginRead().
  bool serveable() const { return serveable_.load(); }
  // The primary's position as a push reported it (for the lag).
  void NotePrimaryPosition(int64_t txid) { primary_txid_.store(txid); }
  // Ok while the replica follows the primary; else the sticky failure.
  Status Health() const;
  // Waits until the replica has applied `txid` on `timeline` (or a later
  // timeline), up to `timeout_ms`. kUnavailable (reason
  // "position_not_reached") when it has not.
  Status WaitForPosition(uint64_t timeline, int64_t txid, int64_t timeout_ms);

  ApplyGate& gate() { return gate_; }
  const std::string& replica_path() const { return replica_path_; }
  const std::string& segments_dir() const { return segments_dir_; }

 private:
  StandbyReplica(std::string replica_path, std::string segments_dir, std::string quarantine_dir,
                 std::unique_ptr<SegmentStore> store,
                 Clock& clock, MetricsRegistry& metrics);

  // Start-up (see the header comment); a failure here is made sticky.
  Status Recover();
  // Rebuilds the replica from the chain that ends at the newest segment.
  Status RebuildFromChainStart(const DecodedSegmentHeader& newest, std::string_view why);
  // Sets the replica file to the chain start's base (or the empty file),
  // moving any other replica to quarantine.
  Status ResetToChainStart(const DecodedSegmentHeader& start, std::string_view why);
  // Moves the replica file into DATA/quarantine/ (never deleted); where it went.
  Result<std::string> QuarantineReplica();
  // Applies a decoded, checked, stored segment through the gate and fsyncs.
  Status ApplyStored(const DecodedSegment& segment, bool after_crash);
  // Crash tests only (WALSHIP_FAILPOINT_KILL_MID_APPLY, see the .cpp).
  void MaybeKillMidApply(const DecodedSegment& segment);
  // Checks a decoded segment against the applied state (not the bytes).
  Status CheckFollows(const DecodedSegmentHeader& h) const;
  // Records `h` as applied (mu_ held).
  void MarkApplied(const DecodedSegmentHeader& h);
  // Sticky failure (mu_ held).
  Status Fail(Status s);

  const std::string replica_path_;
  const std::string segments_dir_;
  mutable std::atomic<uint64_t> receive_counter_{0};  // names BaseReceivePath's files
  std::atomic<bool> base_receiving_{false};             // TryBeginBaseReceive
  const std::string quarantine_dir_;
  std::unique_ptr<SegmentStore> store_;
  Clock& clock_;
  ApplyGate gate_;

  mutable std::mutex mu_;  // guards applier_, applied_, failure_, and the waiters' view (state_)
  std::condition_variable applied_cv_;  // signalled after each applied segment
  std::optional<SegmentApplier> applier_;
  std::optional<DecodedSegmentHeader> applied_;
  Status failure_;
  ReplicaState state_;
  std::atomic<int64_t> primary_txid_{-1};
  std::atomic<bool> has_database_{false};  // mirrors state_.has_database
  std::atomic<bool> serveable_{true};
  int64_t applies_ = 0;  // under mu_; counts applies for the crash tests' failpoint      // changed only inside the gate (or before readers exist)

  Counter& segments_applied_;
  Counter& bytes_received_;
  Counter& rejected_;
  Histogram& apply_seconds_;
};

}  // namespace walship
