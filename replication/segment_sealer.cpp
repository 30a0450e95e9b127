#include "replication/segment_sealer.h"

#include <memory>

#include "base/thread_name.h"

namespace walship {

SegmentSealer::SegmentSealer(SegmentStore& store, int zstd_level, OnSealed on_sealed)
    : store_(store), encoder_(zstd_level), on_sealed_(std::move(on_sealed)) {
  thread_ = std::thread([this] {
    NameThisThread("ws-sealer");
    Run();
  });
}

SegmentSealer::~SegmentSealer() { Stop(); }

void SegmentSealer::SetPrevious(const Sha256Digest& sha256) {
  std::lock_guard lock(mu_);
  previous_ = sha256;
}

Status SegmentSealer::Submit(Segment segment) {
  const uint64_t sequence = segment.header.sequence;
  // std::function needs a copyable callable: the segment moves in and out
  // through a shared slot instead of being copied.
  auto ready = std::make_shared<Segment>(std::move(segment));
  return Submit(sequence, [ready]() -> Result<Segment> { return std::move(*ready); });
}

Status SegmentSealer::Submit(uint64_t sequence, Build build) {
  {
    std::lock_guard lock(mu_);
    if (!failure_.ok()) return failure_;
    queue_.push_back(Job{sequence, std::move(build)});
  }
  work_cv_.notify_one();
  return Status::Ok();
}

std::optional<SegmentSealer::Conflict> SegmentSealer::TakeConflict() {
  std::lock_guard lock(mu_);
  // Only a build's finding of frames written behind the node's back; any
  // other conflict (say, the store holds other bytes under this sequence)
  // stays sticky.
  if (failure_.code() != Code::kConflict ||
      (failure_.reason() != "foreign_writes" && failure_.reason() != "wal_diverged")) {
    return std::nullopt;
  }
  Conflict c{failure_, failed_sequence_};
  failure_ = Status::Ok();
  return c;
}

Status SegmentSealer::WaitSealed() {
  std::unique_lock lock(mu_);
  done_cv_.wait(lock, [&] { return (queue_.empty() && !busy_) || !failure_.ok(); });
  return failure_;
}

bool SegmentSealer::Idle() {
  std::lock_guard lock(mu_);
  return (queue_.empty() && !busy_) || !failure_.ok();
}

void SegmentSealer::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void SegmentSealer::Run() {
  for (;;) {
    Job job;
    Sha256Digest previous;
    {
      std::unique_lock lock(mu_);
      work_cv_.wait(lock, [&] { return !queue_.empty() || stopping_; });
      if (queue_.empty()) break;  // stopping, with everything sealed
      job = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
      previous = previous_;
    }
    const std::string context = "seal segment " + std::to_string(job.sequence);
    Result<Segment> built = job.build();
    Status s = built.status();
    Result<EncodedSegment> encoded = Status::Internal("not encoded");
    const auto start = std::chrono::steady_clock::now();
    if (s.ok()) {
      Segment& seg = *built;
      if (!seg.header.chain_start()) seg.header.previous_sha256 = previous;
      encoded = encoder_.Encode(seg);
      s = encoded.status();
    }
    if (s.ok()) s = store_.Publish(*encoded);
    if (s.ok()) {
      on_sealed_(encoded->header, encoded->bytes.size(),
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    {
      std::lock_guard lock(mu_);
      busy_ = false;
      if (s.ok()) {
        previous_ = encoded->header.segment_sha256;
      } else {
        // What is queued was built on this segment: none of it can follow.
        failure_ = s.Wrap(context);
        failed_sequence_ = job.sequence;
        queue_.clear();
      }
    }
    done_cv_.notify_all();
  }
  std::lock_guard lock(mu_);
  busy_ = false;
  done_cv_.notify_all();
}

}  // namespace walship
