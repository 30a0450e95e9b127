// The replication section of make bench.
//
// Lag: a primary and a standby (fresh, on 127.0.0.1) under the PUT load;
// meanwhile four probers each write a key and read it back from the standby
// with min_position set to the write's position, then wait 20 ms. The lag of a
// sample is the time from the write's answer (just after its commit) to the
// standby's answer (just after the apply that made it visible). Measured
// with the default checkpoint interval and with 100 ms.
//
// Sync: PUT/s with a sync standby against an async one, fresh pairs each.
#include <atomic>
#include <csignal>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/bench/bench.h"
#include "tests/support/node_process.h"

namespace walship::bench {
namespace {

using walship::testing::NodeOptions;
using walship::testing::NodeProcess;

struct Pair {
  std::unique_ptr<NodeProcess> standby;
  std::unique_ptr<NodeProcess> primary;
};

// `checkpoint_toml`: a [checkpoint] table or nothing; `replication_keys`:
// more keys of the primary's [replication] table.
bool StartPair(const ReplicationBenchArgs& a, const std::string& name, const std::string& checkpoint_toml,
               const std::string& replication_keys, Pair* pair, std::string* error) {
  NodeOptions s;
  s.binary = a.walship;
  s.data_dir = a.dir + "/" + name + "-standby";
  s.config_toml = "[replication]\nrole = \"standby\"\nmin_position_wait_ms = 30000\n[log]\naccess_log = false\n";
  pair->standby = NodeProcess::Start(s, error);
  if (!pair->standby) return false;
  NodeOptions p;
  p.binary = a.walship;
  p.data_dir = a.dir + "/" + name + "-primary";
  p.config_toml = "[log]\naccess_log = false\n" + checkpoint_toml + "\n[replication]\nstandby = \"" +
                  pair->standby->url() + "\"\n" + replication_keys + "\n";
  pair->primary = NodeProcess::Start(p, error);
  return pair->primary != nullptr;
}

// Lag samples (ns) of prober `id`: one probe after another, 20 ms apart,
// until `stop`.
void Probe(const Pair& pair, int id, const std::atomic<bool>& stop, std::vector<uint64_t>* samples,
           uint64_t* failures) {
  auto primary = pair.primary->Client();
  auto standby = pair.standby->Client();
  for (uint64_t i = 0; !stop; ++i) {
    const std::string path = "/v1/archives/lag-probe/" + std::to_string(id) + "/" + std::to_string(i);
    auto put = primary->Put(path.c_str(), "probe " + std::to_string(i), "text/plain");
    const auto acked = std::chrono::steady_clock::now();
    nlohmann::json body = put ? nlohmann::json::parse(put->body, nullptr, false) : nlohmann::json();
    if (!put || put->status != 201 || !body.is_object() || !body["position"].is_string()) {
      ++*failures;
      continue;
    }
    auto get = standby->Get((path + "?min_position=" + body["position"].get<std::string>()).c_str());
    if (!get || get->status != 200) {
      ++*failures;
      continue;
    }
    samples->push_back(static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - acked).count()));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

struct LagResult {
  PhaseResult load;
  double p50_ms = 0, p99_ms = 0, max_ms = 0;
  size_t samples = 0;
  uint64_t failures = 0;
};

bool MeasureLag(const ReplicationBenchArgs& a, const std::string& name, const std::string& checkpoint_toml,
                LagResult* out, std::string* error) {
  Pair pair;
  if (!StartPair(a, name, checkpoint_toml, "", &pair, error)) return false;
  // Four probers, so that a 5 s phase gives some 150 samples (a probe waits
  // for the lag itself).
  constexpr int kProbers = 4;
  std::atomic<bool> stop{false};
  std::vector<std::vector<uint64_t>> per_prober(kProbers);
  std::vector<uint64_t> failures(kProbers, 0);
  std::vector<std::thread> probers;
  for (int i = 0; i < kProbers; ++i) {
    probers.emplace_back([&, i] { Probe(pair, i, stop, &per_prober[i], &failures[i]); });
  }
  out->load = RunPhase(PutPhase("PUT x" + std::to_string(a.clients) + " " + name, pair.primary->port(), a.clients,
                                a.warmup_s, a.measure_s, a.client, a.bodies, name),
                       pair.primary->pid());
  stop = true;
  for (auto& t : probers) t.join();
  std::vector<uint64_t> samples;
  for (int i = 0; i < kProbers; ++i) {
    samples.insert(samples.end(), per_prober[i].begin(), per_prober[i].end());
    out->failures += failures[i];
  }
  out->samples = samples.size();
  Summarize(samples, &out->p50_ms, &out->p99_ms, &out->max_ms);
  pair.primary->SignalAndWait(SIGTERM, 30000);
  pair.standby->SignalAndWait(SIGTERM, 30000);
  return true;
}

bool MeasurePuts(const ReplicationBenchArgs& a, const std::string& name, const std::string& replication_keys,
                 PhaseResult* out, std::string* error) {
  Pair pair;
  if (!StartPair(a, name, "", replication_keys, &pair, error)) return false;
  *out = RunPhase(PutPhase("PUT x" + std::to_string(a.clients) + " " + name, pair.primary->port(), a.clients,
                           a.warmup_s, a.measure_s, a.client, a.bodies, name),
                  pair.primary->pid());
  pair.primary->SignalAndWait(SIGTERM, 30000);
  pair.standby->SignalAndWait(SIGTERM, 30000);
  return true;
}

}  // namespace

bool RunReplicationBench(const ReplicationBenchArgs& a, std::string* error) {
  std::printf("\nreplication: fresh primary + standby pairs on 127.0.0.1, %d clients writing\n", a.clients);
  uint64_t errors = 0;
  LagResult lag_default, lag_100;
  if (!MeasureLag(a, "lag-default", "", &lag_default, error)) return false;
  if (!MeasureLag(a, "lag-ckpt100", "[checkpoint]\ninterval_ms = 100", &lag_100, error)) return false;
  for (const auto* r : {&lag_default, &lag_100}) {
    std::printf("  %-28s %8.0f PUT/s  write p99 %7.3f ms | lag p50 %7.3f ms  p99 %7.3f ms  max %7.3f ms  (%zu "
                "probes, %llu failed)\n",
                r->load.name.c_str(), r->load.ops_per_s, r->load.p99_ms, r->p50_ms, r->p99_ms, r->max_ms, r->samples,
                static_cast<unsigned long long>(r->failures));
    errors += r->load.errors + r->failures;
  }
  PhaseResult async_puts, sync_puts;
  if (!MeasurePuts(a, "async", "", &async_puts, error)) return false;
  if (!MeasurePuts(a, "sync", "mode = \"sync\"", &sync_puts, error)) return false;
  for (const auto* p : {&async_puts, &sync_puts}) {
    std::printf("  %-28s %8.0f PUT/s  p50 %7.3f ms  p99 %7.3f ms  errors %llu\n", p->name.c_str(), p->ops_per_s,
                p->p50_ms, p->p99_ms, static_cast<unsigned long long>(p->errors));
    errors += p->errors;
  }
  std::printf("\nreplication summary\n");
  std::printf("  lag from a write's answer to the standby serving it, p99: %.1f ms with the default checkpoint "
              "interval (target < 1000 ms)  %s; %.1f ms with 100 ms checkpoints\n",
              lag_default.p99_ms, lag_default.samples > 0 && lag_default.p99_ms < 1000 ? "PASS" : "MISS",
              lag_100.p99_ms);
  std::printf("  durable PUT/s with a sync standby / an async one: %.0f / %.0f = %.2fx\n", sync_puts.ops_per_s,
              async_puts.ops_per_s, async_puts.ops_per_s > 0 ? sync_puts.ops_per_s / async_puts.ops_per_s : 0);
  return errors == 0;
}

}  // namespace walship::bench
