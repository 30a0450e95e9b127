// Crash: kill -9 the real binary again and again while 8 clients write.
//
// Each round starts the node on the same data folder, lets 8 writer threads
// create unique keys (single PUTs with If-None-Match: *, and some 5-key
// batches) for a random 100-700 ms, then SIGKILLs the node with writes in
// flight. A write counts as acknowledged only if its 200/201 arrived; one cut
// off by the kill has an unknown outcome (either is fine, but a batch is all
// or nothing), and one refused with another status must not be there.
//
// After each kill, with the node dead, the database is opened read-only
// (SQLite recovers the WAL into the -shm, never checkpoints or deletes it):
// PRAGMA integrity_check must say ok, every acknowledged key of every round
// so far must be there with its version and sha256, the content of this
// round's keys must be what was sent, no key may appear that was never sent,
// and the stored txid must cover every acknowledged position. After the
// restart the node must serve the same: /v1/status reports that txid, every
// key of the last round and a sample of older ones read back right over HTTP,
// and the listing of all keys equals what is on disk.
//
// CrashTest runs 24 rounds (about 20-30 s); CrashSoak runs 200. The rounds
// cycle through checkpoint and group settings so that kills also land during
// checkpoints and between small groups. The seed is printed;
// WALSHIP_TEST_SEED=<n> replays the choices (not the thread interleaving),
// WALSHIP_CRASH_ROUNDS=<n> changes the number of rounds and
// WALSHIP_TEST_LOG_DIR=<dir> keeps a copy of the node's log.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "base/sha256.h"
#include "replication/db_checksum.h"
#include "replication/segment_replay.h"
#include "tests/support/failure_log.h"
#include "tests/support/node_process.h"
#include "tests/support/run_helpers.h"
#include "tests/support/sqlite_check.h"
#include "tests/support/temp_dir.h"

namespace walship::testing {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr int kWriters = 8;
constexpr int kBatchSize = 5;
constexpr size_t kMaxReportedFailures = 40;

using Failures = FailureLog;

// The content of a key is a function of the key, so any copy of it found
// anywhere can be checked. Mostly small, some a few pages, a few large
// enough for long overflow chains (many WAL frames per transaction).
std::string ContentFor(const std::string& key) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (unsigned char c : key) h = (h ^ c) * 1099511628211ull;
  std::mt19937_64 g(h);
  size_t size;
  const uint64_t r = g() % 1000;
  if (r < 900)
    size = 100 + g() % 1900;
  else if (r < 990)
    size = 2000 + g() % 8000;
  else
    size = (32u << 10) + g() % (96u << 10);
  static const char* const kWords[] = {"archive", "memory", "bridge",  "wal",   "frame",  "commit",
                                       "kill",    "crash",  "recover", "größe", "日本語", "segment"};
  std::string s = "content of " + key;
  while (s.size() < size) {
    s += ' ';
    s += kWords[g() % (sizeof kWords / sizeof kWords[0])];
  }
  return s;
}

enum class Outcome { kAcked, kUnknown, kRefused };

// One request a writer sent: a single PUT or a batch of kBatchSize puts.
struct Attempt {
  std::vector<std::string> keys;
  bool batch = false;
  Outcome outcome = Outcome::kUnknown;
  int64_t txid = 0;  // when acknowledged
};

struct KeyInfo {
  int round = 0;
  Outcome outcome = Outcome::kUnknown;
  int64_t batch = -1;  // index into batches, or -1
  std::string sha256;
};

struct Row {
  int64_t version = 0;
  std::string sha256;
};

// What the stopped node's database holds.
struct DiskState {
  std::string integrity;
  int64_t txid = -1;
  std::map<std::string, Row> rows;  // every archive
  std::string error;
};

DiskState ReadDisk(const std::string& db_path, const std::string& content_prefix,
                   const std::function<void(const std::string&, const std::string&)>& on_content) {
  DiskState d;
  sqlite3* db = nullptr;
  if (int rc = sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr); rc != SQLITE_OK) {
    d.error = "open " + db_path + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close_v2(db);
    return d;
  }
  sqlite3_busy_timeout(db, 5000);
  auto query = [&](const char* sql, const std::function<void(sqlite3_stmt*)>& row) -> bool {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) != SQLITE_OK) {
      d.error += std::string("prepare ") + sql + ": " + sqlite3_errmsg(db) + "\n";
      return false;
    }
    if (std::string(sql).find("?1") != std::string::npos) {
      sqlite3_bind_text(st, 1, content_prefix.c_str(), -1, SQLITE_TRANSIENT);
      std::string upper = content_prefix;
      upper.back() = static_cast<char>(upper.back() + 1);
      sqlite3_bind_text(st, 2, upper.c_str(), -1, SQLITE_TRANSIENT);
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) row(st);
    if (rc != SQLITE_DONE) d.error += std::string("step ") + sql + ": " + sqlite3_errmsg(db) + "\n";
    sqlite3_finalize(st);
    return rc == SQLITE_DONE;
  };
  auto text = [](sqlite3_stmt* st, int i) {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st, i));
    return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(st, i))) : std::string();
  };
  query("PRAGMA integrity_check", [&](sqlite3_stmt* st) {
    if (!d.integrity.empty()) d.integrity += "\n";
    d.integrity += text(st, 0);
  });
  query("SELECT txid FROM position WHERE id = 1", [&](sqlite3_stmt* st) { d.txid = sqlite3_column_int64(st, 0); });
  query("SELECT key, version, sha256 FROM archives", [&](sqlite3_stmt* st) {
    d.rows[text(st, 0)] = Row{sqlite3_column_int64(st, 1), text(st, 2)};
  });
  if (!content_prefix.empty()) {
    query("SELECT key, content FROM archives WHERE key >= ?1 AND key < ?2",
          [&](sqlite3_stmt* st) { on_content(text(st, 0), text(st, 1)); });
  }
  sqlite3_close_v2(db);
  return d;
}

std::string RoundPrefix(int round) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "r%04d/", round);
  return buf;
}

// The node's settings cycle by round: defaults; frequent timer checkpoints;
// checkpoints by WAL size; tiny groups with frequent checkpoints.
std::string ConfigFor(int round) {
  switch (round % 4) {
    case 1: return "[checkpoint]\ninterval_ms = 20\n";
    case 2: return "[checkpoint]\nwal_bytes = 262144\n";
    case 3: return "[commit]\nmax_group_requests = 3\n[checkpoint]\ninterval_ms = 50\n";
    default: return "";
  }
}

// One writer thread of one round: unique keys until the node dies.
void WriteUntilKilled(const NodeProcess& node, int round, int writer, uint32_t seed, const std::atomic<bool>& killing,
                      const std::atomic<bool>& stop, std::vector<Attempt>* out, Failures* failures) {
  auto client = node.Client();
  client->set_read_timeout(10, 0);
  client->set_connection_timeout(2, 0);
  std::mt19937 rng(seed);
  char wbuf[16];
  std::snprintf(wbuf, sizeof wbuf, "w%d/", writer);
  const std::string prefix = RoundPrefix(round) + wbuf;
  for (int seq = 0; seq < 1000000 && !stop.load(); ++seq) {
    char sbuf[16];
    std::snprintf(sbuf, sizeof sbuf, "%06d", seq);
    Attempt a;
    a.batch = rng() % 100 < 15;
    json ops = json::array();
    if (a.batch) {
      for (int k = 0; k < kBatchSize; ++k) {
        std::string key = prefix + "b" + sbuf + "-" + std::to_string(k);
        ops.push_back({{"op", "put"}, {"key", key}, {"content", ContentFor(key)}, {"if_none_match", "*"}});
        a.keys.push_back(std::move(key));
      }
    } else {
      a.keys.push_back(prefix + sbuf);
    }
    auto r = a.batch ? client->Post("/v1/batch", json{{"ops", ops}}.dump(), "application/json")
                     : client->Put("/v1/archives/" + a.keys[0], {{"If-None-Match", "*"}},
                                   json{{"content", ContentFor(a.keys[0])}}.dump(), "application/json");
    const std::string what = "round " + std::to_string(round) + " " + (a.batch ? "batch " : "put ") + a.keys[0];
    if (!r) {
      a.outcome = Outcome::kUnknown;
      out->push_back(std::move(a));
      if (killing.load()) return;  // the node is gone: this round is over
      failures->Add(what + ": transport error before the kill: " + httplib::to_string(r.error()));
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    const int want = a.batch ? 200 : 201;
    if (r->status != want) {
      a.outcome = Outcome::kRefused;
      out->push_back(std::move(a));
      failures->Add(what + ": want " + std::to_string(want) + ", got " + std::to_string(r->status) + " " +
                    Truncated(r->body));
      continue;
    }
    a.outcome = Outcome::kAcked;
    json j = ParseBody(r->body);
    auto txid = ParsePosition(j.value("position", json()));
    if (!txid) failures->Add(what + ": bad position in " + Truncated(r->body));
    a.txid = txid.value_or(0);
    // The answer describes what was stored.
    std::vector<json> items;
    if (a.batch && j["results"].is_array()) items.assign(j["results"].begin(), j["results"].end());
    if (!a.batch) items.push_back(j);
    if (items.size() != a.keys.size()) {
      failures->Add(what + ": want " + std::to_string(a.keys.size()) + " results, got " + Truncated(r->body));
    }
    for (size_t k = 0; k < std::min(items.size(), a.keys.size()); ++k) {
      if (!items[k].is_object() || items[k].value("key", "") != a.keys[k] || items[k].value("version", 0) != 1 ||
          items[k].value("sha256", "") != Sha256Hex(ContentFor(a.keys[k]))) {
        failures->Add(what + ": answer for " + a.keys[k] + " is " + Truncated(items[k].dump()));
      }
    }
    out->push_back(std::move(a));
  }
}

struct CrashParams {
  int rounds;
  int full_listing_every;  // rounds between full HTTP listings
  int fts_check_every;     // rounds between FTS5 integrity checks (on a copy)
  int sample_older;        // older acknowledged keys read back over HTTP per restart
  std::chrono::seconds budget;
};

class CrashRun {
 public:
  CrashRun(CrashParams params, uint32_t seed) : p_(params), seed_(seed), rng_(seed), dir_("walship-crash") {
    data_dir_ = dir_.Sub("data");
    db_path_ = data_dir_ + "/index.db";
  }

  ~CrashRun() { KeepLog(data_dir_ + ".log", "crash-" + std::to_string(seed_) + ".log"); }

  void Run() {
    const auto start = Clock::now();
    const auto deadline = start + p_.budget;
    for (int round = 0; round < p_.rounds; ++round) {
      ASSERT_LT(Clock::now(), deadline) << "over the time budget after " << round << " rounds";
      auto node = StartNode(round);
      ASSERT_NE(node, nullptr);
      if (round > 0) VerifyServed(*node, round - 1, round % p_.full_listing_every == 0);
      ASSERT_EQ(failures_.count(), 0) << "after restart " << round << ":\n"
                                      << failures_.Report() << LogTail(node->log_path());

      const int64_t acked_before = acked_keys_;
      const int delay_ms = 100 + static_cast<int>(rng_() % 601);
      std::atomic<bool> killing{false};
      std::atomic<bool> stop{false};
      std::vector<std::vector<Attempt>> attempts(kWriters);
      std::vector<std::thread> threads;
      for (int w = 0; w < kWriters; ++w) {
        threads.emplace_back(WriteUntilKilled, std::cref(*node), round, w,
                             seed_ + static_cast<uint32_t>(round * kWriters + w), std::cref(killing), std::cref(stop),
                             &attempts[static_cast<size_t>(w)], &failures_);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
      killing = true;
      const bool was_running = node->Running();
      node->Kill9();
      stop = true;
      for (auto& t : threads) t.join();
      EXPECT_TRUE(was_running) << "the node had died by itself before the kill in round " << round << "\n"
                               << LogTail(node->log_path());
      const int64_t unknown_before = unknown_keys_;
      Merge(round, attempts);
      per_round_acked_.push_back(acked_keys_ - acked_before);
      std::printf(
          "[ crash ] round %3d (%s): killed after %3d ms, %4lld keys acknowledged, %3lld unknown, "
          "max acknowledged txid %lld\n",
          round, ConfigName(round), delay_ms, static_cast<long long>(acked_keys_ - acked_before),
          static_cast<long long>(unknown_keys_ - unknown_before), static_cast<long long>(max_acked_txid_));
      CheckDisk(round, /*fts=*/(round + 1) % p_.fts_check_every == 0);
      ASSERT_EQ(failures_.count(), 0) << "after kill " << round << ":\n"
                                      << failures_.Report() << LogTail(node->log_path());
    }

    // A last start: everything is served, then a clean stop and a last check.
    auto node = StartNode(p_.rounds);
    ASSERT_NE(node, nullptr);
    VerifyServed(*node, p_.rounds - 1, /*full_listing=*/true);
    EXPECT_EQ(node->SignalAndWait(SIGTERM), 0) << LogTail(node->log_path());
    CheckDisk(p_.rounds - 1, /*fts=*/true);
    EXPECT_EQ(failures_.count(), 0) << failures_.Report() << LogTail(node->log_path());
    CheckSegmentStore(node->ReadLog());

    const double secs = std::chrono::duration<double>(Clock::now() - start).count();
    std::vector<int64_t> sorted = per_round_acked_;
    std::sort(sorted.begin(), sorted.end());
    std::printf(
        "[ crash ] %d kills in %.1f s: %lld keys acknowledged in all (per round min %lld, median %lld, "
        "max %lld), %lld with an unknown outcome (%lld of them found on disk), final txid %lld\n",
        p_.rounds, secs, static_cast<long long>(acked_keys_), static_cast<long long>(sorted.front()),
        static_cast<long long>(sorted[sorted.size() / 2]), static_cast<long long>(sorted.back()),
        static_cast<long long>(unknown_keys_), static_cast<long long>(unknown_found_),
        static_cast<long long>(last_disk_txid_));
  }

 private:
  static const char* ConfigName(int round) {
    switch (round % 4) {
      case 1: return "checkpoint every 20 ms   ";
      case 2: return "checkpoint at 256 KiB WAL";
      case 3: return "groups of 3, ckpt 50 ms  ";
      default: return "defaults                 ";
    }
  }

  std::unique_ptr<NodeProcess> StartNode(int round) {
    std::string error;
    auto node = NodeProcess::Start({.data_dir = data_dir_, .config_toml = ConfigFor(round)}, &error);
    EXPECT_NE(node, nullptr) << "start " << round << " failed: " << error << "\n" << LogTail(data_dir_ + ".log");
    return node;
  }

  void Merge(int round, const std::vector<std::vector<Attempt>>& attempts) {
    for (const auto& list : attempts) {
      for (const Attempt& a : list) {
        int64_t batch = -1;
        if (a.batch) {
          batch = static_cast<int64_t>(batches_.size());
          batches_.push_back({a.keys, a.outcome});
        }
        for (const auto& key : a.keys) {
          keys_[key] = KeyInfo{round, a.outcome, batch, Sha256Hex(ContentFor(key))};
          if (a.outcome == Outcome::kAcked) {
            ++acked_keys_;
            acked_list_.push_back(key);
          } else if (a.outcome == Outcome::kUnknown) {
            ++unknown_keys_;
          }
        }
        if (a.outcome == Outcome::kAcked) max_acked_txid_ = std::max(max_acked_txid_, a.txid);
      }
    }
  }

  // With the node dead (or stopped): the files themselves.
  void CheckDisk(int round, bool fts) {
    int64_t content_checked = 0;
    DiskState d = ReadDisk(db_path_, RoundPrefix(round), [&](const std::string& key, const std::string& content) {
      ++content_checked;
      if (content != ContentFor(key)) failures_.Add("disk: content of " + key + " differs from what was sent");
    });
    if (!d.error.empty()) failures_.Add("disk, round " + std::to_string(round) + ": " + d.error);
    if (d.integrity != "ok")
      failures_.Add("disk, round " + std::to_string(round) + ": integrity_check: " + d.integrity);
    if (d.txid < max_acked_txid_) {
      failures_.Add("disk, round " + std::to_string(round) + ": stored txid " + std::to_string(d.txid) +
                    " is below the highest acknowledged txid " + std::to_string(max_acked_txid_));
    }
    if (d.txid < last_disk_txid_) {
      failures_.Add("disk, round " + std::to_string(round) + ": stored txid went back from " +
                    std::to_string(last_disk_txid_) + " to " + std::to_string(d.txid));
    }
    last_disk_txid_ = d.txid;
    unknown_found_ = 0;
    for (const auto& [key, info] : keys_) {
      auto it = d.rows.find(key);
      const bool present = it != d.rows.end();
      if (info.outcome == Outcome::kAcked && !present) {
        failures_.Add("disk: acknowledged key " + key + " (round " + std::to_string(info.round) + ") is missing");
      } else if (info.outcome == Outcome::kRefused && present) {
        failures_.Add("disk: refused key " + key + " is present");
      }
      if (present && (it->second.version != 1 || it->second.sha256 != info.sha256)) {
        failures_.Add("disk: " + key + " has version " + std::to_string(it->second.version) + " sha256 " +
                      it->second.sha256 + ", want version 1 sha256 " + info.sha256);
      }
      if (present && info.outcome == Outcome::kUnknown) ++unknown_found_;
    }
    for (const auto& [key, row] : d.rows) {
      if (!keys_.count(key)) failures_.Add("disk: key " + key + " was never sent");
    }
    for (const auto& b : batches_) {
      size_t present = 0;
      for (const auto& key : b.keys) present += d.rows.count(key);
      if (present != 0 && present != b.keys.size()) {
        failures_.Add("disk: batch " + b.keys.front() + " is partly there (" + std::to_string(present) + " of " +
                      std::to_string(b.keys.size()) + " keys)");
      }
    }
    int64_t want_content = 0;
    for (const auto& [key, row] : d.rows) want_content += key.rfind(RoundPrefix(round), 0) == 0;
    if (content_checked != want_content) {
      failures_.Add("disk: read the content of " + std::to_string(content_checked) + " keys of round " +
                    std::to_string(round) + ", want " + std::to_string(want_content));
    }
    if (fts) {
      std::string f = FtsIntegrityCheckOnCopy(db_path_, dir_.Sub("fts-check"));
      if (f != "ok") failures_.Add("disk, round " + std::to_string(round) + ": " + f);
    }
    disk_ = std::move(d);
  }

  // Checks one GET against what is on disk (disk_, read while the node was
  // down): present keys with their content and version 1, others 404.
  void CheckGet(httplib::Client& c, const std::string& key) {
    auto r = c.Get("/v1/archives/" + key);
    if (!r) return failures_.Add("get " + key + " after restart: transport error " + httplib::to_string(r.error()));
    const bool on_disk = disk_.rows.count(key) > 0;
    if (!on_disk) {
      if (r->status != 404) failures_.Add("get " + key + ": not on disk, but got " + std::to_string(r->status));
      return;
    }
    if (r->status != 200) {
      return failures_.Add("get " + key + ": want 200, got " + std::to_string(r->status) + " " + Truncated(r->body));
    }
    json j = ParseBody(r->body);
    if (j.value("content", "") != ContentFor(key) || j.value("version", 0) != 1) {
      failures_.Add("get " + key + ": content or version differ: " + Truncated(r->body, 150));
    }
  }

  // With the node restarted: it serves what the files hold.
  void VerifyServed(const NodeProcess& node, int last_round, bool full_listing) {
    auto c = node.Client();
    c->set_read_timeout(10, 0);
    {
      auto r = c->Get("/v1/status");
      if (!r || r->status != 200) return failures_.Add("status after restart failed");
      json j = ParseBody(r->body);
      const int64_t txid = j.value("txid", int64_t{-1});
      if (txid < max_acked_txid_) {
        failures_.Add("status after restart: txid " + std::to_string(txid) + " is below the highest acknowledged " +
                      std::to_string(max_acked_txid_));
      }
      if (txid != disk_.txid) {
        failures_.Add("status after restart: txid " + std::to_string(txid) + ", the files hold " +
                      std::to_string(disk_.txid));
      }
      if (j.value("ready", false) != true) failures_.Add("status after restart: not ready: " + r->body);
    }
    // Every key sent in the last round, on 4 connections.
    std::vector<std::string> recent;
    for (auto it = keys_.lower_bound(RoundPrefix(last_round)); it != keys_.end(); ++it) recent.push_back(it->first);
    // A sample of older acknowledged keys.
    for (int i = 0; i < p_.sample_older && !acked_list_.empty(); ++i) {
      recent.push_back(acked_list_[rng_() % acked_list_.size()]);
    }
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        auto tc = node.Client();
        tc->set_read_timeout(10, 0);
        for (size_t k = static_cast<size_t>(t); k < recent.size(); k += 4) CheckGet(*tc, recent[k]);
      });
    }
    for (auto& t : threads) t.join();

    if (!full_listing) return;
    // The listing of every key equals the files (keys, versions, sha256).
    auto expected = disk_.rows.begin();
    std::string cursor;
    int64_t listed = 0;
    for (int page = 0; page < 100000; ++page) {
      httplib::Params params{{"prefix", "r"}, {"limit", "1000"}};
      if (!cursor.empty()) params.emplace("cursor", cursor);
      auto r = c->Get("/v1/archives", params, httplib::Headers{});
      if (!r || r->status != 200) return failures_.Add("listing after restart failed");
      json j = ParseBody(r->body);
      for (const auto& item : j["items"]) {
        ++listed;
        const std::string key = item.value("key", "");
        if (expected == disk_.rows.end() || expected->first != key) {
          return failures_.Add("listing after restart: got " + key + ", the files hold " +
                               (expected == disk_.rows.end() ? std::string("no more keys") : expected->first));
        }
        if (item.value("version", 0) != expected->second.version ||
            item.value("sha256", "") != expected->second.sha256) {
          failures_.Add("listing after restart: " + key + " differs from the files");
        }
        ++expected;
      }
      if (j["next_cursor"].is_null()) break;
      cursor = j["next_cursor"].get<std::string>();
    }
    if (expected != disk_.rows.end()) {
      failures_.Add("listing after restart: " + std::to_string(listed) + " keys, the files hold " +
                    std::to_string(disk_.rows.size()));
    }
  }

  // Every kill landed somewhere in capture, seal or checkpoint: the chain
  // must still run unbroken from the empty file to the last txid, and
  // replaying it must give the database file, byte for byte.
  void CheckSegmentStore(const std::string& log) {
    EXPECT_EQ(log.find("starting a new base"), std::string::npos) << "a kill broke the segment chain";
    auto store = SegmentStore::Open(data_dir_ + "/segments");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    const std::string replayed = dir_.Sub("replayed.db");
    auto summary = ReplaySegments(**store, replayed);
    ASSERT_TRUE(summary.ok()) << summary.status().ToString();
    EXPECT_FALSE(summary->from_base);
    EXPECT_EQ(summary->first_sequence, 1u);
    EXPECT_EQ(summary->last_txid, last_disk_txid_);
    auto primary = DbChecksum::ComputeFromFile(db_path_, 4096);
    ASSERT_TRUE(primary.ok()) << primary.status().ToString();
    EXPECT_EQ(DbChecksumHex(summary->db_checksum), DbChecksumHex(primary->Value()));
    EXPECT_TRUE(Slurp(replayed) == Slurp(db_path_)) << "the replayed database differs from the node's";
    std::printf("[ crash ] segment store: %llu segments replayed from the empty file to txid %lld, checksum %s\n",
                static_cast<unsigned long long>(summary->segments), static_cast<long long>(summary->last_txid),
                DbChecksumHex(summary->db_checksum).c_str());
  }

  struct Batch {
    std::vector<std::string> keys;
    Outcome outcome;
  };

  const CrashParams p_;
  const uint32_t seed_;
  std::mt19937 rng_;
  TempDir dir_;
  std::string data_dir_;
  std::string db_path_;
  Failures failures_{kMaxReportedFailures};
  std::map<std::string, KeyInfo> keys_;  // every key ever sent
  std::vector<Batch> batches_;
  std::vector<std::string> acked_list_;
  std::vector<int64_t> per_round_acked_;
  int64_t acked_keys_ = 0;
  int64_t unknown_keys_ = 0;
  int64_t unknown_found_ = 0;
  int64_t max_acked_txid_ = 0;
  int64_t last_disk_txid_ = 0;
  DiskState disk_;
};

void RunCrash(CrashParams params) {
  // WALSHIP_CRASH_ROUNDS=<n> overrides the number of rounds (at least 20).
  if (const char* r = std::getenv("WALSHIP_CRASH_ROUNDS"); r != nullptr && *r != '\0') {
    params.rounds = std::max(20, std::atoi(r));
  }
  const uint32_t seed = TestSeed();
  std::printf("[ crash ] seed %u (replay with WALSHIP_TEST_SEED=%u), %d rounds, %d writers\n", seed, seed,
              params.rounds, kWriters);
  ::testing::Test::RecordProperty("seed", std::to_string(seed));
  CrashRun run(params, seed);
  run.Run();
}

TEST(CrashTest, KillNineUnderWriteLoadLosesNoAcknowledgedWrite) {
  RunCrash({.rounds = 24,
            .full_listing_every = 1,
            .fts_check_every = 6,
            .sample_older = 200,
            .budget = std::chrono::seconds(150)});
}

TEST(CrashSoak, TwoHundredKillsUnderWriteLoadLoseNoAcknowledgedWrite) {
  RunCrash({.rounds = 200,
            .full_listing_every = 10,
            .fts_check_every = 25,
            .sample_older = 300,
            .budget = std::chrono::seconds(1800)});
}

}  // namespace
}  // namespace walship::testing
