// WAL capture: before every checkpoint, every WAL frame committed since the
// previous capture is read, verified and sealed into a segment of the store,
// durably, so nothing SQLite checkpoints away is missing from the store.
//
// The writer thread only collects: between groups (every collect interval
// and before each checkpoint) it checks that no other connection committed
// (PRAGMA data_version), reads the WAL header's salts and hands the sealer
// (replication/segment_sealer.h) a job: "the next N commits of the WAL
// generation with these salts, labeled with these txids". The sealer reads
// and verifies those frames, hashes, compresses and publishes them on its
// own thread, so the writer pauses for microseconds instead of reading
// megabytes. The frames stay put until sealed: a WAL generation is only
// ever appended to, and it restarts (is rewritten) only after a checkpoint
// copied every frame, which waits for the sealer (below); the salts in the
// job catch a restart behind the node's back.
//
// SQLite never copies a frame into the database before its segment is
// durable: after each collect, a read-only
// connection of the capture's own (the pin) holds a read snapshot that ends
// at the frames just handed over, and SQLite's checkpoint never copies
// frames past a reader's snapshot. So when the sealer is idle at a
// checkpoint, every frame the checkpoint can copy is durable: the writer
// hands over the last commits and lets a first, passive pass copy while they
// seal; BeforeWalReset waits for them and lets the pin go before the pass
// that copies them and resets the WAL. Without a pin (none could be taken)
// BeforeCheckpoint waits for the sealer itself, as the writer's checkpoint
// always did.
//
// The capture keeps where it stopped (the WAL salts, the last commit frame
// taken and its cumulative checksum), the database checksum after the last
// segment, and the txid and commit time of every transaction the writer
// committed since: the WAL scan finds the commit frames, the writer's list
// names them. A count that does not match means frames written behind the
// node's back: the chain is never continued across them. The capture then
// starts a new base: a complete checkpoint, a byte-exact copy of the
// database file into the store, and a segment that starts a chain on it.
//
// At start-up (Start) the store's newest segment is reconciled with the
// database file and the WAL: the file's checksum, plus the WAL frames the
// newest segment covers, must give its checksum after. Commits in the WAL
// past it (a crash before their capture) get the txids that lead up to the
// database's position. A store with no segment, a database that does not
// reconcile, or commits that do not add up start a new base; a database
// made by this start starts the chain on the empty file instead.
//
// Thread contract: Start and every hook call run on the thread that owns the
// write connection (the writer thread once it runs). Stats() may be called
// from any thread. The capture's position and database checksum belong to
// the sealer thread while it has jobs, and to the writer only once it has
// waited for the sealer (WaitSealed).
#pragma once

#include <sqlite3.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/metrics.h"
#include "base/status.h"
#include "replication/checkpoint_hook.h"
#include "replication/db_checksum.h"
#include "replication/segment_sealer.h"
#include "replication/segment_store.h"
#include "replication/wal_file.h"

namespace walship {

struct CaptureIdentity {
  ClusterId cluster{};
  uint64_t node_id = 0;
  uint64_t timeline = 1;
};

struct CaptureStats {
  uint64_t last_sequence = 0;   // 0: no segment yet
  int64_t last_txid = -1;       // the newest txid in the store; -1: none
  uint64_t db_checksum = 0;     // after the newest segment
  uint64_t bases = 0;           // new bases started by this process
};

class WalCapture final : public CheckpointHook {
 public:
  // `db` is the write connection, with the schema migrated and no other
  // connection open yet; `txid` the database's current position;
  // `created_database` when this start made the database file.
  static Result<std::unique_ptr<WalCapture>> Start(sqlite3* db, const std::string& db_path, SegmentStore& store,
                                                   const CaptureIdentity& identity, int64_t txid,
                                                   bool created_database, int zstd_level, Clock& clock,
                                                   MetricsRegistry& metrics);
  // How often AfterCommit collects between checkpoints; 0: never (only
  // before checkpoints). Call before the writer starts.
  void SetCollectInterval(int64_t interval_ms) { collect_interval_ns_ = interval_ms * 1'000'000; }
  // AfterCommit also collects once the commits not yet handed over hold this
  // many bytes of WAL frames (from the wal hook's commit frames), whatever
  // the interval or the gate say, so a segment cut between checkpoints holds
  // at most this plus its last commit, below a standby's
  // replication.max_segment_bytes (the shipper crosses a larger one with a
  // snapshot). Not a bound everywhere: after a failed collect, and at a
  // restart after a crash, one segment takes every pending commit. 0: no limit (the config's minimum is 64 KiB). Call
  // before the writer starts.
  void SetCollectMaxWalBytes(int64_t bytes) { collect_max_wal_bytes_ = bytes; }
  // Synchronous replication, where a write waits for its segment to reach
  // the standby: AfterCommit collects at once when `ready` says the shipper
  // is idle, and otherwise leaves the commits to pend until the writer is
  // asked to CollectNow (when the shipper has caught up), or until they
  // reach the size limit above. So one segment carries every commit made
  // while the previous one travelled, up to that limit: group commit for
  // replication. Call before the writer runs.
  void SetCollectGate(std::function<bool()> ready) { collect_gate_ = std::move(ready); }
  // Between groups, when asked (the node's collect tick, or the shipper in
  // sync mode): seals the commits that pend. Without a gate, not within half
  // a collect interval of the last collect.
  void CollectNow() override;
  ~WalCapture() override;

  void AfterCommit(int64_t txid, int64_t commit_unix_ms, uint32_t wal_commit_frame) override;
  bool PrepareCheckpoint() override;
  Status BeforeCheckpoint(sqlite3* writer, std::string_view reason) override;
  Status BeforeWalReset() override;
  // Seals what is committed, then starts a new base: the chain goes on with
  // no txid missing, from a base that a standby can start on.
  Status TakeSnapshot(sqlite3* writer, std::string_view why) override;

  // Seals every pending commit now and returns the point: the txid, the
  // database checksum and page 1 at it (replication/capture_point.cpp).
  Result<CapturePoint> MarkPoint(sqlite3* writer) override;

  // The checksum after the last sealed frame (see CheckpointHook). Refused
  // while another connection's commits are unaccounted for (data_version
  // moved) or a collect failed: the next checkpoint sorts those out.
  Result<const DbChecksum*> ChecksumForScrub(sqlite3* writer) override;

  CaptureStats Stats() const;

  // Called on the sealer thread after each segment is durable (the shipper
  // wakes on it). Any thread; replaces the previous listener.
  using SealedListener = std::function<void(const DecodedSegmentHeader&)>;
  void SetSealedListener(SealedListener listener) {
    std::lock_guard lock(listener_mu_);
    sealed_listener_ = std::move(listener);
  }

 private:
  struct PendingCommit {
    int64_t txid;
    int64_t commit_unix_ms;
    uint32_t wal_frame = 0;  // where the writer's wal hook put its commit frame; 0: not known
  };
  WalCapture(sqlite3* db, std::string wal_path, SegmentStore& store, const CaptureIdentity& identity,
             uint32_t page_size, int zstd_level, Clock& clock, MetricsRegistry& metrics);

  // Start-up: when the store's newest file is a base snapshot no segment
  // follows yet and the database is still that base, continue on it (true)
  // rather than copy the database again.
  Result<bool> ResumeOnNewestBase(uint64_t newest_sequence, const DbChecksum& file, int64_t txid);
  // Start-up: continue the store's chain, or say why it cannot be.
  Status Reconcile(const DecodedSegmentHeader& newest, int64_t txid);
  // Start-up of a database made by this start: the chain starts on the
  // empty file, when the WAL's frames rewrite every page the file has
  // (SQLite writes page 1 to the file itself when it turns WAL mode on).
  Status StartOnEmptyFile(const DbChecksum& file, int64_t txid);
  // A complete checkpoint, then the file copied into the store as the base
  // of the next segment.
  Status StartNewBase(std::string_view why);
  // Builds the segment of the committed frames of `scan`, labeled with
  // `commits`, and moves the position and the database checksum past them
  // (on whichever thread owns them: see the thread contract).
  Result<Segment> BuildSegment(WalScan&& scan, const std::vector<PendingCommit>& commits, uint64_t sequence,
                               bool starts_chain);
  // Start-up: builds the segment here and hands it to the sealer.
  Status Seal(WalScan&& scan, const std::vector<PendingCommit>& commits);
  // A segment ending at `last_txid` went to the sealer: the next one follows it.
  void Handed(int64_t last_txid);
  // On the sealer thread: reads and verifies the next `commits.size()`
  // commits of the WAL generation with `salts`, and builds their segment.
  Result<Segment> BuildFromWal(std::pair<uint32_t, uint32_t> salts, const std::vector<PendingCommit>& commits,
                               uint64_t sequence, bool starts_chain);
  // Hands the commits since the last collect to the sealer. Errors with
  // reason "wal_diverged" or "foreign_writes" (here, or met by the sealer
  // since) call for a new base.
  Status Collect();
  // Moves a conflict the sealer met into conflict_ (true when there was one).
  bool TakeSealerConflict();
  // Waits until everything handed over is sealed, then checks that the WAL
  // holds no commit past the capture's position (the sealer takes only the
  // commits it was told of, so this is where an untold last one shows). A
  // conflict, the sealer's or this one, starts a new base instead.
  Status WaitSealedOrNewBase();
  // Writer thread, sealer idle: a conflict when the WAL has committed frames
  // after the position.
  Status CheckNothingCommittedPastPosition();
  // Labels the scan's commit frames with the txids that end at `txid`.
  static std::optional<std::vector<PendingCommit>> LabelEndingAt(const WalScan& scan, int64_t txid, int64_t now_ms);
  void PublishStats();
  // Page 1 of the database at the capture's position: its newest image in
  // the WAL's committed frames, else the database file's.
  Result<std::string> PageOneAtPosition(sqlite3* writer) const;
  Result<int64_t> DataVersion() const;
  // The pin (see the top of this file). OpenPin is best effort: without a
  // pin, checkpoints wait for the sealer before they copy anything.
  void OpenPin(const std::string& db_path);
  // Moves the pin's snapshot to the WAL's end; call right after a collect
  // handed every committed frame to the sealer. Drops the pin on failure.
  void MovePinToWalEnd();
  // Ends the pin's read transaction, so checkpoints may copy every frame.
  void ReleasePin();
  // Gives the pin up for good (its connection closed): checkpoints then wait
  // for the sealer before they copy anything.
  void ClosePin();
  // Collect, then the pin follows; the collects between checkpoints.
  Status CollectAndPin();
  // CollectAndPin from AfterCommit or CollectNow, at `now_ns`: a failure
  // blocks further collects until the next checkpoint deals with it.
  void CollectBetweenCheckpoints(int64_t now_ns);

  sqlite3* db_;  // the write connection (borrowed)
  const std::string wal_path_;
  SegmentStore& store_;
  const CaptureIdentity identity_;
  const uint32_t page_size_;
  const int zstd_level_;
  Clock& clock_;

  // Owned by the sealer thread while it has jobs, else by the writer (see
  // the thread contract).
  std::optional<WalPosition> position_;  // where the next scan resumes
  DbChecksum checksum_;                  // the database after the last segment
  // Owned by the writer thread.
  // Frames written behind the node's back (the sealer's or a collect's
  // finding): the next checkpoint starts a new base, and no collect runs.
  std::optional<Status> conflict_;
  uint64_t next_sequence_ = 1;
  bool next_starts_chain_ = true;
  int64_t last_txid_ = -1;
  std::vector<PendingCommit> pending_;  // committed since the last capture
  int64_t last_collect_ns_ = 0;
  std::atomic<int64_t> collect_interval_ns_{100'000'000};  // set from any thread, read by the writer
  int64_t collect_max_wal_bytes_ = 0;  // see SetCollectMaxWalBytes
  // Writer thread: the WAL frame of the last commit AfterCommit heard of, and
  // the bytes of frames the pending commits hold (0 when none pend).
  uint32_t last_commit_frame_ = 0;
  int64_t pending_wal_bytes_ = 0;
  // PRAGMA data_version of the write connection: it changes exactly when
  // another connection commits, which a count of commit frames can miss (a
  // foreign checkpoint, then as many foreign commits as ours).
  int64_t data_version_ = 0;
  bool collect_blocked_ = false;  // a collect failed: leave it to the next checkpoint
  // PrepareCheckpoint handed commits over for the checkpoint now deferred:
  // once they are sealed, the checkpoint may go ahead.
  bool prepared_ = false;
  // The WAL was found to hold nothing past the position earlier in this
  // checkpoint (BeforeCheckpoint and MarkPoint start over), with no commit
  // since: BeforeWalReset need not read the file again.
  bool end_checked_ = false;
  sqlite3* pin_db_ = nullptr;  // owned; read-only; nullptr: no pin
  bool pinned_ = false;        // pin_db_ holds a read transaction
  std::function<bool()> collect_gate_;  // sync replication only

  // For Stats(), from any thread.
  std::atomic<uint64_t> stat_sequence_{0};
  std::atomic<int64_t> stat_txid_{-1};
  std::atomic<uint64_t> stat_checksum_{0};
  std::atomic<uint64_t> stat_bases_{0};

  Counter& segments_sealed_;
  Counter& segment_bytes_;
  Counter& frames_captured_;
  Counter& bases_started_;
  Histogram& capture_seconds_;
  Histogram& seal_seconds_;
  std::mutex listener_mu_;  // guards sealed_listener_
  SealedListener sealed_listener_;
  // Last: its thread calls back into the stats above.
  std::unique_ptr<SegmentSealer> sealer_;
};

}  // namespace walship
