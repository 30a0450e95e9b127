// The capture section of make bench: what sealing every committed WAL frame
// into a segment before each checkpoint costs the writes, how fast capture
// runs, how well segments compress, and `cp` of the same bytes on the same
// disk as the yardstick.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>

#include "tests/bench/bench.h"
#include "tests/support/node_process.h"

namespace walship::bench {
namespace {

using walship::testing::NodeOptions;
using walship::testing::NodeProcess;

const std::vector<std::string> kCaptureMetrics = {
    "walship_wal_frames_captured_total", "walship_segment_bytes_total", "walship_capture_seconds_sum",
    "walship_capture_seconds_count", "walship_segments_sealed_total", "walship_seal_seconds_sum",
    "walship_checkpoint_seconds_sum",    "walship_checkpoint_seconds_count", "walship_checkpoint_hook_seconds_sum"};

struct Round {
  PhaseResult on, off;
  std::map<std::string, double> metrics;      // of the capture-on node, after its phase
  std::map<std::string, double> off_metrics;  // of the capture-off node
};

double Metric(const std::map<std::string, double>& m, const std::string& name) {
  auto it = m.find(name);
  return it == m.end() ? 0 : it->second;
}

bool RunNode(const CaptureBenchArgs& a, const std::string& name, bool capture, PhaseResult* out,
             std::map<std::string, double>* metrics, std::string* error) {
  NodeOptions o;
  o.binary = a.walship;
  o.data_dir = a.dir + "/" + name;
  o.config_toml = std::string("[segments]\ncapture = ") + (capture ? "true" : "false") + "\n" + a.extra_toml + "\n";
  auto node = NodeProcess::Start(o, error);
  if (!node) return false;
  *out = RunPhase(PutPhase(std::string("PUT x") + std::to_string(a.clients) + " capture " + (capture ? "on" : "off"),
                           node->port(), a.clients, a.warmup_s, a.measure_s, a.client, a.bodies, name),
                  node->pid());
  if (metrics != nullptr) *metrics = ScrapeMetrics(node->port(), kCaptureMetrics, error);
  node->SignalAndWait(SIGTERM, 30000);
  return true;
}

// Seconds to `cp` `src` to `dst` and then fsync the copy (the capture's
// segments are fsynced too).
double TimeCpAndSync(const std::string& src, const std::string& dst, std::string* error) {
  const auto t0 = std::chrono::steady_clock::now();
  std::string out;
  if (walship::testing::RunWalship("/bin/cp", {src, dst}, &out) != 0) {
    *error = "cp failed: " + out;
    return -1;
  }
  int fd = ::open(dst.c_str(), O_RDONLY);
  if (fd < 0 || ::fsync(fd) != 0) {
    *error = "fsync of the copy failed";
    if (fd >= 0) ::close(fd);
    return -1;
  }
  ::close(fd);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

bool RunCaptureBench(const CaptureBenchArgs& a, std::string* error) {
  std::printf("\ncapture: %d rounds of fresh nodes with WAL capture on, then off, %d clients each\n", a.rounds,
              a.clients);
  std::vector<Round> rounds(static_cast<size_t>(a.rounds));
  uint64_t errors = 0;
  for (int r = 0; r < a.rounds; ++r) {
    Round& round = rounds[static_cast<size_t>(r)];
    if (!RunNode(a, "capture-on-" + std::to_string(r), true, &round.on, &round.metrics, error)) return false;
    if (!RunNode(a, "capture-off-" + std::to_string(r), false, &round.off, &round.off_metrics, error)) return false;
    for (const auto& [p, m] : {std::pair{&round.on, &round.metrics}, std::pair{&round.off, &round.off_metrics}}) {
      // Writes wait while the writer checkpoints; with capture on, each
      // checkpoint first waits for the last segment (the hook).
      const double checkpoints = Metric(*m, "walship_checkpoint_seconds_count");
      const double per_checkpoint_ms = checkpoints > 0 ? 1e3 / checkpoints : 0;
      std::printf("  %-24s %10.0f PUT/s  p50 %7.3f ms  p99 %7.3f ms  errors %llu  checkpoints %.0f, %.1f ms each "
                  "(%.1f ms waiting for capture)\n",
                  p->name.c_str(), p->ops_per_s, p->p50_ms, p->p99_ms, static_cast<unsigned long long>(p->errors),
                  checkpoints, per_checkpoint_ms * Metric(*m, "walship_checkpoint_seconds_sum"),
                  per_checkpoint_ms * Metric(*m, "walship_checkpoint_hook_seconds_sum"));
      errors += p->errors;
    }
  }
  double on_p99 = 0, off_p99 = 0, on_ops = 0, off_ops = 0, frames = 0, stored = 0, capture_s = 0, captures = 0,
         seal_s = 0;
  for (const auto& r : rounds) {
    on_p99 += r.on.p99_ms / a.rounds;
    off_p99 += r.off.p99_ms / a.rounds;
    on_ops += r.on.ops_per_s / a.rounds;
    off_ops += r.off.ops_per_s / a.rounds;
    frames += r.metrics.count("walship_wal_frames_captured_total") ? r.metrics.at("walship_wal_frames_captured_total") : 0;
    stored += r.metrics.count("walship_segment_bytes_total") ? r.metrics.at("walship_segment_bytes_total") : 0;
    capture_s += r.metrics.count("walship_capture_seconds_sum") ? r.metrics.at("walship_capture_seconds_sum") : 0;
    captures += r.metrics.count("walship_capture_seconds_count") ? r.metrics.at("walship_capture_seconds_count") : 0;
    seal_s += r.metrics.count("walship_seal_seconds_sum") ? r.metrics.at("walship_seal_seconds_sum") : 0;
  }
  // What capture reads and seals: each frame's page plus its 24-byte WAL header.
  const double page = 4096;
  const double wal_bytes = frames * (page + 24);
  const double body_bytes = frames * (page + 8);
  const double capture_mb_s = capture_s + seal_s > 0 ? wal_bytes / (capture_s + seal_s) / 1e6 : 0;

  // cp of the same number of bytes, on the same disk, fsynced.
  const std::string src = a.dir + "/cp-source.bin";
  const std::string dst = a.dir + "/cp-copy.bin";
  {
    std::FILE* f = std::fopen(src.c_str(), "wb");
    if (f == nullptr) {
      *error = "cannot write " + src;
      return false;
    }
    for (size_t written = 0; written < static_cast<size_t>(wal_bytes) && !a.bodies.empty();) {
      const std::string& b = a.bodies[written / 1024 % a.bodies.size()];
      std::fwrite(b.data(), 1, b.size(), f);
      written += b.size();
    }
    std::fclose(f);
  }
  double cp_s = TimeCpAndSync(src, dst, error);
  std::filesystem::remove(src);
  std::filesystem::remove(dst);
  if (cp_s < 0) return false;
  const double cp_mb_s = cp_s > 0 ? wal_bytes / cp_s / 1e6 : 0;

  // The p99 of every write the capture-on nodes answered, against the same
  // for capture off: the rounds' samples pooled. The mean of the rounds'
  // own p99s is printed too; one slow round (the disk, the host) moves it
  // more than it moves the pooled p99.
  std::vector<uint64_t> on_all, off_all;
  for (const auto& r : rounds) {
    on_all.insert(on_all.end(), r.on.latencies_ns.begin(), r.on.latencies_ns.end());
    off_all.insert(off_all.end(), r.off.latencies_ns.begin(), r.off.latencies_ns.end());
  }
  double on_pooled_p50 = 0, on_pooled_p99 = 0, on_max = 0, off_pooled_p50 = 0, off_pooled_p99 = 0, off_max = 0;
  Summarize(on_all, &on_pooled_p50, &on_pooled_p99, &on_max);
  Summarize(off_all, &off_pooled_p50, &off_pooled_p99, &off_max);
  const double pooled_ratio = off_pooled_p99 > 0 ? on_pooled_p99 / off_pooled_p99 : 0;

  std::printf("\ncapture summary\n");
  std::printf("  write p99 with capture on / off (every write of the %d alternating rounds): %.3f / %.3f ms = %.2fx "
              "(target <= 1.2x)  %s\n",
              a.rounds, on_pooled_p99, off_pooled_p99, pooled_ratio,
              off_pooled_p99 > 0 && pooled_ratio <= 1.2 ? "PASS" : "MISS");
  std::printf("  mean of the rounds' own write p99, capture on / off: %.3f / %.3f ms = %.2fx\n", on_p99, off_p99,
              off_p99 > 0 ? on_p99 / off_p99 : 0);
  std::printf("  PUT/s with capture on / off: %.0f / %.0f = %.2fx\n", on_ops, off_ops, off_ops > 0 ? on_ops / off_ops : 0);
  std::printf("  capture: %.0f frames, %.1f MB of WAL; the sealer read and verified them in %.3f s (%.0f collects, "
              "%.2f ms each), then hashed, compressed and published them (fsync) in %.3f s: %.0f MB/s in all\n",
              frames, wal_bytes / 1e6, capture_s, captures, captures > 0 ? 1000 * capture_s / captures : 0, seal_s,
              capture_mb_s);
  std::printf("  cp + fsync of the same %.1f MB on the same disk: %.3f s = %.0f MB/s; capture / cp = %.2fx\n",
              wal_bytes / 1e6, cp_s, cp_mb_s, cp_mb_s > 0 ? capture_mb_s / cp_mb_s : 0);
  std::printf("  compression of segment bodies (zstd, %s; English-like 1 KiB archives): %.1f MB -> %.1f MB = %.2fx\n",
              a.extra_toml.empty() ? "the default level 1" : a.extra_toml.c_str(), body_bytes / 1e6, stored / 1e6,
              stored > 0 ? body_bytes / stored : 0);
  return errors == 0;
}

}  // namespace walship::bench
