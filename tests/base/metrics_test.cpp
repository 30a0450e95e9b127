#include "base/metrics.h"

#include <gtest/gtest.h>

#include <limits>
#include <thread>
#include <vector>

namespace walship {
namespace {

TEST(RenderLabelsTest, EmptyRendersNothing) { EXPECT_EQ(RenderLabels({}), ""); }

TEST(RenderLabelsTest, KeepsOrderAndEscapesValues) {
  EXPECT_EQ(RenderLabels({{"route", "/v1/archives"}, {"code", "200"}}), R"({route="/v1/archives",code="200"})");
  // Prometheus text format: backslash, double quote and line feed are escaped.
  EXPECT_EQ(RenderLabels({{"v", "a\"b\\c\nd"}}), R"({v="a\"b\\c\nd"})");
  // Everything else (including UTF-8 and tabs) passes through.
  EXPECT_EQ(RenderLabels({{"v", "été\t"}}), "{v=\"été\t\"}");
}

TEST(MetricsRegistryTest, CounterRendersHelpTypeAndValue) {
  MetricsRegistry r;
  r.GetCounter("walship_commits_total", "Write transactions committed").Add();
  r.GetCounter("walship_commits_total", "ignored: the first help wins").Add(41);
  EXPECT_EQ(r.RenderPrometheus(),
            "# HELP walship_commits_total Write transactions committed\n"
            "# TYPE walship_commits_total counter\n"
            "walship_commits_total 42\n");
}

TEST(MetricsRegistryTest, SameNameAndLabelsGiveTheSameMetric) {
  MetricsRegistry r;
  Counter& a = r.GetCounter("c", "h", {{"k", "v"}});
  Counter& b = r.GetCounter("c", "h", {{"k", "v"}});
  Counter& other = r.GetCounter("c", "h", {{"k", "w"}});
  EXPECT_EQ(&a, &b);
  EXPECT_NE(&a, &other);
}

TEST(MetricsRegistryTest, LabelledSeriesAreSortedAndEscaped) {
  MetricsRegistry r;
  r.GetCounter("http_requests_total", "Requests", {{"route", "put"}, {"code", "201"}}).Add(3);
  r.GetCounter("http_requests_total", "Requests", {{"route", "get"}, {"code", "404"}}).Add(1);
  r.GetCounter("http_requests_total", "Requests", {{"route", "we\"ird\\"}, {"code", "x\ny"}}).Add(2);
  EXPECT_EQ(r.RenderPrometheus(),
            "# HELP http_requests_total Requests\n"
            "# TYPE http_requests_total counter\n"
            "http_requests_total{route=\"get\",code=\"404\"} 1\n"
            "http_requests_total{route=\"put\",code=\"201\"} 3\n"
            "http_requests_total{route=\"we\\\"ird\\\\\",code=\"x\\ny\"} 2\n");
}

TEST(MetricsRegistryTest, GaugesCanGoDown) {
  MetricsRegistry r;
  Gauge& g = r.GetGauge("walship_in_flight", "Requests in flight");
  g.Set(5);
  g.Add(-7);
  EXPECT_EQ(g.Value(), -2);
  EXPECT_EQ(r.RenderPrometheus(),
            "# HELP walship_in_flight Requests in flight\n"
            "# TYPE walship_in_flight gauge\n"
            "walship_in_flight -2\n");
}

TEST(MetricsRegistryTest, GaugeFunctionIsEvaluatedAtRenderTime) {
  MetricsRegistry r;
  double wal = 4096;
  r.AddGaugeFunction("walship_wal_bytes", "WAL size", [&] { return wal; });
  r.AddGaugeFunction("walship_uptime_seconds", "Uptime", [] { return 1.5; });
  r.AddGaugeFunction("walship_tiny", "Tiny", [] { return 0.00005; });
  r.AddGaugeFunction("walship_inf", "Inf", [] { return std::numeric_limits<double>::infinity(); });
  wal = 8192;
  EXPECT_EQ(r.RenderPrometheus(),
            "# HELP walship_inf Inf\n"
            "# TYPE walship_inf gauge\n"
            "walship_inf +Inf\n"
            "# HELP walship_tiny Tiny\n"
            "# TYPE walship_tiny gauge\n"
            "walship_tiny 5e-05\n"
            "# HELP walship_uptime_seconds Uptime\n"
            "# TYPE walship_uptime_seconds gauge\n"
            "walship_uptime_seconds 1.5\n"
            "# HELP walship_wal_bytes WAL size\n"
            "# TYPE walship_wal_bytes gauge\n"
            "walship_wal_bytes 8192\n");
}

TEST(HistogramTest, BucketsAreCumulativeAndBoundsInclusive) {
  Histogram h({1, 2, 4});
  h.Observe(0.5);
  h.Observe(1);  // on the bound: counts in le="1"
  h.Observe(3);
  h.Observe(100);  // above every bound: only +Inf
  EXPECT_EQ(h.Count(), 4u);
  EXPECT_DOUBLE_EQ(h.Sum(), 104.5);
  EXPECT_EQ(h.CumulativeCount(0), 2u);
  EXPECT_EQ(h.CumulativeCount(1), 2u);
  EXPECT_EQ(h.CumulativeCount(2), 3u);
  EXPECT_EQ(h.CumulativeCount(3), 4u);  // +Inf
  EXPECT_EQ(h.CumulativeCount(99), 4u);
}

TEST(HistogramTest, RendersBucketsInfSumAndCount) {
  MetricsRegistry r;
  Histogram& h = r.GetHistogram("walship_commit_seconds", "Commit time", {0.001, 0.01, 0.1});
  h.Observe(0.0005);
  h.Observe(0.002);
  h.Observe(0.002);
  h.Observe(5);
  EXPECT_EQ(r.RenderPrometheus(),
            "# HELP walship_commit_seconds Commit time\n"
            "# TYPE walship_commit_seconds histogram\n"
            "walship_commit_seconds_bucket{le=\"0.001\"} 1\n"
            "walship_commit_seconds_bucket{le=\"0.01\"} 3\n"
            "walship_commit_seconds_bucket{le=\"0.1\"} 3\n"
            "walship_commit_seconds_bucket{le=\"+Inf\"} 4\n"
            "walship_commit_seconds_sum 5.0045\n"
            "walship_commit_seconds_count 4\n");
}

TEST(HistogramTest, LabelledHistogramPutsLeLast) {
  MetricsRegistry r;
  r.GetHistogram("lat", "Latency", {1}, {{"route", "get"}}).Observe(0.25);
  EXPECT_EQ(r.RenderPrometheus(),
            "# HELP lat Latency\n"
            "# TYPE lat histogram\n"
            "lat_bucket{route=\"get\",le=\"1\"} 1\n"
            "lat_bucket{route=\"get\",le=\"+Inf\"} 1\n"
            "lat_sum{route=\"get\"} 0.25\n"
            "lat_count{route=\"get\"} 1\n");
}

TEST(HistogramTest, EmptyHistogramRendersZeros) {
  MetricsRegistry r;
  r.GetHistogram("batch", "Batch size", {1, 2});
  EXPECT_EQ(r.RenderPrometheus(),
            "# HELP batch Batch size\n"
            "# TYPE batch histogram\n"
            "batch_bucket{le=\"1\"} 0\n"
            "batch_bucket{le=\"2\"} 0\n"
            "batch_bucket{le=\"+Inf\"} 0\n"
            "batch_sum 0\n"
            "batch_count 0\n");
}

TEST(HistogramTest, StandardBuckets) {
  std::vector<double> latency = LatencyBuckets();
  ASSERT_EQ(latency.size(), 17u);
  EXPECT_DOUBLE_EQ(latency.front(), 0.00005);
  EXPECT_DOUBLE_EQ(latency.back(), 10.0);
  for (size_t i = 1; i < latency.size(); ++i) EXPECT_LT(latency[i - 1], latency[i]);
  std::vector<double> sizes = SizeBuckets();
  ASSERT_EQ(sizes.size(), 13u);
  EXPECT_DOUBLE_EQ(sizes.front(), 1);
  EXPECT_DOUBLE_EQ(sizes.back(), 4096);
  for (size_t i = 1; i < sizes.size(); ++i) EXPECT_DOUBLE_EQ(sizes[i], 2 * sizes[i - 1]);
}

TEST(HistogramTest, ConcurrentObservationsAreAllCounted) {
  Histogram h(SizeBuckets());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10'000; ++i) h.Observe(static_cast<double>(i % 8));
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(h.Count(), 40'000u);
  EXPECT_EQ(h.CumulativeCount(SizeBuckets().size()), 40'000u);
  EXPECT_DOUBLE_EQ(h.Sum(), 4 * 1250 * (0 + 1 + 2 + 3 + 4 + 5 + 6 + 7));
}

TEST(MetricsRegistryTest, FamiliesRenderInNameOrderWithEachTypeOnce) {
  MetricsRegistry r;
  r.GetGauge("b_gauge", "B").Set(1);
  r.GetCounter("a_counter", "A", {{"x", "1"}}).Add(2);
  r.GetCounter("a_counter", "A", {{"x", "2"}}).Add(3);
  EXPECT_EQ(r.RenderPrometheus(),
            "# HELP a_counter A\n"
            "# TYPE a_counter counter\n"
            "a_counter{x=\"1\"} 2\n"
            "a_counter{x=\"2\"} 3\n"
            "# HELP b_gauge B\n"
            "# TYPE b_gauge gauge\n"
            "b_gauge 1\n");
}

}  // namespace
}  // namespace walship
