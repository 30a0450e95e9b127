#include "replication/segment_shipper.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "base/fs.h"
#include "base/log.h"
#include "base/thread_name.h"

namespace walship {

// Where an operator sets the standby's limit for a segment it refused as too
// large: above the largest segment a checkpoint can make.
constexpr const char* kLimitToRaise = "replication.max_segment_bytes above this primary's checkpoint.wal_bytes";

SegmentShipper::SegmentShipper(const SegmentStore& store, StandbyLink& link, ShipperOptions options, Clock& clock,
                               MetricsRegistry& metrics)
    : store_(store),
      link_(link),
      options_(options),
      clock_(clock),
      shipped_total_(metrics.GetCounter("walship_replication_segments_shipped_total",
                                        "Segments the standby accepted from this primary")),
      shipped_bytes_(metrics.GetCounter("walship_replication_bytes_shipped_total",
                                        "Bytes of segments and bases pushed to the standby")),
      retries_total_(metrics.GetCounter("walship_replication_retries_total",
                                        "Failed exchanges with the standby, each followed by a retry")) {}

SegmentShipper::~SegmentShipper() { Stop(); }

void SegmentShipper::Start() {
  thread_ = std::thread([this] {
    NameThisThread("ws-shipper");
    Run();
  });
}

void SegmentShipper::Notify() {
  {
    std::lock_guard lock(mu_);
    notified_ = true;
  }
  cv_.notify_all();
}

void SegmentShipper::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  shipped_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Status SegmentShipper::WaitShipped(int64_t txid, int64_t timeout_ms) {
  std::unique_lock lock(mu_);
  if (shipped_cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                           [&] { return standby_txid_ >= txid || stopping_; }) &&
      standby_txid_ >= txid) {
    return Status::Ok();
  }
  return Status::DeadlineExceeded("the standby " + link_.Describe() + " did not confirm txid " + std::to_string(txid) +
                                  " within " + std::to_string(timeout_ms) + " ms (it has " +
                                  std::to_string(standby_txid_) + ")")
      .WithReason("replication_timeout");
}

bool SegmentShipper::DrainFor(int64_t timeout_ms) {
  auto entries = store_.List();
  if (!entries.ok() || entries->empty()) return true;
  const uint64_t newest = entries->back().sequence;
  Notify();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    ShipperStats st = Stats();
    if (st.standby.has_database && st.standby.sequence >= newest) return true;
    if (!st.connected || std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::optional<uint64_t> SegmentShipper::AcknowledgedSequence() const {
  std::lock_guard lock(mu_);
  return acknowledged_sequence_;
}

ShipperStats SegmentShipper::Stats() const {
  std::lock_guard lock(stats_mu_);
  return stats_;
}

void SegmentShipper::UpdateStats(const std::function<void(ShipperStats&)>& update) {
  std::lock_guard lock(stats_mu_);
  update(stats_);
}

// Only the answer to a push of this primary's own segment counts: a
// position the standby reports on its own may belong to another primary's
// history (a recreated primary, a miswired pair), and crediting it would
// answer sync writes the standby never stored.
void SegmentShipper::NoteStandbyPosition(const StandbyPosition& p) {
  if (!p.has_database) return;
  {
    std::lock_guard lock(mu_);
    standby_txid_ = p.txid;
    acknowledged_sequence_ = p.sequence;
  }
  shipped_cv_.notify_all();
}

void SegmentShipper::RecordError(const Status& s) {
  retries_total_.Add();
  UpdateStats([&](ShipperStats& st) {
    st.connected = false;
    ++st.errors;
    ++st.retries;
    // Log a new kind of failure once, not every retry.
    if (st.last_error != s.ToString()) {
      LogWarn("cannot ship segments to the standby; retrying", {{"standby", link_.Describe()}, {"error", s.ToString()}});
    }
    st.last_error = s.ToString();
  });
}

void SegmentShipper::Run() {
  int64_t backoff_ms = options_.retry_initial_ms;
  int out_of_order_in_a_row = 0;
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    Status s;
    try {
      s = ShipPending();
    } catch (const std::exception& e) {
      // A library that throws (JSON from a peer, a bad_alloc) must not end
      // the primary: the shipper reports it and retries.
      s = Status::Internal(std::string("ship segments: unexpected exception: ") + e.what());
    }
    int64_t wait_ms = options_.idle_poll_ms;
    if (s.ok()) {
      backoff_ms = options_.retry_initial_ms;
      out_of_order_in_a_row = 0;
    } else if (s.reason() == "snapshot_pending") {
      wait_ms = 100;  // or sooner: the seal of the segment after the snapshot notifies
    } else {
      position_.reset();  // ask again: the standby may have restarted or moved on
      if (s.reason() == "out_of_order" && ++out_of_order_in_a_row < 3) continue;
      RecordError(s);
      wait_ms = backoff_ms;
      backoff_ms = std::min(backoff_ms * 2, options_.retry_max_ms);
    }
    std::unique_lock lock(mu_);
    // After a failure only Stop() cuts the wait short: a burst of seals
    // must not turn the backoff into a busy loop.
    const bool failed = !s.ok() && s.reason() != "snapshot_pending";
    const bool woken = cv_.wait_for(lock, std::chrono::milliseconds(wait_ms),
                                    [&] { return stopping_ || (!failed && notified_); });
    notified_ = false;
    // Idle: ask the standby again next round, so one that restarted empty or
    // was resynced is noticed even when no write comes.
    if (!woken) position_.reset();
  }
}

Result<size_t> SegmentShipper::NewestChainStart(const std::vector<SegmentFileEntry>& entries) const {
  for (size_t i = entries.size(); i-- > 0;) {
    auto bytes = store_.ReadHeaderBytes(entries[i]);
    if (!bytes.ok()) return bytes.status();
    auto h = DecodeSegmentHeader(*bytes);
    if (!h.ok()) return h.status().Wrap("segment " + std::to_string(entries[i].sequence));
    if (h->header.chain_start()) return i;
  }
  return Status::NotFound("the store holds no segment that starts a chain");
}

Status SegmentShipper::ShipPending() {
  if (!position_) {
    auto p = link_.FetchPosition();
    if (!p.ok()) return p.status().Wrap("ask " + link_.Describe() + " for its position");
    position_ = *p;
    UpdateStats([&](ShipperStats& st) {
      st.connected = true;
      st.standby = *p;
    });
    if (refused_too_large_ && p->max_segment_bytes >= refused_too_large_->bytes) {
      // Its limit was raised: the segment may go after all.
      LogInfo("the standby now takes the segment it refused as too large",
              {{"standby", link_.Describe()},
               {"sequence", refused_too_large_->sequence},
               {"max_segment_bytes", p->max_segment_bytes}});
      refused_too_large_.reset();
    }
  }
  auto entries = store_.List();
  if (!entries.ok()) return entries.status().Wrap("ship segments");
  if (entries->empty()) {
    CaughtUp();
    return Status::Ok();
  }
  const uint64_t newest = entries->back().sequence;
  size_t from = 0;
  if (position_->has_database && position_->sequence >= newest) {
    if (position_->sequence > newest) {
      return Status::Conflict("the standby " + link_.Describe() + " applied segment " +
                              std::to_string(position_->sequence) + ", past this primary's newest " +
                              std::to_string(newest) + ": it follows another primary, or this store lost segments");
    }
    UpdateStats([](ShipperStats& st) { st.behind_since_unix_ms = 0; });
    // The standby says it has our newest segment, but no push answer said
    // so (an answer lost on the way, or a restart of this primary): push it
    // again. The same bytes are a no-op there, and the answer is what sync
    // writes may be released by; a position merely reported is not.
    bool credited = false;
    {
      std::lock_guard lock(mu_);
      credited = standby_txid_ >= position_->txid;
    }
    if (!credited) WALSHIP_RETURN_IF_ERROR(PushFrom(*entries, entries->size() - 1));
    CaughtUp();
    return Status::Ok();
  }
  idle_ = false;
  UpdateStats([&](ShipperStats& st) {
    if (st.behind_since_unix_ms == 0) st.behind_since_unix_ms = clock_.NowUnixMillis();
  });
  const uint64_t next = position_->has_database ? position_->sequence + 1 : 0;
  auto it = std::find_if(entries->begin(), entries->end(),
                         [&](const SegmentFileEntry& e) { return e.sequence == next; });
  const bool refused_ahead = refused_too_large_ && refused_too_large_->sequence >= next;
  if (it != entries->end() && !refused_ahead) {
    from = static_cast<size_t>(it - entries->begin());
  } else {
    auto start = StartOver(*entries, next);
    if (!start.ok()) return start.status();
    from = *start;
  }
  WALSHIP_RETURN_IF_ERROR(PushFrom(*entries, from));
  CaughtUp();
  return Status::Ok();
}

void SegmentShipper::CaughtUp() {
  idle_ = true;
  if (options_.on_caught_up) options_.on_caught_up();
}

Result<size_t> SegmentShipper::StartOver(const std::vector<SegmentFileEntry>& entries, uint64_t next) {
  // No chain start at all is possible: segment retention removes old ones.
  auto start = NewestChainStart(entries);
  if (!start.ok() && start.status().code() != Code::kNotFound) return start.status().Wrap("ship segments");
  const std::optional<size_t> chain = start.ok() ? std::optional<size_t>(*start) : std::nullopt;
  const uint64_t chain_start = chain ? entries[*chain].sequence : 0;
  // A standby with a database whose next segment this store lacks (and no
  // newer chain start follows it) cannot replay: only a snapshot helps.
  // Nor can one whose chain would take it through a segment it refused.
  const bool refused_in_chain = refused_too_large_ && refused_too_large_->sequence >= chain_start;
  const bool replay_possible = chain && (next == 0 || chain_start >= next) && !refused_in_chain;
  const auto cannot_replay = [&] {
    if (chain && refused_in_chain) {
      return Status::TooLarge("the standby " + link_.Describe() + " refused segment " +
                              std::to_string(refused_too_large_->sequence) +
                              " as too large, and no snapshot (a new base) came after it: raise its " +
                              kLimitToRaise)
          .WithReason("too_large");
    }
    if (next == 0) {
      return Status::NotFound("the standby " + link_.Describe() +
                              " is empty and this primary's store holds no chain start to begin it on (segment "
                              "retention removed the older segments): it needs a snapshot");
    }
    return Status::NotFound("the standby " + link_.Describe() + " needs segment " + std::to_string(next) +
                            ", which this primary's store does not hold (and no newer base follows it)");
  };
  if (snapshot_requested_ms_ != 0 && replay_possible && chain_start > snapshot_after_sequence_) {
    snapshot_requested_ms_ = 0;  // the snapshot and a segment after it are here
    return *chain;
  }
  // Past snapshot_after_bytes a snapshot is the cheaper way; with no replay
  // possible it is the only one, whatever snapshot_after_bytes says.
  const bool snapshots =
      options_.request_snapshot && (options_.snapshot_after_bytes >= 0 || !replay_possible);
  if (!snapshots) return replay_possible ? Result<size_t>(*chain) : Result<size_t>(cannot_replay());
  int64_t chain_bytes = 0;
  for (size_t i = chain.value_or(entries.size()); i < entries.size(); ++i) chain_bytes += entries[i].bytes;
  if (replay_possible && chain_bytes <= options_.snapshot_after_bytes) return *chain;
  const int64_t now = clock_.NowUnixMillis();
  if (snapshot_requested_ms_ == 0) {
    LogInfo("the standby starts over: asking for a snapshot rather than a replay",
            {{"standby", link_.Describe()},
             {"chain_bytes", chain_bytes},
             {"chain_start", chain_start},
             {"replay_possible", replay_possible}});
    options_.request_snapshot();
    snapshot_requested_ms_ = now;
    snapshot_after_sequence_ = chain_start;
  }
  if (now - snapshot_requested_ms_ < options_.snapshot_wait_ms) {
    return Status::Unavailable("waiting for a snapshot (a new base) and the first segment after it")
        .WithReason("snapshot_pending");
  }
  snapshot_requested_ms_ = 0;  // ask again next round
  if (!replay_possible) return cannot_replay();
  LogWarn("no segment followed the snapshot in time (no writes?): the standby replays the chain instead",
          {{"standby", link_.Describe()}, {"chain_bytes", chain_bytes}});
  return *chain;
}

Status SegmentShipper::PushFrom(const std::vector<SegmentFileEntry>& entries, size_t from) {
  for (size_t i = from; i < entries.size(); ++i) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return Status::Unavailable("the shipper is stopping").WithReason("shutting_down");
    }
    const SegmentFileEntry& e = entries[i];
    const std::string what = "segment " + std::to_string(e.sequence);
    auto bytes = store_.ReadBytes(e);
    if (!bytes.ok()) return bytes.status().Wrap("ship " + what);
    auto h = DecodeSegmentHeader(*bytes);
    if (!h.ok()) return h.status().Wrap("ship " + what);
    // Checked before its base goes: a base without its segment is no use.
    if (position_ && position_->max_segment_bytes > 0 &&
        static_cast<int64_t>(bytes->size()) > position_->max_segment_bytes) {
      // Pushed, it would be refused with a 413 that the standby answers
      // before reading the body, which the push would see as a reset
      // connection: never sent.
      Status over = Status::TooLarge("ship " + what + ": it is " + std::to_string(bytes->size()) +
                                     " bytes, over the standby's replication.max_segment_bytes (" +
                                     std::to_string(position_->max_segment_bytes) + ")")
                        .WithReason("too_large");
      // One the standby has (pushed again only for its answer) needs no
      // start over: the next segment brings the answer.
      if (!position_->has_database || e.sequence > position_->sequence) NoteRefusedAsTooLarge(e, over);
      return over;
    }
    if (h->header.chain_start() && h->header.db_pages_before != 0) {
      auto base_path = store_.BasePath(e.sequence);
      if (!base_path) return Status::NotFound("ship " + what + ": its base is not in the store");
      WALSHIP_RETURN_IF_ERROR(link_.PushBase(e.sequence, *base_path).Wrap("ship the base of " + what));
      shipped_bytes_.Add(static_cast<uint64_t>(FileSizeOrZero(*base_path)));
    }
    auto p = link_.PushSegment(e.sequence, *bytes);
    if (!p.ok()) {
      if (p.status().reason() == "too_large" || p.status().reason() == "http_413") NoteRefusedAsTooLarge(e, p.status());
      return p.status().Wrap("ship " + what + " to " + link_.Describe());
    }
    position_ = *p;
    NoteStandbyPosition(*p);
    shipped_total_.Add();
    shipped_bytes_.Add(bytes->size());
    const bool caught_up = i + 1 == entries.size();
    UpdateStats([&](ShipperStats& st) {
      st.connected = true;
      st.standby = *p;
      st.last_shipped_sequence = e.sequence;
      st.last_shipped_unix_ms = clock_.NowUnixMillis();
      ++st.segments_shipped;
      st.bytes_shipped += bytes->size();
      if (caught_up) st.behind_since_unix_ms = 0;
    });
  }
  return Status::Ok();
}

void SegmentShipper::NoteRefusedAsTooLarge(const SegmentFileEntry& e, const Status& refusal) {
  if (refused_too_large_ && refused_too_large_->sequence >= e.sequence) return;
  refused_too_large_ = RefusedSegment{e.sequence, e.bytes};
  LogWarn(options_.request_snapshot
              ? "the standby refused a segment as too large: it will start over from a snapshot after it"
              : "the standby refused a segment as too large, and this primary takes no snapshots for it",
          {{"standby", link_.Describe()},
           {"sequence", e.sequence},
           {"bytes", e.bytes},
           {"error", refusal.ToString()},
           {"fix", "raise the standby's " + std::string(kLimitToRaise)}});
}

}  // namespace walship
