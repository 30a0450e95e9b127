// ScrubScheduler: the worker thread that runs the node's own corruption
// checks on their schedules ([check] in the config):
//   - PRAGMA quick_check (node/quick_check.h) every check.quick_check_interval_s;
//   - a scrub pass (node/scrub.h) every check.scrub_interval_s, in batches
//     paced to check.scrub_pages_per_second.
// A value of 0 turns a check off; the scrub needs the WAL capture's checksum. The first run of each comes one interval
// after Start(). A corruption either finds goes to the CorruptionWatch (which
// stops writes); after any finding both checks stop: the database is to be
// restored, not checked again.
//
// Thread contract: Start() and Stop() from the store's owner; Stop() joins
// and is idempotent. The thread owns the Scrubber; the writer and the watch
// must outlive the scheduler (the Store stops it before closing the writer).
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "base/clock.h"
#include "base/metrics.h"
#include "node/config.h"
#include "node/corruption_watch.h"
#include "node/quick_check.h"
#include "node/scrub.h"
#include "node/writer.h"

namespace walship {

class ScrubScheduler {
 public:
  // `scrub` false (no WAL capture, so no database checksum to compare
  // with): the quick_check alone runs.
  ScrubScheduler(const Config& config, bool scrub, Writer& writer, const std::string& db_path, const char* vfs,
                 CorruptionWatch& watch, Clock& clock, MetricsRegistry& metrics);
  ~ScrubScheduler();
  ScrubScheduler(const ScrubScheduler&) = delete;
  ScrubScheduler& operator=(const ScrubScheduler&) = delete;

  // Starts the thread; does nothing when both checks are off.
  void Start();
  void Stop();

  // Blocking, on the calling thread, whatever the schedule says (tests, and
  // an operator's "check now"): a whole scrub pass from page 1, or one
  // quick_check. Results as the scheduled runs: a corruption is reported to
  // the watch and returned.
  Status ScrubPassNow();
  Status QuickCheckNow();

 private:
  void Run();
  Status QuickCheck();
  // One scrub batch; returns the seconds to wait before the next one.
  double ScrubBatch();

  const int64_t quick_check_interval_s_;
  const int64_t scrub_interval_s_;
  const int64_t scrub_pages_per_second_;
  const std::string db_path_;
  const char* vfs_;
  CorruptionWatch& watch_;
  Clock& clock_;
  std::mutex scrub_mu_;  // guards scrubber_ (the scheduler thread, ScrubPassNow)
  Scrubber scrubber_;

  std::mutex mu_;  // guards stopping_
  std::condition_variable cv_;
  bool stopping_ = false;
  QuickCheckCancel cancel_;  // Stop(): a running quick_check ends early
  std::thread thread_;

  Counter& quick_checks_ok_;
  Counter& quick_checks_corrupt_;
  Counter& quick_checks_failed_;
  Histogram& quick_check_seconds_;
  Gauge& quick_check_last_unix_;
  Counter& scrub_batches_ok_;
  Counter& scrub_batches_deferred_;
  Counter& scrub_batches_failed_;
};

}  // namespace walship
