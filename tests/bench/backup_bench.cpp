// The backup section of make bench.
//
// Throughput: a fresh node (backup.schedule = "", so only asked-for backups
// run) is filled through its HTTP API to --backup-db-mb MiB (1 MiB text/plain
// PUTs from parallel clients, half English-like prose, half random ASCII
// punctuation: 5 bits of entropy per byte and no full-text tokens), then
// asked for a backup (POST /v1/admin/backups), polled every 50 ms until it
// is verified. The wall clock runs from the POST to the first "verified"
// answer; the polls also time the phases (pinning, the backup API copy, the
// checksum of the copy, compressing, verifying). Baselines on the same disk,
// with the node running but idle (no writes; its last checkpoint emptied the
// -wal, so index.db is the whole database): `cp` of index.db + fsync of the
// copy, and the sqlite3 CLI's `.backup` of that copy + fsync, each after a
// `sync`.
// Everything is in the page cache (the fill just wrote it): the figures are
// warm-cache ones, for all three.
//
// Writes during a backup: on the same node, 8 clients PUT ~1 KiB records (the
// bench's usual load) for a window with no backup, then for a window in
// which a backup of the large database is asked for and followed to
// verified. Every request's start and latency are kept, so the second
// window's requests are split into those that ran during the backup (and
// each of its phases) and those after it.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <functional>
#include <mutex>
#include <thread>

#include "tests/bench/bench.h"
#include "tests/support/node_process.h"

namespace walship::bench {
namespace {

using walship::testing::NodeOptions;
using walship::testing::NodeProcess;
using SteadyClock = std::chrono::steady_clock;

constexpr int kFillClients = 4;
constexpr size_t kFillBodyBytes = 1 << 20;
constexpr int kPollMs = 50;

double SecondsBetween(SteadyClock::time_point a, SteadyClock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

uint64_t FileSize(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

double MB(double bytes) { return bytes / 1e6; }

// ---- fill -------------------------------------------------------------------

// Printable ASCII punctuation: 32 symbols, all separators for FTS5's
// unicode61 tokenizer.
constexpr char kNoise[] = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
static_assert(sizeof kNoise - 1 == 32);

uint64_t SplitMix(uint64_t& s) {
  uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void MakeFillBody(const std::vector<std::string>& texts, uint64_t& rng, std::string* body) {
  body->clear();
  while (body->size() < kFillBodyBytes / 2) {
    *body += texts[SplitMix(rng) % texts.size()];
    *body += "\n\n";
  }
  while (body->size() < kFillBodyBytes) {
    uint64_t r = SplitMix(rng);
    for (int i = 0; i < 12; ++i, r >>= 5) body->push_back(kNoise[r & 31]);
  }
}

}  // namespace

// Declared in bench.h: the restore section fills its node the same way.
bool FillNode(const NodeProcess& node, const std::string& prefix, const std::function<bool()>& reached, FillResult* out,
              std::string* error) {
  const auto texts = MakeTexts(2048, 16 << 10, 20261127);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> puts{0}, bytes{0};
  std::mutex mu;
  std::string first_error;
  const auto t0 = SteadyClock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < kFillClients; ++c) {
    threads.emplace_back([&, c] {
      auto cli = node.Client();
      cli->set_read_timeout(120, 0);
      uint64_t rng = 0x5eed0000ULL + static_cast<uint64_t>(c) + std::hash<std::string>{}(prefix);
      std::string body;
      for (uint64_t seq = 0; !stop; ++seq) {
        MakeFillBody(texts, rng, &body);
        char path[160];
        std::snprintf(path, sizeof path, "/v1/archives/%s/t%02d/%06llu", prefix.c_str(), c,
                      static_cast<unsigned long long>(seq));
        auto res = cli->Put(path, body, "text/plain; charset=utf-8");
        if (!res || res->status != 201) {
          std::lock_guard lock(mu);
          if (first_error.empty()) {
            first_error = std::string("fill PUT ") + path + ": " +
                          (res ? "HTTP " + std::to_string(res->status) + " " + res->body.substr(0, 300)
                               : httplib::to_string(res.error()));
          }
          stop = true;
          return;
        }
        ++puts;
        bytes += body.size();
      }
    });
  }
  const auto deadline = t0 + std::chrono::hours(1);
  while (!stop && !reached()) {
    if (SteadyClock::now() > deadline) {
      std::lock_guard lock(mu);
      if (first_error.empty()) first_error = "the fill did not reach the target size within an hour";
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  stop = true;
  for (auto& t : threads) t.join();
  out->seconds = SecondsBetween(t0, SteadyClock::now());
  out->puts = puts;
  out->body_bytes = bytes;
  if (!first_error.empty()) {
    *error = first_error;
    return false;
  }
  return true;
}

namespace {

// ---- one backup, followed ------------------------------------------------------

struct Stage {
  std::string name;
  SteadyClock::time_point first_seen;
};

struct BackupRun {
  std::string id;
  SteadyClock::time_point posted, answered, done;  // done: the first "verified" (or "failed") answer
  std::vector<Stage> stages;                        // in the order first seen
  bool verified = false;
  std::string error;                                // the node's, when failed
  uint64_t bytes_uncompressed = 0, bytes_compressed = 0, page_count = 0;
  std::string started_at, finished_at;
  uint64_t max_wal_bytes = 0;
  int polls = 0;

  double wall_s() const { return SecondsBetween(posted, done); }
};

// Where a running backup is, finer than its "phase": the backup API copy is
// over when pages_copied reaches page_count (the checksum of the copy follows
// in the same phase); verifying decompresses (bytes_done up to the database's
// size) before integrity_check and the checksum.
std::string StageOf(const nlohmann::json& b) {
  const std::string phase = b.value("phase", std::string("?"));
  const auto& p = b.contains("progress") ? b["progress"] : nlohmann::json::object();
  const uint64_t copied = p.value("pages_copied", uint64_t{0}), count = p.value("page_count", uint64_t{0});
  const uint64_t done = p.value("bytes_done", uint64_t{0});
  if (phase == "copying") return count > 0 && copied >= count ? "checksum of the copy" : "copying (backup API)";
  if (phase == "verifying") {
    // page_size is not in the answer; bytes_per_second / pages_per_second is.
    const double pps = p.value("pages_per_second", 0.0), bps = p.value("bytes_per_second", 0.0);
    const double total = pps > 0 ? static_cast<double>(count) * (bps / pps) : 0;
    return total > 0 && static_cast<double>(done) >= total ? "verify: integrity_check + checksum"
                                                           : "verify: sha256 + decompress";
  }
  return phase;
}

// Asks for a backup and polls it until verified or failed (at most
// `timeout_s`), noting the -wal's largest size seen.
bool TakeAndFollow(const NodeProcess& node, const std::string& wal_path, double timeout_s, BackupRun* run,
                   std::string* error) {
  auto cli = node.Client();
  run->posted = SteadyClock::now();
  auto res = cli->Post("/v1/admin/backups", "", "application/json");
  run->answered = SteadyClock::now();
  if (!res || res->status != 202) {
    *error = "POST /v1/admin/backups: " +
             (res ? "HTTP " + std::to_string(res->status) + " " + res->body : httplib::to_string(res.error()));
    return false;
  }
  auto j = nlohmann::json::parse(res->body, nullptr, false);
  if (!j.is_object() || !j["backup"].is_object() || !j["backup"]["id"].is_string()) {
    *error = "POST /v1/admin/backups: unexpected answer " + res->body;
    return false;
  }
  if (j.value("already_running", false)) {
    std::printf("  note: the node answered with a backup already running (%s)\n",
                j["backup"]["id"].get<std::string>().c_str());
  }
  run->id = j["backup"]["id"];
  const std::string path = "/v1/admin/backups/" + run->id;
  const auto deadline = run->posted + std::chrono::duration_cast<SteadyClock::duration>(
                                          std::chrono::duration<double>(timeout_s));
  for (;;) {
    run->max_wal_bytes = std::max(run->max_wal_bytes, FileSize(wal_path));
    auto r = cli->Get(path);
    const auto now = SteadyClock::now();
    ++run->polls;
    if (!r || r->status != 200) {
      *error = "GET " + path + ": " +
               (r ? "HTTP " + std::to_string(r->status) + " " + r->body : httplib::to_string(r.error()));
      return false;
    }
    auto g = nlohmann::json::parse(r->body, nullptr, false);
    if (!g.is_object() || !g["backup"].is_object()) {
      *error = "GET " + path + ": unexpected answer " + r->body;
      return false;
    }
    const auto& b = g["backup"];
    const std::string state = b.value("state", std::string());
    if (state == "verified" || state == "failed") {
      if (run->done == SteadyClock::time_point{}) run->done = now;
      // Right after the job ends and before the node has put it away, the
      // answer says "verified" without the sizes: ask again.
      if (state == "verified" && !b.contains("bytes_uncompressed") && now < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(kPollMs));
        continue;
      }
      run->verified = state == "verified";
      run->error = b.value("error", std::string());
      run->bytes_uncompressed = b.value("bytes_uncompressed", uint64_t{0});
      run->bytes_compressed = b.value("bytes_compressed", uint64_t{0});
      run->page_count = b.value("page_count", uint64_t{0});
      run->started_at = b.value("started_at", std::string());
      run->finished_at = b.value("finished_at", std::string());
      return true;
    }
    const std::string stage = StageOf(b);
    if (run->stages.empty() || run->stages.back().name != stage) run->stages.push_back({stage, now});
    if (now > deadline) {
      *error = "backup " + run->id + " still " + state + " after " + std::to_string(static_cast<int>(timeout_s)) + " s";
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(kPollMs));
  }
}

// Milliseconds since the epoch of "2026-11-27T04:31:32.123Z" (0 if not that).
int64_t ParseRfc3339Millis(const std::string& s) {
  std::tm tm{};
  int ms = 0;
  if (std::sscanf(s.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                  &tm.tm_sec, &ms) != 7) {
    return 0;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm)) * 1000 + ms;
}

void PrintStages(const BackupRun& run) {
  for (size_t i = 0; i < run.stages.size(); ++i) {
    const auto end = i + 1 < run.stages.size() ? run.stages[i + 1].first_seen : run.done;
    std::printf("      %-36s %7.2f s  (first seen at %.2f s)\n", run.stages[i].name.c_str(),
                SecondsBetween(run.stages[i].first_seen, end), SecondsBetween(run.posted, run.stages[i].first_seen));
  }
  std::fflush(stdout);
}

// ---- baselines ------------------------------------------------------------------

// sync, then times `argv` followed by an fsync of `out`.
double TimeWithFsync(const std::vector<std::string>& argv, const std::string& out, std::string* error) {
  ::sync();
  const auto t0 = SteadyClock::now();
  std::string output;
  const std::vector<std::string> args(argv.begin() + 1, argv.end());
  if (const int rc = walship::testing::RunWalship(argv[0], args, &output); rc != 0) {
    *error = argv[0] + " exited with " + std::to_string(rc) + ": " + output;
    return -1;
  }
  const int fd = ::open(out.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || ::fsync(fd) != 0) {
    *error = "fsync of " + out + " failed";
    if (fd >= 0) ::close(fd);
    return -1;
  }
  ::close(fd);
  return SecondsBetween(t0, SteadyClock::now());
}

// ---- writes with and without a backup ----------------------------------------------

struct Sample {
  int64_t start_ns;  // since TimedLoad::base
  int64_t latency_ns;
};

// Wraps a phase so that each successful request's start and latency are kept
// (RunPhase keeps only its summary).
struct TimedLoad {
  SteadyClock::time_point base = SteadyClock::now();
  std::vector<std::vector<Sample>> samples;
  std::vector<int64_t> in_flight;  // per client: the start of its current request
  std::atomic<bool> started{false};
  std::atomic<int64_t> first_ns{0};

  int64_t Now() const {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(SteadyClock::now() - base).count();
  }
  int64_t At(SteadyClock::time_point t) const {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t - base).count();
  }

  PhaseSpec Wrap(PhaseSpec spec) {
    samples.assign(static_cast<size_t>(spec.clients), {});
    for (auto& s : samples) s.reserve(1 << 18);
    in_flight.assign(static_cast<size_t>(spec.clients), 0);
    auto next = spec.next;
    spec.next = [this, next](int c, uint64_t seq, Request* r) {
      next(c, seq, r);
      const int64_t now = Now();
      if (!started.exchange(true)) first_ns = now;
      in_flight[static_cast<size_t>(c)] = now;
    };
    spec.on_success = [this](int c, const Request&) {
      const int64_t start = in_flight[static_cast<size_t>(c)];
      samples[static_cast<size_t>(c)].push_back({start, Now() - start});
    };
    return spec;
  }

  // Requests that started in [from, to) and finished by `to`.
  std::vector<uint64_t> Latencies(int64_t from, int64_t to) const {
    std::vector<uint64_t> out;
    for (const auto& v : samples) {
      for (const auto& s : v) {
        if (s.start_ns >= from && s.start_ns < to && s.start_ns + s.latency_ns <= to) {
          out.push_back(static_cast<uint64_t>(s.latency_ns));
        }
      }
    }
    return out;
  }
};

struct Window {
  std::string name;
  double seconds = 0;
  size_t ops = 0;
  double p50 = 0, p99 = 0, max = 0;
};

Window Measure(const TimedLoad& load, const std::string& name, int64_t from, int64_t to) {
  Window w;
  w.name = name;
  w.seconds = static_cast<double>(to - from) / 1e9;
  auto lat = load.Latencies(from, to);
  w.ops = lat.size();
  Summarize(lat, &w.p50, &w.p99, &w.max);
  return w;
}

void PrintWindow(const Window& w) {
  std::printf("  %-44s %7.1f s %8.0f PUT/s  p50 %7.3f ms  p99 %8.3f ms  max %8.2f ms  (%zu)\n", w.name.c_str(),
              w.seconds, w.seconds > 0 ? static_cast<double>(w.ops) / w.seconds : 0, w.p50, w.p99, w.max, w.ops);
}

}  // namespace

bool RunBackupBench(const BackupBenchArgs& a, std::string* error) {
  const uint64_t target = static_cast<uint64_t>(a.db_mib) << 20;
  std::printf("\nbackup: a fresh node filled to %lld MiB through PUT, a backup of it (POST /v1/admin/backups, "
              "polled every %d ms), cp of its index.db and sqlite3 .backup of that copy; then write latency at %d "
              "clients without and during a backup\n",
              static_cast<long long>(a.db_mib), kPollMs, a.clients);
  NodeOptions o;
  o.binary = a.walship;
  o.data_dir = a.dir + "/backup-node";
  o.config_toml = "[backup]\nschedule = \"\"\n";
  const std::string db = o.data_dir + "/index.db";
  const std::string wal = db + "-wal";
  auto node = NodeProcess::Start(o, error);
  if (!node) return false;

  // 1. Fill.
  FillResult fill;
  if (!FillNode(*node, "backup-fill", [&] { return FileSize(db) >= target; }, &fill, error)) return false;
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // the next checkpoint
  std::printf("  fill: %llu PUTs of 1 MiB (half prose, half random punctuation) from %d clients, %.0f MB of "
              "bodies in %.1f s = %.1f MB/s; index.db %.0f MB, -wal %.0f MB\n",
              static_cast<unsigned long long>(fill.puts), kFillClients, MB(static_cast<double>(fill.body_bytes)),
              fill.seconds, fill.seconds > 0 ? MB(static_cast<double>(fill.body_bytes)) / fill.seconds : 0,
              MB(static_cast<double>(FileSize(db))), MB(static_cast<double>(FileSize(wal))));
  std::fflush(stdout);

  // 2. A backup of the idle node.
  BackupRun idle;
  if (!TakeAndFollow(*node, wal, 3600, &idle, error)) return false;
  if (!idle.verified) {
    *error = "backup " + idle.id + " failed: " + idle.error;
    return false;
  }
  const double idle_s = idle.wall_s();
  const double node_s =
      static_cast<double>(ParseRfc3339Millis(idle.finished_at) - ParseRfc3339Millis(idle.started_at)) / 1e3;
  std::printf("  backup %s of the idle node: verified in %.2f s (POST to the first \"verified\" answer, %d polls)\n",
              idle.id.c_str(), idle_s, idle.polls);
  PrintStages(idle);
  std::printf("    (the node's started_at -> finished_at: %.2f s; finished_at is stamped before verifying)\n", node_s);

  // 3. Baselines, the node idle: no client writes, and its last checkpoint
  // (TRUNCATE) emptied the -wal, so index.db holds the whole database. (A
  // restart of the node is avoided: on a 1 GiB database its start-up takes
  // more than 10 minutes, see docs/BENCHMARKS.md.)
  for (int i = 0; i < 100 && FileSize(wal) > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  if (FileSize(wal) > 0) {
    std::printf("  note: the idle node's -wal holds %llu bytes: cp of index.db alone misses them\n",
                static_cast<unsigned long long>(FileSize(wal)));
  }
  const uint64_t db_bytes = FileSize(db);
  const std::string cp_out = a.dir + "/backup-cp.db";
  const std::string sq_out = a.dir + "/backup-sqlite3.db";
  const double cp_s = TimeWithFsync({"/bin/cp", db, cp_out}, cp_out, error);
  if (cp_s < 0) return false;
  std::printf("  cp index.db + fsync of the copy: %.0f MB in %.2f s\n", MB(static_cast<double>(db_bytes)), cp_s);
  std::fflush(stdout);
  // sqlite3 .backup reads the cp copy, not the live index.db: the node's
  // checkpoint timer resets the WAL every second even when idle, and the
  // backup API of another process then starts over from page 1, so on a
  // 1 GiB database it never ends (seen: 17 minutes, killed).
  const double sq_s =
      TimeWithFsync({"/usr/bin/sqlite3", "-readonly", cp_out, ".backup '" + sq_out + "'"}, sq_out, error);
  const uint64_t sq_bytes = FileSize(sq_out);
  for (const std::string& f : {cp_out, cp_out + "-wal", cp_out + "-shm", sq_out}) std::filesystem::remove(f);
  if (sq_s < 0) return false;
  std::printf("  sqlite3 -readonly COPY \".backup OUT\" + fsync of OUT: %.0f MB in %.2f s\n",
              MB(static_cast<double>(sq_bytes)), sq_s);

  // 4. Writes without and during a backup, on the same node.
  // The window without a backup lasts as long as the idle backup did (at
  // least --seconds), so that both windows see the node's periodic work
  // (checkpoints, seals) alike.
  uint64_t errors = 0;
  const double quiet_s = std::max(a.measure_s, idle_s);
  TimedLoad quiet;
  PhaseResult quiet_r = RunPhase(quiet.Wrap(PutPhase("PUT x" + std::to_string(a.clients) + " no backup",
                                                     node->port(), a.clients, a.warmup_s, quiet_s, a.client,
                                                     a.bodies, "backup-quiet")),
                                 node->pid());
  errors += quiet_r.errors;
  const int64_t quiet_from = quiet.first_ns + static_cast<int64_t>(a.warmup_s * 1e9);
  const Window without = Measure(quiet, "no backup", quiet_from, quiet_from + static_cast<int64_t>(quiet_s * 1e9));

  // The window must outlast a backup slowed down by the load: 2.5 times the
  // idle one, plus a margin. Requests after its end are counted apart.
  const double window_s = std::max(a.measure_s, 2.5 * idle_s + 10);
  TimedLoad busy;
  BackupRun during;
  std::string during_error;
  bool during_ok = false;
  std::thread follower([&] {
    while (!busy.started) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::this_thread::sleep_for(std::chrono::duration<double>(a.warmup_s));
    during_ok = TakeAndFollow(*node, wal, 3600, &during, &during_error);
  });
  PhaseResult busy_r =
      RunPhase(busy.Wrap(PutPhase("PUT x" + std::to_string(a.clients) + " with a backup", node->port(), a.clients,
                                  a.warmup_s, window_s, a.client, a.bodies, "backup-busy")),
               node->pid());
  errors += busy_r.errors;
  follower.join();
  const int64_t busy_end = busy.first_ns + static_cast<int64_t>((a.warmup_s + window_s) * 1e9);
  node->SignalAndWait(SIGTERM, 60000);
  if (!during_ok) {
    *error = during_error;
    return false;
  }
  if (!during.verified) {
    *error = "backup " + during.id + " (under load) failed: " + during.error;
    return false;
  }
  const int64_t post_ns = busy.At(during.posted), done_ns = busy.At(during.done);
  const Window with = Measure(busy, "during the backup", post_ns, std::min(done_ns, busy_end));
  std::vector<Window> by_stage;
  for (size_t i = 0; i < during.stages.size(); ++i) {
    const int64_t from = busy.At(during.stages[i].first_seen);
    const int64_t to = i + 1 < during.stages.size() ? busy.At(during.stages[i + 1].first_seen) : done_ns;
    if (from < busy_end) by_stage.push_back(Measure(busy, "  " + during.stages[i].name, from, std::min(to, busy_end)));
  }
  const Window after = done_ns < busy_end ? Measure(busy, "after it (rest of the window)", done_ns, busy_end) : Window{};

  std::printf("  backup %s of %.0f MB with %d clients writing: verified in %.2f s (%.2fx the idle one); -wal "
              "peaked at %.0f MB (the pinned snapshot holds checkpoints back)\n",
              during.id.c_str(), MB(static_cast<double>(during.bytes_uncompressed)), a.clients, during.wall_s(),
              idle_s > 0 ? during.wall_s() / idle_s : 0, MB(static_cast<double>(during.max_wal_bytes)));
  PrintStages(during);
  PrintWindow(without);
  PrintWindow(with);
  for (const auto& w : by_stage) PrintWindow(w);
  if (after.ops > 0) PrintWindow(after);
  if (done_ns > busy_end) {
    std::printf("  note: the write window ended %.1f s before the backup did; \"during\" covers its first %.0f%%\n",
                static_cast<double>(done_ns - busy_end) / 1e9,
                100.0 * static_cast<double>(busy_end - post_ns) / static_cast<double>(done_ns - post_ns));
  }
  for (const PhaseResult* p : {&quiet_r, &busy_r}) {
    for (const auto& [kind, n] : p->error_kinds) {
      std::printf("  ERROR in %s: %llu x %s\n", p->name.c_str(), static_cast<unsigned long long>(n), kind.c_str());
    }
  }

  // Summary.
  const double backup_bytes = static_cast<double>(idle.bytes_uncompressed);
  const double backup_mb_s = idle_s > 0 ? MB(backup_bytes) / idle_s : 0;
  const double cp_mb_s = cp_s > 0 ? MB(static_cast<double>(db_bytes)) / cp_s : 0;
  const double sq_mb_s = sq_s > 0 ? MB(static_cast<double>(db_bytes)) / sq_s : 0;
  double copy_s = 0;  // the backup API copy alone
  for (size_t i = 0; i < idle.stages.size(); ++i) {
    if (idle.stages[i].name == "copying (backup API)") {
      copy_s = SecondsBetween(idle.stages[i].first_seen,
                              i + 1 < idle.stages.size() ? idle.stages[i + 1].first_seen : idle.done);
    }
  }
  std::printf("\nbackup summary (MB = 10^6 bytes; everything in the page cache, same disk)\n");
  std::printf("  backup of %.0f MB (%llu pages): %.2f s POST to verified = %.0f MB/s; compressed to %.0f MB = %.2fx "
              "(zstd level 3)\n",
              MB(backup_bytes), static_cast<unsigned long long>(idle.page_count), idle_s, backup_mb_s,
              MB(static_cast<double>(idle.bytes_compressed)),
              idle.bytes_compressed > 0 ? backup_bytes / static_cast<double>(idle.bytes_compressed) : 0);
  std::printf("    the backup API copy alone (polled): %.2f s = %.0f MB/s\n", copy_s,
              copy_s > 0 ? MB(backup_bytes) / copy_s : 0);
  std::printf("  cp index.db (node idle) + fsync of %.0f MB: %.2f s = %.0f MB/s; backup / cp = %.2fx the "
              "throughput (%.1fx the time)\n",
              MB(static_cast<double>(db_bytes)), cp_s, cp_mb_s, cp_mb_s > 0 ? backup_mb_s / cp_mb_s : 0,
              cp_s > 0 ? idle_s / cp_s : 0);
  std::printf("  sqlite3 -readonly COPY \".backup OUT\" + fsync (%.0f MB out): %.2f s = %.0f MB/s; backup / sqlite3 "
              ".backup = %.2fx the throughput (%.1fx the time)\n",
              MB(static_cast<double>(sq_bytes)), sq_s, sq_mb_s, sq_mb_s > 0 ? backup_mb_s / sq_mb_s : 0,
              sq_s > 0 ? idle_s / sq_s : 0);
  std::printf("  write p99 during a backup / without, %d clients: %.3f / %.3f ms = %.2fx (p50 %.3f / %.3f ms = "
              "%.2fx; PUT/s %.0f / %.0f)\n",
              a.clients, with.p99, without.p99, without.p99 > 0 ? with.p99 / without.p99 : 0, with.p50, without.p50,
              without.p50 > 0 ? with.p50 / without.p50 : 0, with.seconds > 0 ? with.ops / with.seconds : 0,
              without.seconds > 0 ? without.ops / without.seconds : 0);
  std::printf("  errors: %llu\n", static_cast<unsigned long long>(errors));
  std::fflush(stdout);
  return errors == 0;
}

}  // namespace walship::bench
