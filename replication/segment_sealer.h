// The segment sealer: a thread that encodes collected segments (SHA-256,
// zstd) and publishes them durably, in order, off the writer thread.
//
// The writer collects committed frames from the WAL (cheap: a read and a
// checksum check) and hands each batch over as a Segment; the sealer links
// it to the previous one (its SHA-256), encodes and publishes it. A
// checkpoint waits for WaitSealed() first, so every frame SQLite copies into
// the database is in a durable segment before the WAL forgets it.
//
// Contract: Submit and WaitSealed are called from one thread (the writer).
// After a failure the sealer seals nothing more and every later call returns
// that failure (sticky).
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
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

  SegmentSealer(SegmentStore& store, int zstd_level, OnSealed on_sealed);
  ~SegmentSealer();
  SegmentSealer(const SegmentSealer&) = delete;
  SegmentSealer& operator=(const SegmentSealer&) = delete;

  // The hash the next segment that does not start a chain links to.
  void SetPrevious(const Sha256Digest& sha256);
  // Queues a segment (previous_sha256 is filled in here unless it starts a
  // chain). Returns the sticky failure, if any.
  Status Submit(Segment segment);
  // Waits until every submitted segment is durable; the sticky failure if not.
  Status WaitSealed();
  // True when no submitted segment is still being sealed (or it failed).
  bool Idle();
  // Seals what is queued, then joins the thread. Idempotent.
  void Stop();

 private:
  void Run();

  SegmentStore& store_;
  SegmentEncoder encoder_;  // used only on the sealer thread
  OnSealed on_sealed_;
  std::mutex mu_;  // guards queue_, busy_, stopping_, failure_, previous_
  std::condition_variable work_cv_;
  std::condition_variable done_cv_;
  std::deque<Segment> queue_;
  bool busy_ = false;
  bool stopping_ = false;
  Status failure_;
  Sha256Digest previous_{};
  std::thread thread_;
};

}  // namespace walship
