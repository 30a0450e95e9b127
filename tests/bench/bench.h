// Shared pieces of the walship benchmark (make bench): the load generator,
// the raw SQLite baseline and small helpers. See docs/BENCHMARKS.md.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace walship::testing {
class NodeProcess;
}  // namespace walship::testing

namespace walship::bench {

// ---- load generator (load.cpp) --------------------------------------------

enum class ClientKind {
  kRaw,      // minimal HTTP/1.1 keep-alive client on a plain socket (default)
  kHttplib,  // httplib::Client with keep-alive and TCP_NODELAY
};

struct Request {
  std::string method;  // "GET" or "PUT"
  std::string path;
  std::string body;    // empty for GET
  std::string content_type;
};

struct PhaseSpec {
  std::string name;
  int port = 0;
  int clients = 1;
  double warmup_s = 1.0;
  double measure_s = 5.0;
  ClientKind client = ClientKind::kRaw;
  // Fills the next request of client `c` (its `seq`-th). Called on the
  // client's own thread.
  std::function<void(int c, uint64_t seq, Request* out)> next;
  // Called after each successful (2xx) request, on the client's thread.
  std::function<void(int c, const Request& req)> on_success;
  // The status a request must answer with (0: any 2xx).
  int expect_status = 0;
};

struct PhaseResult {
  std::string name;
  int clients = 0;
  double seconds = 0;        // the measured window
  uint64_t ops = 0;          // successful requests completed inside the window
  double ops_per_s = 0;
  double p50_ms = 0, p99_ms = 0, max_ms = 0;
  std::vector<uint64_t> latencies_ns;  // of the `ops` requests, sorted (to pool phases)
  uint64_t errors = 0;       // over the whole phase (warm-up included)
  std::map<std::string, uint64_t> error_kinds;     // "HTTP 503", "transport: ..." -> count
  std::map<std::string, std::string> error_samples; // kind -> first response body seen
  double client_cpu_s = 0;   // this process, over the measured window
  double server_cpu_s = 0;   // the node process, over the measured window
};

// Runs `spec.clients` threads, each on its own keep-alive connection, for a
// warm-up then a measured window; bounded in time. `server_pid` (if > 0) is
// sampled for CPU time over the measured window.
PhaseResult RunPhase(const PhaseSpec& spec, pid_t server_pid);

// Latency summary of a set of samples in nanoseconds (sorted in place).
void Summarize(std::vector<uint64_t>& samples_ns, double* p50_ms, double* p99_ms, double* max_ms);

// A phase of durable PUTs of new keys "/v1/archives/<prefix>/t<client>/<seq>",
// each body one of `bodies` (which must outlive the phase); expects 201.
PhaseSpec PutPhase(const std::string& name, int port, int clients, double warmup_s, double measure_s,
                   ClientKind client, const std::vector<std::string>& bodies, const std::string& key_prefix);

// ---- the capture section (capture_bench.cpp) ---------------------------------

struct CaptureBenchArgs {
  std::string walship;  // the node binary
  std::string dir;      // the bench folder (one disk with everything else)
  std::vector<std::string> bodies;
  double warmup_s = 1, measure_s = 5;
  ClientKind client = ClientKind::kRaw;
  int clients = 32;
  int rounds = 6;  // alternating capture-on and capture-off nodes
  std::string extra_toml;  // more [segments] keys for both nodes (--node-toml)
};

// Write p99 with WAL capture on and off (fresh nodes, alternating), capture
// throughput and compression from the capture-on nodes' metrics, and `cp`
// of the same bytes on the same disk. Prints its own table and summary;
// returns false on a setup failure or request errors.
bool RunCaptureBench(const CaptureBenchArgs& args, std::string* error);

// ---- the replication section (replication_bench.cpp) -------------------------

struct ReplicationBenchArgs {
  std::string walship;
  std::string dir;
  std::vector<std::string> bodies;
  double warmup_s = 1, measure_s = 5;
  ClientKind client = ClientKind::kRaw;
  int clients = 32;
};

// Replication lag under the PUT load (default checkpoints and 100 ms ones)
// and PUT/s with a sync standby against an async one. Prints its own table
// and summary; false on a setup failure or request errors.
bool RunReplicationBench(const ReplicationBenchArgs& args, std::string* error);

// ---- the backup section (backup_bench.cpp) -----------------------------------

struct BackupBenchArgs {
  std::string walship;
  std::string dir;
  std::vector<std::string> bodies;  // of the write load
  double warmup_s = 1, measure_s = 5;
  ClientKind client = ClientKind::kRaw;
  int clients = 8;        // writers of the p99 with / without a backup
  int64_t db_mib = 1024;  // the database is filled to this size
};

// Backup throughput of a database filled to `db_mib` MiB against cp and the
// sqlite3 CLI's .backup on the same disk, with its phases; write p50/p99
// during a backup against without. Prints its own lines and summary; false
// on a setup failure, a failed backup or request errors.
bool RunBackupBench(const BackupBenchArgs& args, std::string* error);

// The fill both sections use (backup_bench.cpp): 1 MiB text/plain PUTs (half
// English-like prose, half random ASCII punctuation) from 4 clients until
// `reached` says so (polled every 100 ms).
struct FillResult {
  uint64_t puts = 0, body_bytes = 0;
  double seconds = 0;
};
// Keys are PREFIX/tNN/NNNNNN; another prefix writes new keys.
bool FillNode(const testing::NodeProcess& node, const std::string& prefix, const std::function<bool()>& reached,
              FillResult* out, std::string* error);

// ---- the restore section (restore_bench.cpp) ---------------------------------

struct RestoreBenchArgs {
  std::string walship;
  std::string dir;
  int64_t backup_mib = 1024;   // the database is filled to this size, then backed up
  int64_t segment_mib = 200;   // then this many MiB of segments are written after the backup
};

// `walship restore` of that backup plus those segments, against `cp` of the
// same bytes on the same disk. Prints its own lines; false on a setup failure.
bool RunRestoreBench(const RestoreBenchArgs& args, std::string* error);

// ---- raw SQLite baseline (sqlite_baseline.cpp) ------------------------------

// A new database `path` in WAL mode with synchronous=FULL, one table with a
// key and a ~1 KiB text column, SQLite's default automatic checkpoints; one
// thread inserting for a warm-up and a measured window (ops counts rows).
// rows_per_txn == 1: one INSERT per transaction (autocommit), the physical
// baseline; more: that many INSERTs per BEGIN/COMMIT, as context.
PhaseResult RunSqliteBaseline(const std::string& path, const std::vector<std::string>& texts, double warmup_s,
                              double measure_s, int rows_per_txn, std::string* error);

// ---- helpers (bench_util.cpp) -----------------------------------------------

// `count` distinct pieces of English-like prose (sentences, punctuation,
// paragraphs) of about `bytes` bytes each, deterministic.
std::vector<std::string> MakeTexts(int count, size_t bytes, uint64_t seed);

// CPU time (user + system) in seconds of a process (0 if unreadable) and of
// this process.
double ProcessCpuSeconds(pid_t pid);
double SelfCpuSeconds();

// Sum of every sample of each metric family named in `names` (labels
// ignored) from the node's /metrics. Missing names are 0.
std::map<std::string, double> ScrapeMetrics(int port, const std::vector<std::string>& names, std::string* error);

// Latency of `samples` x (4 KiB pwrite + fdatasync) on a file in `dir`:
// what one durable commit costs on this disk at least. Fills p50/p99 in ms.
bool ProbeFdatasync(const std::string& dir, int samples, double* p50_ms, double* p99_ms, std::string* error);

// Runs wrk (if installed) and returns its Requests/sec, or -1.
double RunWrk(const std::string& url, int connections, int threads, double seconds, std::string* output);

}  // namespace walship::bench
