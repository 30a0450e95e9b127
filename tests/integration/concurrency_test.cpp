// Concurrency: 32 clients write and read at once against the real binary for
// 10 s (ConcurrencySoak: 120 s). Each client creates, updates and deletes keys
// of its own (so the expected version of each is known exactly), updates a
// few shared keys with If-Match (retrying on 412), reads back what it wrote
// (GET, listing, search) and sends batches. Every acknowledged write (200/201)
// is recorded; afterwards every acknowledged latest state must be there with
// its content and version, no update of a shared key may be lost, no client
// may have seen a 5xx or a transport error, the positions each client saw
// must only go up, the node must drain on SIGTERM with exit code 0, and
// PRAGMA integrity_check on the stopped node's database must say ok.
//
// The seed is printed; WALSHIP_TEST_SEED=<n> replays a run's choices (the
// interleaving of the 32 threads is, of course, not replayed).
// WALSHIP_CONCURRENCY_SECONDS=<n> changes the duration and
// WALSHIP_TEST_LOG_DIR=<dir> keeps a copy of the node's log.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "base/sha256.h"
#include "tests/integration/concurrency_worker.h"
#include "tests/support/node_process.h"
#include "tests/support/run_helpers.h"
#include "tests/support/sqlite_check.h"
#include "tests/support/temp_dir.h"

namespace walship::testing {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;
using namespace concurrency;  // NOLINT

constexpr int kClients = 32;

// Checkpoints much more often than the default (1 s), so that they keep
// running between the groups while 32 clients read and write.
constexpr const char* kConfig = R"toml(
[checkpoint]
interval_ms = 100
)toml";

// The value of an unlabelled series in Prometheus text ("name value"), or -1.
double MetricValue(const std::string& text, const std::string& name) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(name + " ", 0) == 0) return std::strtod(line.c_str() + name.size() + 1, nullptr);
  }
  return -1;
}

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(i), v.end());
  return v[i];
}

void RunConcurrency(std::chrono::seconds duration) {
  // WALSHIP_CONCURRENCY_SECONDS=<n> overrides the duration (at least 1 s).
  if (const char* d = std::getenv("WALSHIP_CONCURRENCY_SECONDS"); d != nullptr && *d != '\0') {
    duration = std::chrono::seconds(std::max(1, std::atoi(d)));
  }
  const uint32_t seed = TestSeed();
  std::printf("[ concurrency ] seed %u (replay with WALSHIP_TEST_SEED=%u), %d clients, %lld s\n", seed, seed, kClients,
              static_cast<long long>(duration.count()));
  ::testing::Test::RecordProperty("seed", std::to_string(seed));
  TempDir dir("walship-concurrency");
  const std::string data_dir = dir.Sub("data");
  const std::string db_path = data_dir + "/index.db";
  struct LogKeeper {  // runs before `dir` is removed
    std::string path, name;
    ~LogKeeper() { KeepLog(path, name); }
  } keep_log{data_dir + ".log", "concurrency-" + std::to_string(seed) + ".log"};
  std::string error;
  auto node = NodeProcess::Start({.data_dir = data_dir, .config_toml = kConfig}, &error);
  ASSERT_NE(node, nullptr) << error;
  Tally tally;

  // The shared keys start at version 1.
  std::map<std::string, std::string> shared_initial;
  {
    auto c = node->Client();
    for (int i = 0; i < kSharedKeys; ++i) {
      const std::string content = "shared " + std::to_string(i) + " initial";
      auto r = c->Put("/v1/archives/" + SharedKey(i), PutBody(content, json::object()), "application/json");
      ASSERT_TRUE(r) << httplib::to_string(r.error());
      ASSERT_EQ(r->status, 201) << r->body;
      shared_initial[SharedKey(i)] = content;
    }
  }

  // The 32 clients, each on its own connection and thread.
  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < kClients; ++i) {
    workers.push_back(std::make_unique<Worker>(i, seed + static_cast<uint32_t>(i) * 7919u, *node, tally));
  }
  const auto start = Clock::now();
  const auto deadline = start + duration;
  {
    std::vector<std::thread> threads;
    for (auto& w : workers) threads.emplace_back([&w, deadline] { w->Run(deadline); });
    for (auto& t : threads) t.join();
  }
  const double elapsed_s = std::chrono::duration<double>(Clock::now() - start).count();

  // Figures.
  int64_t write_requests = 0, write_ops = 0, reads = 0, conflicts = 0, max_txid = 0;
  std::vector<double> write_ms;
  for (auto& w : workers) {
    auto& s = w->stats();
    write_requests += s.write_requests;
    write_ops += s.write_ops;
    reads += s.reads;
    conflicts += s.conflicts;
    max_txid = std::max(max_txid, w->max_txid());
    write_ms.insert(write_ms.end(), s.write_ms.begin(), s.write_ms.end());
  }
  const double p50 = Percentile(write_ms, 0.50);
  const double p99 = Percentile(write_ms, 0.99);
  std::printf(
      "[ concurrency ] %.1f s: %lld acknowledged write requests (%lld ops) = %.0f writes/s, p50 %.2f ms, "
      "p99 %.2f ms; %lld reads = %.0f reads/s; %lld If-Match conflicts retried; %lld transactions "
      "(txid), %.1f requests per commit\n",
      elapsed_s, static_cast<long long>(write_requests), static_cast<long long>(write_ops),
      static_cast<double>(write_requests) / elapsed_s, p50, p99, static_cast<long long>(reads),
      static_cast<double>(reads) / elapsed_s, static_cast<long long>(conflicts), static_cast<long long>(max_txid),
      max_txid > 0 ? static_cast<double>(write_requests + kSharedKeys) / static_cast<double>(max_txid) : 0.0);
  EXPECT_GT(write_requests, 0);

  // ---- After the run: every acknowledged state is there. ----
  auto checker = node->Client();
  checker->set_read_timeout(15, 0);

  // The position covers every acknowledged write.
  int64_t status_txid = -1;
  {
    auto r = checker->Get("/v1/status");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    ASSERT_EQ(r->status, 200) << r->body;
    json j = ParseBody(r->body);
    status_txid = j.value("txid", int64_t{-1});
    EXPECT_GE(status_txid, max_txid) << "status txid below an acknowledged write's position";
    EXPECT_EQ(j.value("ready", false), true) << r->body;
  }

  // Where the time goes (informational): commit and fsync latency.
  if (auto m = checker->Get("/metrics"); m && m->status == 200) {
    const double commits = MetricValue(m->body, "walship_commit_seconds_count");
    const double fsyncs = MetricValue(m->body, "walship_fsync_seconds_count");
    std::printf(
        "[ concurrency ] node: %.0f groups committed, %.2f ms per group (apply + commit); %.0f fsyncs, "
        "%.2f ms each on average\n",
        commits, commits > 0 ? 1000 * MetricValue(m->body, "walship_commit_seconds_sum") / commits : 0.0, fsyncs,
        fsyncs > 0 ? 1000 * MetricValue(m->body, "walship_fsync_seconds_sum") / fsyncs : 0.0);
  }

  // The listing of every client key (version and sha256 of each), page by page.
  std::map<std::string, std::pair<int64_t, std::string>> listed;
  {
    std::string cursor;
    for (int page = 0; page < 100000; ++page) {
      httplib::Params params{{"prefix", "c/"}, {"limit", "1000"}};
      if (!cursor.empty()) params.emplace("cursor", cursor);
      auto r = checker->Get("/v1/archives", params, httplib::Headers{});
      ASSERT_TRUE(r) << httplib::to_string(r.error());
      ASSERT_EQ(r->status, 200) << r->body;
      json j = ParseBody(r->body);
      for (const auto& it : j["items"]) {
        listed[it.value("key", "")] = {it.value("version", int64_t{-1}), it.value("sha256", "")};
      }
      if (j["next_cursor"].is_null()) break;
      cursor = j["next_cursor"].get<std::string>();
    }
  }
  int64_t live_expected = 0, keys_total = 0, uncertain = 0;
  for (auto& w : workers) {
    for (const auto& [key, e] : w->expect()) {
      ++keys_total;
      if (!e.certain()) ++uncertain;
      auto it = listed.find(key);
      bool matched = false;
      for (const State& s : e.possible) {
        if (!s.live && it == listed.end()) matched = true;
        if (s.live && it != listed.end() && it->second.first == s.version &&
            it->second.second == Sha256Hex(s.content)) {
          matched = true;
        }
      }
      if (e.certain() && e.state().live) ++live_expected;
      if (!matched) {
        tally.Fail("listing: " + key +
                   (it == listed.end() ? " missing" : " at version " + std::to_string(it->second.first)) + ", want " +
                   (e.state().live ? "version " + std::to_string(e.state().version) : "absent"));
      }
      if (it != listed.end()) listed.erase(it);
    }
  }
  for (const auto& [key, v] : listed) tally.Fail("listing: key " + key + " was never written by a client");

  // GET every client key, on 8 connections.
  {
    std::vector<std::pair<std::string, const Expect*>> all;
    for (auto& w : workers) {
      for (const auto& [key, e] : w->expect()) all.emplace_back(key, &e);
    }
    constexpr int kCheckers = 8;
    std::vector<std::thread> threads;
    for (int t = 0; t < kCheckers; ++t) {
      threads.emplace_back([&, t] {
        auto c = node->Client();
        c->set_read_timeout(15, 0);
        for (size_t k = static_cast<size_t>(t); k < all.size(); k += kCheckers) {
          const auto& [key, e] = all[k];
          auto r = c->Get("/v1/archives/" + key);
          try {
            if (!r) {
              tally.TransportError("verify get " + key, r.error());
              continue;
            }
            if (r->status >= 500) tally.ServerError("verify get " + key, r.value());
            bool matched = false;
            json j = r->status == 200 ? ParseBody(r->body) : json();
            for (const State& s : e->possible) {
              if (!s.live && r->status == 404) matched = true;
              if (s.live && r->status == 200 && j.value("version", int64_t{-1}) == s.version &&
                  j.value("content", "") == s.content) {
                matched = true;
              }
            }
            if (!matched) {
              tally.Fail("verify get " + key + ": want " +
                         (e->state().live ? "version " + std::to_string(e->state().version) : std::string("404")) +
                         ", got " + std::to_string(r->status) + " " + Truncated(r->body, 120));
            }
          } catch (const std::exception& ex) {
            tally.Fail("verify get " + key + ": unexpected answer: " + ex.what());
          }
        }
      });
    }
    for (auto& t : threads) t.join();
  }

  // Shared keys: no acknowledged update is lost. With If-Match every
  // acknowledged version is distinct, they run 2..final without a gap, and
  // the final one is the latest acknowledged.
  int64_t shared_acked = 0;
  for (int i = 0; i < kSharedKeys; ++i) {
    const std::string key = SharedKey(i);
    std::map<int64_t, const SharedAck*> by_version;
    std::vector<const SharedUnknown*> unknown;
    for (auto& w : workers) {
      for (const auto& a : w->shared_acks()) {
        if (a.key != key) continue;
        ++shared_acked;
        auto [it, inserted] = by_version.emplace(a.version, &a);
        if (!inserted) {
          tally.Fail("lost update: " + key + " version " + std::to_string(a.version) + " was acknowledged to client " +
                     std::to_string(it->second->client) + " and to client " + std::to_string(a.client));
        }
      }
      for (const auto& u : w->shared_unknown()) {
        if (u.key == key) unknown.push_back(&u);
      }
    }
    auto r = checker->Get("/v1/archives/" + key);
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    ASSERT_EQ(r->status, 200) << r->body;
    json j = ParseBody(r->body);
    const int64_t final_version = j.value("version", int64_t{-1});
    const std::string final_content = j.value("content", "");
    const int64_t max_acked = by_version.empty() ? 1 : by_version.rbegin()->first;
    if (unknown.empty()) {
      if (final_version != max_acked) {
        tally.Fail(key + ": final version " + std::to_string(final_version) + ", latest acknowledged " +
                   std::to_string(max_acked));
      }
      for (int64_t v = 2; v <= final_version; ++v) {
        if (!by_version.count(v)) tally.Fail(key + ": version " + std::to_string(v) + " was never acknowledged");
      }
    } else if (final_version < max_acked) {
      tally.Fail(key + ": final version " + std::to_string(final_version) + " below acknowledged " +
                 std::to_string(max_acked));
    }
    bool content_ok = false;
    if (auto it = by_version.find(final_version); it != by_version.end()) {
      content_ok = it->second->content == final_content;
    } else if (final_version == 1) {
      content_ok = final_content == shared_initial[key];
    } else {
      for (const auto* u : unknown) content_ok = content_ok || u->content == final_content;
    }
    if (!content_ok)
      tally.Fail(key + ": content of version " + std::to_string(final_version) + " is not what was written");
  }

  std::printf(
      "[ concurrency ] verified %lld client keys (%lld live, %lld with an unknown outcome) and %lld acknowledged "
      "shared-key updates\n",
      static_cast<long long>(keys_total), static_cast<long long>(live_expected), static_cast<long long>(uncertain),
      static_cast<long long>(shared_acked));

  // The node drains and exits 0 while the clients' keep-alive connections are
  // still open; then the database is checked with the node stopped.
  const auto stop_start = Clock::now();
  const int exit_code = node->SignalAndWait(SIGTERM);
  const double stop_ms = std::chrono::duration<double, std::milli>(Clock::now() - stop_start).count();
  std::printf("[ concurrency ] SIGTERM -> exit %d in %.0f ms\n", exit_code, stop_ms);
  EXPECT_EQ(exit_code, 0) << LogTail(node->log_path());
  workers.clear();
  checker.reset();

  EXPECT_EQ(IntegrityCheck(db_path), "ok");
  EXPECT_EQ(FtsIntegrityCheckOnCopy(db_path, dir.Sub("fts-check")), "ok");
  EXPECT_EQ(QueryIntReadOnly(db_path, "SELECT txid FROM position WHERE id = 1"), status_txid)
      << "the stored position differs from the one /v1/status reported";
  const int64_t live_rows = QueryIntReadOnly(db_path, "SELECT count(*) FROM archives WHERE key >= 'c/' AND key < 'c0'");
  EXPECT_GE(live_rows, live_expected);
  EXPECT_LE(live_rows, live_expected + uncertain);

  EXPECT_EQ(tally.server_errors(), 0) << "clients saw 5xx answers";
  EXPECT_EQ(tally.transport_errors(), 0) << "requests got no answer at all";
  EXPECT_EQ(tally.failures(), 0) << tally.Report() << "node log tail:\n" << LogTail(node->log_path());
}

TEST(ConcurrencyTest, ThirtyTwoClientsForTenSecondsLoseNothing) { RunConcurrency(std::chrono::seconds(10)); }

TEST(ConcurrencySoak, ThirtyTwoClientsForTwoMinutesLoseNothing) { RunConcurrency(std::chrono::seconds(120)); }

}  // namespace
}  // namespace walship::testing
