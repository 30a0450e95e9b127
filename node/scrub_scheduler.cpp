#include "node/scrub_scheduler.h"

#include <algorithm>
#include <chrono>

#include "base/log.h"
#include "base/thread_name.h"

namespace walship {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Pages per batch at most: a batch holds a read transaction (and so holds
// back complete checkpoints) for as long as it reads.
constexpr int64_t kMaxBatchPages = 1024;
// How soon a scrub batch that could not start (writes stopped, foreign
// writes waiting for a new base) is tried again.
constexpr double kDeferredRetrySeconds = 1.0;

SteadyClock::time_point After(SteadyClock::time_point from, double seconds) {
  return from + std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(seconds));
}

}  // namespace

ScrubScheduler::ScrubScheduler(const Config& config, bool scrub, Writer& writer, const std::string& db_path,
                               const char* vfs, CorruptionWatch& watch, Clock& clock, MetricsRegistry& metrics)
    : quick_check_interval_s_(config.check_quick_check_interval_s),
      scrub_interval_s_(scrub ? config.check_scrub_interval_s : 0),
      scrub_pages_per_second_(config.check_scrub_pages_per_second),
      db_path_(db_path),
      vfs_(vfs),
      watch_(watch),
      clock_(clock),
      scrubber_(writer, db_path, vfs, watch, clock, metrics),
      quick_checks_ok_(metrics.GetCounter("walship_quick_check_runs_total", "PRAGMA quick_check runs by result",
                                          {{"result", "ok"}})),
      quick_checks_corrupt_(metrics.GetCounter("walship_quick_check_runs_total",
                                               "PRAGMA quick_check runs by result", {{"result", "corrupt"}})),
      quick_checks_failed_(metrics.GetCounter("walship_quick_check_runs_total", "PRAGMA quick_check runs by result",
                                              {{"result", "error"}})),
      quick_check_seconds_(metrics.GetHistogram("walship_quick_check_seconds", "Duration of a PRAGMA quick_check",
                                                LatencyBuckets())),
      quick_check_last_unix_(metrics.GetGauge("walship_quick_check_last_run_timestamp_seconds",
                                              "When the last quick_check ended (Unix seconds; 0: none yet)")),
      scrub_batches_ok_(metrics.GetCounter("walship_scrub_batches_total", "Scrub batches by result",
                                           {{"result", "ok"}})),
      scrub_batches_deferred_(metrics.GetCounter("walship_scrub_batches_total", "Scrub batches by result",
                                                 {{"result", "deferred"}})),
      scrub_batches_failed_(metrics.GetCounter("walship_scrub_batches_total", "Scrub batches by result",
                                               {{"result", "error"}})) {}

ScrubScheduler::~ScrubScheduler() { Stop(); }

void ScrubScheduler::Start() {
  if (quick_check_interval_s_ <= 0 && scrub_interval_s_ <= 0) {
    LogWarn("corruption checks are off (check.quick_check_interval_s = 0; check.scrub_interval_s = 0 or no WAL capture)", {});
    return;
  }
  thread_ = std::thread([this] {
    NameThisThread("ws-scrub");
    Run();
  });
}

void ScrubScheduler::Stop() {
  cancel_.Cancel();
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ScrubScheduler::Run() {
  const auto never = SteadyClock::time_point::max();
  const auto start = SteadyClock::now();
  auto next_quick = quick_check_interval_s_ > 0 ? After(start, static_cast<double>(quick_check_interval_s_)) : never;
  auto next_scrub = scrub_interval_s_ > 0 ? After(start, static_cast<double>(scrub_interval_s_)) : never;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait_until(lock, std::min(next_quick, next_scrub), [&] { return stopping_; });
      if (stopping_) return;
    }
    if (watch_.found()) {
      // The database is to be restored: checking it again finds nothing new.
      next_quick = next_scrub = never;
      continue;
    }
    const auto now = SteadyClock::now();
    if (now >= next_quick) {
      QuickCheck().IgnoreError();  // counted, logged and reported inside
      next_quick = After(SteadyClock::now(), static_cast<double>(quick_check_interval_s_));
    }
    if (now >= next_scrub) next_scrub = After(SteadyClock::now(), ScrubBatch());
  }
}

Status ScrubScheduler::ScrubPassNow() {
  std::lock_guard lock(scrub_mu_);
  return scrubber_.RunPass(static_cast<uint32_t>(std::min(scrub_pages_per_second_, kMaxBatchPages)));
}

Status ScrubScheduler::QuickCheckNow() { return QuickCheck(); }

Status ScrubScheduler::QuickCheck() {
  const int64_t start_ns = clock_.MonotonicNanos();
  Status s = CorruptionQuickCheck(db_path_, vfs_, &cancel_);
  if (s.reason() == "shutting_down") return s;
  const double seconds = static_cast<double>(clock_.MonotonicNanos() - start_ns) / 1e9;
  quick_check_seconds_.Observe(seconds);
  quick_check_last_unix_.Set(clock_.NowUnixMillis() / 1000);
  if (s.ok()) {
    quick_checks_ok_.Add();
    LogEvent(spdlog::level::debug, "quick_check ok", {{"seconds", seconds}});
  } else if (watch_.Observe("quick_check", s)) {
    quick_checks_corrupt_.Add();
  } else {
    quick_checks_failed_.Add();
    LogWarn("quick_check could not run; trying again at the next interval", {{"error", s.ToString()}});
  }
  return s;
}

double ScrubScheduler::ScrubBatch() {
  const int64_t start_ns = clock_.MonotonicNanos();
  const auto batch = static_cast<uint32_t>(std::min(scrub_pages_per_second_, kMaxBatchPages));
  std::unique_lock lock(scrub_mu_);
  auto step = scrubber_.Step(batch);
  lock.unlock();
  if (!step.ok()) {
    if (step.status().code() == Code::kCorruption) {
      return static_cast<double>(scrub_interval_s_);  // reported to the watch; Run() stops the checks
    }
    if (step.status().code() == Code::kUnavailable) {
      scrub_batches_deferred_.Add();
      LogEvent(spdlog::level::debug, "scrub batch deferred", {{"why", step.status().ToString()}});
      return kDeferredRetrySeconds;
    }
    scrub_batches_failed_.Add();
    LogWarn("scrub batch failed; the pass goes on after a pause", {{"error", step.status().ToString()}});
    return std::min<double>(60.0, static_cast<double>(scrub_interval_s_));
  }
  scrub_batches_ok_.Add();
  if (step->pass_done) {
    LogInfo("scrub pass done: no page of the database file differs from the database checksum", {});
    return static_cast<double>(scrub_interval_s_);
  }
  // Pace: this batch's pages at scrub_pages_per_second, counted from its start.
  const double spent = static_cast<double>(clock_.MonotonicNanos() - start_ns) / 1e9;
  const double budget = static_cast<double>(step->compared + step->skipped) /
                        static_cast<double>(scrub_pages_per_second_);
  return std::max(0.0, budget - spent);
}

}  // namespace walship
