// The segment sealer: a thread that builds collected segments (reads and
// verifies their WAL frames), encodes them (SHA-256, zstd) and publishes them
// durably, in order, off the writer thread.
//
// The writer hands over a job per collect: a function that builds the
// Segment from the WAL (replication/wal_capture.h says why that may run
// here) or a Segment already built. The sealer builds it, links it to the
// previous one (its SHA-256), encodes and publishes it. A checkpoint waits
// for WaitSealed() first, so every frame SQLite copies into the database is
// in a durable segment before the WAL forgets it.
//
// Contract: Submit, WaitSealed and TakeConflict are called from one thread
// (the writer). After a failure the sealer drops what is queued, seals
// nothing more and every later call returns that failure (sticky), except
// a build's kConflict for frames written behind the node's back: the writer
// takes it with TakeConflict, and the sealer goes on from there.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "base/metrics.h"
#include "base/status.h"
#include "replication/segment_codec.h"
#include "replication/segment_store.h"

namespace walship {

class SegmentSealer {
 public:
  // Called on the sealer thread after each segment is durable, with the
  // time encoding and publishing took.
  using OnSealed = std::function<void(const DecodedSegmentHeader&, size_t stored_bytes, double seconds)>;

  // Builds one segment on the sealer thread.
  using Build = std::function<Result<Segment>()>;

  SegmentSealer(SegmentStore& store, int zstd_level, OnSealed on_sealed);
  ~SegmentSealer();
  SegmentSealer(const SegmentSealer&) = delete;
  SegmentSealer& operator=(const SegmentSealer&) = delete;

  // The hash the next segment that does not start a chain links to.
  void SetPrevious(const Sha256Digest& sha256);
  // Queues a segment (previous_sha256 is filled in here unless it starts a
  // chain). Returns the sticky failure, if any.
  Status Submit(Segment segment);
  // Queues a segment to build here, with the sequence it will have.
  Status Submit(uint64_t sequence, Build build);
  // A conflict a build met, with reason "foreign_writes" or "wal_diverged"
  // (its status, and the sequence of the segment it did not build; nothing
  // after it was sealed), cleared so the sealer goes on; nullopt when the
  // sealer has no such failure.
  struct Conflict {
    Status status;
    uint64_t sequence = 0;
  };
  std::optional<Conflict> TakeConflict();
  // Waits until every submitted segment is durable; the sticky failure if not.
  Status WaitSealed();
  // True when no submitted segment is still being sealed (or it failed).
  bool Idle();
  // Seals what is queued, then joins the thread. Idempotent.
  void Stop();

 private:
  struct Job {
    uint64_t sequence = 0;
    Build build;
  };
  void Run();

  SegmentStore& store_;
  SegmentEncoder encoder_;  // used only on the sealer thread
  OnSealed on_sealed_;
  std::mutex mu_;  // guards queue_, busy_, stopping_, failure_, failed_sequence_, previous_
  std::condition_variable work_cv_;
  std::condition_variable done_cv_;
  std::deque<Job> queue_;
  bool busy_ = false;
  bool stopping_ = false;
  Status failure_;
  uint64_t failed_sequence_ = 0;
  Sha256Digest previous_{};
  std::thread thread_;
};

}  // namespace walship
