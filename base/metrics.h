// Metrics in the Prometheus text format: counters, gauges and histograms,
// optionally with labels. Updating a metric is lock-free (atomics); looking
// one up by labels takes the registry mutex, so hot paths keep the reference.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace walship {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void Add(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void Set(int64_t v) { value_.store(v, std::memory_order_relaxed); }
  void Add(int64_t d) { value_.fetch_add(d, std::memory_order_relaxed); }
  int64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

// Observations are plain numbers in the unit the metric's name says
// (seconds for *_seconds, a count for batch sizes).
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void Observe(double v);
  uint64_t Count() const { return count_.load(std::memory_order_relaxed); }
  double Sum() const;
  const std::vector<double>& UpperBounds() const { return bounds_; }
  // Cumulative count of observations <= UpperBounds()[i].
  uint64_t CumulativeCount(size_t i) const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // one per bound, plus +Inf
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_micro_{0};  // sum scaled by 1e6, to stay an integer atomic
};

// Buckets for latencies in seconds: 50 µs .. 10 s.
std::vector<double> LatencyBuckets();
// Buckets for sizes/counts: 1, 2, 4, ... 4096.
std::vector<double> SizeBuckets();

class MetricsRegistry {
 public:
  Counter& GetCounter(const std::string& name, const std::string& help, const Labels& labels = {});
  Gauge& GetGauge(const std::string& name, const std::string& help, const Labels& labels = {});
  Histogram& GetHistogram(const std::string& name, const std::string& help,
                          const std::vector<double>& bounds, const Labels& labels = {});
  // A gauge computed when metrics are rendered (WAL size, uptime, ...).
  void AddGaugeFunction(const std::string& name, const std::string& help,
                        std::function<double()> fn);

  std::string RenderPrometheus() const;

 private:
  struct Family {
    std::string help;
    std::string type;  // counter, gauge, histogram
    std::map<std::string, std::unique_ptr<Counter>> counters;  // by rendered labels
    std::map<std::string, std::unique_ptr<Gauge>> gauges;
    std::map<std::string, std::unique_ptr<Histogram>> histograms;
    std::function<double()> gauge_fn;
  };
  Family& FamilyFor(const std::string& name, const std::string& help, const char* type);

  mutable std::mutex mu_;  // guards families_ (the map, not the metric values)
  std::map<std::string, Family> families_;
};

// {a="x",b="y"} with Prometheus escaping; "" for no labels.
std::string RenderLabels(const Labels& labels);

}  // namespace walship
