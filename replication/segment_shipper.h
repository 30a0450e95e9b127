// The shipper: a primary's thread that pushes every sealed segment of its
// store to the standby, in order, with retry and backoff. Writes never wait
// for it (asynchronous replication): a slow or absent standby only makes
// the lag grow.
//
// It asks the standby where it is (its applied segment), then pushes the
// segments after that one from the store: a standby that was down catches
// up from the store. An empty standby, or one whose next segment the store
// lacks, gets the newest chain start (its base snapshot first, when it has
// one) and the segments after it. When no such chain start is left (segment
// retention removed it), it gets a snapshot: the shipper asks the primary for
// a new base whenever request_snapshot is set, even with
// snapshot_after_bytes = -1, as that is the only way left; without it, the
// outcome is a kNotFound naming the segment the standby needs. A segment
// over the standby's replication.max_segment_bytes (the limit its position
// answer gives, or a 413 to a push) is not pushed (again): the standby needs
// a chain start after it, so the shipper asks for a snapshot as above (a
// base has its own, larger limit). A push refused as out of order makes the
// shipper ask again; any other failure waits (retry_initial_ms, doubling up
// to retry_max_ms) and tries again, and is counted and shown in the stats.
//
// Threads: its own thread runs every push. Notify() (any thread, e.g. the
// sealer's) wakes it; Stats() from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "base/clock.h"
#include "base/metrics.h"
#include "base/status.h"
#include "replication/segment_store.h"

namespace walship {

// Where the standby is, as it says.
struct StandbyPosition {
  bool has_database = false;
  uint64_t sequence = 0;  // its applied segment
  uint64_t timeline = 0;
  int64_t txid = -1;
  // The largest segment push it takes (its replication.max_segment_bytes);
  // 0 when it does not say.
  int64_t max_segment_bytes = 0;
};

// The transport to the standby (HTTP in http/standby_link.cpp; tests fake it).
class StandbyLink {
 public:
  virtual ~StandbyLink() = default;
  virtual Result<StandbyPosition> FetchPosition() = 0;
  // Pushes a segment file's bytes; the standby's position after it. A push
  // the standby refuses as out of order is kConflict, reason "out_of_order".
  virtual Result<StandbyPosition> PushSegment(uint64_t sequence, const std::string& bytes) = 0;
  // Pushes the base snapshot file at `path` (streamed: it is the size of
  // the database).
  virtual Status PushBase(uint64_t sequence, const std::string& path) = 0;
  virtual std::string Describe() const = 0;  // the standby's URL, for logs
};

struct ShipperStats {
  bool connected = false;        // the last exchange with the standby worked
  StandbyPosition standby;       // as last reported
  uint64_t last_shipped_sequence = 0;
  int64_t last_shipped_unix_ms = 0;
  int64_t behind_since_unix_ms = 0;  // 0: the standby has every sealed segment
  uint64_t segments_shipped = 0;
  uint64_t bytes_shipped = 0;
  uint64_t retries = 0;
  uint64_t errors = 0;
  std::string last_error;
};

struct ShipperOptions {
  int64_t retry_initial_ms = 100;
  int64_t retry_max_ms = 5000;
  int64_t idle_poll_ms = 1000;  // even with no notification, look again this often
  // A standby that must start over (empty, or its next segment is gone) and
  // would have to replay more than this many bytes of segments gets a
  // snapshot instead: request_snapshot asks the primary for a new base, and
  // the shipper waits up to snapshot_wait_ms for a segment to follow it
  // (the next write), else ships the chain after all. -1: never.
  int64_t snapshot_after_bytes = -1;
  int64_t snapshot_wait_ms = 5000;
  std::function<void()> request_snapshot;
  // Called each time the standby has every segment in the store (sync
  // replication: the writer then seals what committed meanwhile).
  std::function<void()> on_caught_up;
};

class SegmentShipper {
 public:
  SegmentShipper(const SegmentStore& store, StandbyLink& link, ShipperOptions options, Clock& clock,
                 MetricsRegistry& metrics);
  ~SegmentShipper();
  SegmentShipper(const SegmentShipper&) = delete;
  SegmentShipper& operator=(const SegmentShipper&) = delete;

  void Start();
  // A new segment is sealed: ship it.
  void Notify();
  // Stops after the push in flight. Idempotent.
  void Stop();
  // At shutdown, before Stop: gives a reachable standby up to `timeout_ms`
  // to receive the segments sealed last (the final checkpoint's). Returns
  // whether it has them all.
  bool DrainFor(int64_t timeout_ms);
  ShipperStats Stats() const;

  // Synchronous replication: waits until the standby has stored and applied
  // `txid` (its answer to a push said so), up to `timeout_ms`. kDeadlineExceeded,
  // reason "replication_timeout", when it has not.
  Status WaitShipped(int64_t txid, int64_t timeout_ms);
  // True while no push is under way (the standby has all the store had).
  bool Idle() const { return idle_.load(); }
  // The segment the standby applied, as the last answer to a push of this
  // primary's own segment said (any thread); nullopt until one answered.
  // Segment retention keeps every segment after it. A position the standby
  // merely reports is not counted: it may belong to another primary's history.
  std::optional<uint64_t> AcknowledgedSequence() const;

  // One round (for tests and the thread): bring the standby up to the
  // store's newest segment. Ok when it has everything.
  Status ShipPending();

 private:
  void Run();
  // Pushes the entries from index `from` on; `position_` follows the answers.
  Status PushFrom(const std::vector<SegmentFileEntry>& entries, size_t from);
  // The index of the newest chain start, reading headers from the newest back.
  Result<size_t> NewestChainStart(const std::vector<SegmentFileEntry>& entries) const;
  void RecordError(const Status& s);
  void NoteStandbyPosition(const StandbyPosition& p);
  void CaughtUp();
  void UpdateStats(const std::function<void(ShipperStats&)>& update);

  const SegmentStore& store_;
  StandbyLink& link_;
  const ShipperOptions options_;
  Clock& clock_;
  Counter& shipped_total_;
  Counter& shipped_bytes_;
  Counter& retries_total_;

  // Where to ship from when the standby must start over (`next`: the
  // segment it needs, 0 when it is empty): the newest chain start, or, while
  // a requested snapshot is awaited, kUnavailable with reason
  // "snapshot_pending"; kNotFound when the store lacks `next` and no
  // snapshot came.
  Result<size_t> StartOver(const std::vector<SegmentFileEntry>& entries, uint64_t next);
  // Notes a segment the standby refused as too large, once per segment.
  void NoteRefusedAsTooLarge(const SegmentFileEntry& e, const Status& refusal);

  std::optional<StandbyPosition> position_;  // shipper thread only; unknown until asked
  int64_t snapshot_requested_ms_ = 0;        // shipper thread only; 0: none awaited
  uint64_t snapshot_after_sequence_ = 0;     // the chain start the snapshot must come after
  // The newest segment the standby refused as too large (shipper thread
  // only): a standby that needs it, or one before it, starts over after it,
  // unless its limit is raised to the segment's size.
  struct RefusedSegment {
    uint64_t sequence = 0;
    int64_t bytes = 0;
  };
  std::optional<RefusedSegment> refused_too_large_;

  mutable std::mutex mu_;  // guards notified_, stopping_, standby_txid_ and acknowledged_sequence_
  std::condition_variable cv_;
  std::condition_variable shipped_cv_;  // signalled when standby_txid_ moves
  int64_t standby_txid_ = -1;           // the standby's applied txid, as last answered
  std::optional<uint64_t> acknowledged_sequence_;  // its applied segment, as last answered
  std::atomic<bool> idle_{false};
  bool notified_ = false;
  bool stopping_ = false;
  mutable std::mutex stats_mu_;  // guards stats_
  ShipperStats stats_;
  std::thread thread_;
};

}  // namespace walship
