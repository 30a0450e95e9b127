// The node's configuration: one TOML file, flags override it, every setting
// has a default. ops/walship.example.toml documents every key.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/log.h"
#include "base/status.h"

namespace walship {

struct ListenAddress {
  std::string host = "127.0.0.1";
  int port = 7070;  // 0 picks a free port
};

struct Config {
  // [server]
  ListenAddress listen;
  int64_t http_threads = 64;            // connection threads; each keep-alive client holds one
  int64_t keep_alive_max_requests = 100000;
  int64_t keep_alive_timeout_s = 2;  // also bounds how long a drain waits for idle connections
  int64_t read_timeout_ms = 5000;
  int64_t write_timeout_ms = 5000;
  int64_t drain_timeout_ms = 10000;     // graceful shutdown: wait this long for in-flight work
  int64_t body_timeout_ms = 60000;      // a request body must arrive whole within this

  // [storage]
  std::string data_dir = "data";
  int64_t read_connections = 4;
  int64_t busy_timeout_ms = 5000;

  // [commit]
  int64_t max_group_requests = 1024;    // requests folded into one transaction at most

  // [checkpoint]
  int64_t checkpoint_interval_ms = 1000;
  int64_t checkpoint_wal_bytes = 64ll << 20;

  // [segments]
  std::string segments_dir;          // empty: DATA/segments
  int64_t segments_zstd_level = 1;  // see ops/walship.example.toml: write p99 over ratio
  // How often the writer hands new frames to the sealer between checkpoints:
  // shorter pauses of the writer, but more (smaller) segments. 0: only at
  // checkpoints (one segment per checkpoint, one longer pause).
  int64_t segments_collect_interval_ms = 100;
  // ... and whenever the commits not yet handed over hold this many bytes
  // of WAL frames, so a segment cut between checkpoints stays below a
  // standby's replication.max_segment_bytes (docs/REPLICATION.md: which
  // segments can still be larger).
  int64_t segments_collect_max_wal_bytes = 16ll << 20;
  // Off only to measure what capture costs (make bench): with it off,
  // nothing SQLite checkpoints away is kept anywhere.
  bool segments_capture = true;
  // After each verified backup, remove the segments (and base snapshots) no
  // kept backup and no standby needs (replication/segment_retention.h).
  bool segments_retention = true;

  // [replication]
  std::string role = "primary";        // "primary" or "standby"
  std::string standby_url;             // primary: push segments here ("" = no standby)
  std::string primary_url;             // standby: where writes go (named in not_primary answers)
  std::string replication_mode = "async";     // "sync": a write is answered once the standby stored it
  int64_t replication_sync_timeout_ms = 5000;  // sync: how long a write waits for the standby
  int64_t replication_retry_initial_ms = 100;   // first wait after a failed push
  int64_t replication_retry_max_ms = 5000;      // the backoff doubles up to this
  int64_t replication_push_timeout_ms = 30000;  // one push, connect to answer
  int64_t replication_min_position_wait_ms = 2000;  // a read's min_position waits this long at most
  int64_t replication_max_segment_bytes = 256ll << 20;  // a pushed segment, at most
  // A pushed base snapshot, at most: streamed to disk, never held in memory.
  int64_t replication_max_base_bytes = 64ll << 30;
  // A standby starting over gets a snapshot rather than a replay of more than
  // this many bytes of segments; -1: always replay.
  int64_t replication_snapshot_after_bytes = 64ll << 20;

  bool standby() const { return role == "standby"; }
  bool sync_replication() const { return replication_mode == "sync"; }

  // [backup]
  std::string backup_dir;                      // empty: DATA/backups
  std::string backup_schedule = "0 3 * * *";   // 5-field cron; "": only when asked
  std::string backup_time_zone = "UTC";        // the schedule's and retention's calendar
  int64_t backup_zstd_level = 3;
  int64_t backup_pages_per_step = 1024;        // backup API pages per step (progress granularity)
  int64_t backup_keep_last = 7;
  int64_t backup_keep_daily_days = 7;
  int64_t backup_keep_weekly_weeks = 4;

  // [check] the node's own corruption checks (node/scrub_scheduler.h); 0: off
  int64_t check_quick_check_interval_s = 3600;  // PRAGMA quick_check, on a read-only connection
  int64_t check_scrub_interval_s = 3600;        // from the end of one scrub pass to the next
  int64_t check_scrub_pages_per_second = 2000;  // the scrub's read rate

  // [limits]
  int64_t max_key_bytes = 1024;
  int64_t max_body_bytes = 16ll << 20;
  int64_t max_metadata_bytes = 64ll << 10;
  int64_t max_batch_ops = 1000;
  int64_t max_inflight_body_bytes = 256ll << 20;  // all request bodies being held at once
  int64_t default_list_limit = 100;
  int64_t max_list_limit = 1000;
  int64_t default_search_limit = 20;
  int64_t max_search_limit = 100;

  // [log]
  std::string log_level = "info";
  LogFormat log_format = LogFormat::kText;
  bool access_log = true;

  std::string DatabasePath() const { return data_dir + "/index.db"; }
  std::string SegmentsPath() const { return segments_dir.empty() ? data_dir + "/segments" : segments_dir; }
  std::string BackupsPath() const { return backup_dir.empty() ? data_dir + "/backups" : backup_dir; }
};

// Flags given on the command line; unset ones leave the file's value.
struct ConfigOverrides {
  std::optional<std::string> listen;
  std::optional<std::string> data_dir;
  std::optional<std::string> log_level;
  std::optional<std::string> log_format;
  std::optional<std::string> role;
  std::optional<std::string> standby_url;
  std::optional<std::string> primary_url;
  std::optional<std::string> replication_mode;
};

// "http://HOST:PORT" with nothing after the port (a trailing "/" is
// dropped); anything else is an error naming the problem.
Result<std::string> NormalizePeerUrl(const std::string& text);

Result<ListenAddress> ParseListenAddress(const std::string& text);

// Parses TOML text. `origin` names the source in errors ("config walship.toml").
// Unknown keys, wrong types and values out of range are errors naming the key.
Result<Config> ParseConfig(const std::string& toml_text, const std::string& origin);

// Reads `path` (none: defaults), then applies the overrides, then validates.
Result<Config> LoadConfig(const std::optional<std::string>& path, const ConfigOverrides& flags);

}  // namespace walship
