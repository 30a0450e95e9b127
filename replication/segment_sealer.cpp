#include "replication/segment_sealer.h"

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
  {
    std::lock_guard lock(mu_);
    if (!failure_.ok()) return failure_;
    queue_.push_back(std::move(segment));
  }
  work_cv_.notify_one();
  return Status::Ok();
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
    Segment seg;
    Sha256Digest previous;
    {
      std::unique_lock lock(mu_);
      work_cv_.wait(lock, [&] { return !queue_.empty() || stopping_; });
      if (queue_.empty() || !failure_.ok()) break;
      seg = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
      previous = previous_;
    }
    const std::string context = "seal segment " + std::to_string(seg.header.sequence);
    if (!seg.header.chain_start()) seg.header.previous_sha256 = previous;
    const auto start = std::chrono::steady_clock::now();
    Status s;
    auto encoded = encoder_.Encode(seg);
    if (!encoded.ok()) s = encoded.status().Wrap(context);
    if (s.ok()) s = store_.Publish(*encoded).Wrap(context);
    if (s.ok()) {
      on_sealed_(encoded->header, encoded->bytes.size(),
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    {
      std::lock_guard lock(mu_);
      busy_ = false;
      if (s.ok()) previous_ = encoded->header.segment_sha256;
      else failure_ = s;
    }
    done_cv_.notify_all();
  }
  std::lock_guard lock(mu_);
  busy_ = false;
  done_cv_.notify_all();
}

}  // namespace walship
