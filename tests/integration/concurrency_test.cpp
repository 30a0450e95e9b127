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
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/sha256.h"
#include "tests/support/node_process.h"
#include "tests/support/temp_dir.h"

namespace walship::testing {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr int kClients = 32;
constexpr int kSharedKeys = 8;
constexpr int kMaxIfMatchAttempts = 200;  // per shared update; 412s are retried
constexpr size_t kMaxReportedFailures = 40;

// Checkpoints much more often than the default (1 s), so that they keep
// running between the groups while 32 clients read and write.
constexpr const char* kConfig = R"toml(
[checkpoint]
interval_ms = 100
)toml";

uint32_t TestSeed() {
  if (const char* s = std::getenv("WALSHIP_TEST_SEED"); s != nullptr && *s != '\0') {
    return static_cast<uint32_t>(std::strtoul(s, nullptr, 10));
  }
  return std::random_device{}();
}

// WALSHIP_TEST_LOG_DIR=<dir> keeps a copy of the node's log there (for a
// failed run: the temporary folder, log included, is removed at the end).
void KeepLog(const std::string& log_path, const std::string& name) {
  const char* dir = std::getenv("WALSHIP_TEST_LOG_DIR");
  if (dir == nullptr || *dir == '\0') return;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  const std::string to = std::string(dir) + "/" + name;
  std::filesystem::copy_file(log_path, to, std::filesystem::copy_options::overwrite_existing, ec);
  std::printf("node log kept in %s%s\n", to.c_str(), ec ? (" (copy failed: " + ec.message() + ")").c_str() : "");
}

std::string Truncated(const std::string& s, size_t n = 300) {
  return s.size() <= n ? s : s.substr(0, n) + "...(" + std::to_string(s.size()) + " bytes)";
}

// The node's last log lines, without the access log (one line per request).
std::string LogTail(const NodeProcess* node, size_t lines = 30) {
  if (node == nullptr) return {};
  std::istringstream in(node->ReadLog());
  std::vector<std::string> kept;
  for (std::string line; std::getline(in, line);) {
    if (line.find(" request id=") == std::string::npos && line.find("\"msg\":\"request\"") == std::string::npos) {
      kept.push_back(line);
    }
  }
  std::string out;
  for (size_t i = kept.size() > lines ? kept.size() - lines : 0; i < kept.size(); ++i) out += kept[i] + "\n";
  return out;
}

// "timeline/txid" -> txid (nullopt if malformed or the timeline is not 1).
std::optional<int64_t> ParsePosition(const json& j) {
  if (!j.is_string()) return std::nullopt;
  const std::string p = j.get<std::string>();
  const size_t slash = p.find('/');
  if (slash == std::string::npos || p.substr(0, slash) != "1") return std::nullopt;
  try {
    size_t used = 0;
    int64_t txid = std::stoll(p.substr(slash + 1), &used);
    if (used != p.size() - slash - 1) return std::nullopt;
    return txid;
  } catch (...) {
    return std::nullopt;
  }
}

// A JSON object, or an empty object if the body is not one (checks then fail
// on the missing fields instead of throwing).
json ParseBody(const std::string& body) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  return j.is_object() ? j : json::object();
}

// Runs PRAGMA integrity_check on a read-only connection: it neither
// checkpoints nor deletes the WAL. Returns its rows joined by newlines.
std::string IntegrityCheck(const std::string& db_path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  if (rc != SQLITE_OK) {
    std::string e = "open failed: " + std::string(db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close_v2(db);
    return e;
  }
  sqlite3_busy_timeout(db, 5000);
  sqlite3_stmt* st = nullptr;
  std::string out;
  rc = sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, nullptr);
  if (rc != SQLITE_OK) {
    out = "prepare failed: " + std::string(sqlite3_errmsg(db));
  } else {
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      if (!out.empty()) out += "\n";
      out += reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    }
    if (rc != SQLITE_DONE) out += "\nstep failed: " + std::string(sqlite3_errmsg(db));
  }
  sqlite3_finalize(st);
  sqlite3_close_v2(db);
  return out;
}

// Runs one integer query on a read-only connection (-1 on any error).
int64_t QueryIntReadOnly(const std::string& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  int64_t v = -1;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
      v = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
  }
  sqlite3_close_v2(db);
  return v;
}

// The FTS5 index must agree with the archives table. Its integrity-check is
// an INSERT, so it runs on a copy of the (stopped) node's files, never on them.
std::string FtsIntegrityCheckOnCopy(const std::string& db_path, const std::string& scratch_dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(scratch_dir, ec);
  const std::string copy = scratch_dir + "/copy.db";
  for (const char* suffix : {"", "-wal"}) {
    fs::remove(copy + suffix, ec);
    if (fs::exists(db_path + suffix)) {
      fs::copy_file(db_path + suffix, copy + suffix, fs::copy_options::overwrite_existing, ec);
      if (ec) return "copy failed: " + ec.message();
    }
  }
  sqlite3* db = nullptr;
  std::string out = "ok";
  if (sqlite3_open_v2(copy.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    out = "open failed: " + std::string(sqlite3_errmsg(db));
  } else {
    char* err = nullptr;
    if (sqlite3_exec(db, "INSERT INTO archives_fts(archives_fts) VALUES('integrity-check')", nullptr, nullptr, &err) !=
        SQLITE_OK) {
      out = "fts5 integrity-check: " + std::string(err ? err : sqlite3_errmsg(db));
    }
    sqlite3_free(err);
  }
  sqlite3_close_v2(db);
  fs::remove_all(scratch_dir, ec);
  return out;
}

// Everything the 32 clients share: counts of what must never happen.
class Tally {
 public:
  void Fail(const std::string& what) {
    failures_.fetch_add(1);
    std::lock_guard lock(mu_);
    if (messages_.size() < kMaxReportedFailures) messages_.push_back(what);
  }
  void ServerError(const std::string& what, const httplib::Response& r) {
    server_errors_.fetch_add(1);
    Fail("5xx: " + what + " -> " + std::to_string(r.status) + " " + Truncated(r.body));
  }
  void TransportError(const std::string& what, httplib::Error e) {
    transport_errors_.fetch_add(1);
    Fail("transport error (no response): " + what + " -> " + httplib::to_string(e));
  }
  int64_t failures() const { return failures_.load(); }
  int64_t server_errors() const { return server_errors_.load(); }
  int64_t transport_errors() const { return transport_errors_.load(); }
  std::string Report() const {
    std::lock_guard lock(mu_);
    std::string out;
    for (const auto& m : messages_) out += "  " + m + "\n";
    if (failures_.load() > static_cast<int64_t>(messages_.size())) {
      out += "  ... and " + std::to_string(failures_.load() - static_cast<int64_t>(messages_.size())) + " more\n";
    }
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> messages_;
  std::atomic<int64_t> failures_{0};
  std::atomic<int64_t> server_errors_{0};
  std::atomic<int64_t> transport_errors_{0};
};

// A state a key can be in: absent (never created or deleted), or live with
// a version and content.
struct State {
  bool live = false;
  int64_t version = 0;
  std::string content;
};

// What a key must look like. One possible state, except after a write whose
// outcome is unknown (transport error): then the key is never touched again
// and either state is accepted.
struct Expect {
  std::vector<State> possible;
  bool certain() const { return possible.size() == 1; }
  const State& state() const { return possible.front(); }
};

struct SharedAck {
  std::string key;
  int64_t version;
  std::string content;
  int client;
};

struct SharedUnknown {
  std::string key;
  std::string content;
};

const char* const kWords[] = {"archive", "memory",  "bridge", "watcher", "index",   "segment", "frame",
                              "commit",  "durable", "group",  "writer",  "reader",  "größe",   "日本語",
                              "naïve",   "wal",     "sqlite", "backup",  "standby", "restore", "checksum"};

std::string Filler(std::mt19937& rng, std::string text) {
  size_t target;
  const uint32_t r = rng() % 1000;
  if (r < 900)
    target = 40 + rng() % 1500;  // most archives are small
  else if (r < 995)
    target = 1500 + rng() % 6500;  // some fill a few pages
  else
    target = (16u << 10) + rng() % (80u << 10);  // a few spill into overflow chains
  while (text.size() < target) {
    text += ' ';
    text += kWords[rng() % (sizeof kWords / sizeof kWords[0])];
  }
  return text;
}

std::string PutBody(const std::string& content, const json& metadata) {
  return json{{"content", content}, {"metadata", metadata}}.dump();
}

std::string SharedKey(int i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "shared/%02d", i);
  return buf;
}

struct WorkerStats {
  int64_t write_requests = 0;  // acknowledged PUT/DELETE/batch requests
  int64_t write_ops = 0;       // acknowledged single ops (a batch counts each op)
  int64_t reads = 0;           // GET, list, search answered
  int64_t conflicts = 0;       // 412s on shared keys (retried)
  std::vector<double> write_ms;
};

// One client: its own connection, its own keys c/NN/..., and a share of the
// updates to the shared keys.
class Worker {
 public:
  Worker(int id, uint32_t seed, const NodeProcess& node, Tally& tally)
      : id_(id), rng_(seed), client_(node.Client()), tally_(tally) {
    client_->set_read_timeout(15, 0);  // a hang shows up as a transport error, not a stuck test
    char buf[16];
    std::snprintf(buf, sizeof buf, "c/%02d/", id);
    prefix_ = buf;
  }

  void Run(Clock::time_point deadline) {
    while (Clock::now() < deadline) {
      const uint32_t r = rng_() % 100;
      try {
        if (r < 22)
          Create();
        else if (r < 44)
          UpdateOwn();
        else if (r < 58)
          UpdateShared();
        else if (r < 80)
          GetOwn();
        else if (r < 86)
          Batch();
        else if (r < 90)
          DeleteOwn();
        else if (r < 95)
          ListOwn();
        else
          SearchOwn();
      } catch (const std::exception& e) {  // e.g. a JSON field of the wrong type
        tally_.Fail("client " + std::to_string(id_) + ": unexpected answer: " + e.what());
      }
    }
  }

  const std::string& prefix() const { return prefix_; }
  const std::map<std::string, Expect>& expect() const { return expect_; }
  const std::vector<SharedAck>& shared_acks() const { return shared_acks_; }
  const std::vector<SharedUnknown>& shared_unknown() const { return shared_unknown_; }
  WorkerStats& stats() { return stats_; }
  int64_t max_txid() const { return last_txid_; }
  int64_t acked_writes() const { return stats_.write_ops; }

 private:
  std::string What(const std::string& op, const std::string& key) const {
    return "client " + std::to_string(id_) + " " + op + " " + key;
  }

  // nullptr on a transport error (counted); counts 5xx.
  const httplib::Response* Answer(const httplib::Result& r, const std::string& what) {
    if (!r) {
      tally_.TransportError(what, r.error());
      return nullptr;
    }
    if (r->status >= 500) tally_.ServerError(what, r.value());
    return &r.value();
  }

  // Every write answer carries a position; a client's positions only go up
  // (each of its requests is queued after the previous one was committed).
  bool TakePosition(const json& body, const httplib::Response& res, const std::string& what) {
    auto txid = ParsePosition(body.value("position", json()));
    if (!txid) {
      tally_.Fail(what + ": bad position in " + Truncated(res.body));
      return false;
    }
    if (res.get_header_value("X-Walship-Position") != body["position"].get<std::string>()) {
      tally_.Fail(what + ": X-Walship-Position \"" + res.get_header_value("X-Walship-Position") +
                  "\" differs from the body's position " + body["position"].get<std::string>());
    }
    if (*txid <= last_txid_) {
      tally_.Fail(what + ": position went from txid " + std::to_string(last_txid_) + " to " + std::to_string(*txid));
    }
    last_txid_ = std::max(last_txid_, *txid);
    return true;
  }

  void Acked(double ms, int64_t ops) {
    stats_.write_requests++;
    stats_.write_ops += ops;
    stats_.write_ms.push_back(ms);
  }

  static double MsSince(Clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  }

  std::string NewKey() {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%06d", next_key_++);
    std::string key = prefix_ + buf;
    all_keys_.push_back(key);
    return key;
  }

  // A word found in exactly one archive's current content: the search check.
  static std::string Token(const std::string& key, int64_t version) {
    std::string t = "tok";
    for (char c : key) {
      if (std::isalnum(static_cast<unsigned char>(c))) t += c;
    }
    return t + "v" + std::to_string(version);
  }

  std::string ContentFor(const std::string& key, int64_t version) {
    return Filler(rng_, Token(key, version) + " client " + std::to_string(id_) + " version " + std::to_string(version));
  }

  json MetadataFor(int64_t version) const { return json{{"client", id_}, {"v", version}}; }

  void MakePickable(const std::string& key) {
    pick_index_[key] = pickable_.size();
    pickable_.push_back(key);
  }
  void Unpick(const std::string& key) {
    auto it = pick_index_.find(key);
    if (it == pick_index_.end()) return;
    const size_t i = it->second;
    pick_index_.erase(it);
    if (i + 1 != pickable_.size()) {
      pickable_[i] = std::move(pickable_.back());
      pick_index_[pickable_[i]] = i;
    }
    pickable_.pop_back();
  }
  // A live key of ours whose state is known exactly, if any.
  std::optional<std::string> PickLive() {
    if (pickable_.empty()) return std::nullopt;
    return pickable_[rng_() % pickable_.size()];
  }

  void Unknown(const std::string& key, State attempted) {
    Unpick(key);
    expect_[key].possible.push_back(std::move(attempted));
  }

  // Checks a put's answer against the state we asked for.
  bool CheckPutAnswer(const json& j, const std::string& key, const State& want, const std::string& what) {
    bool ok = j.value("key", "") == key && j.value("version", int64_t{-1}) == want.version &&
              j.value("sha256", "") == Sha256Hex(want.content) &&
              j.value("size", int64_t{-1}) == static_cast<int64_t>(want.content.size());
    if (!ok) {
      tally_.Fail(what + ": answer does not match the write (want version " + std::to_string(want.version) +
                  "): " + Truncated(j.dump()));
    }
    return ok;
  }

  void Create() {
    const std::string key = NewKey();
    State want{true, 1, ContentFor(key, 1)};
    const std::string what = What("create", key);
    const auto t0 = Clock::now();
    auto r = client_->Put("/v1/archives/" + key, {{"If-None-Match", "*"}}, PutBody(want.content, MetadataFor(1)),
                          "application/json");
    const httplib::Response* res = Answer(r, what);
    if (res == nullptr) {
      expect_[key].possible.push_back(State{});
      return Unknown(key, std::move(want));
    }
    if (res->status != 201) {
      expect_[key].possible.push_back(State{});  // refused: still absent
      return tally_.Fail(what + ": want 201, got " + std::to_string(res->status) + " " + Truncated(res->body));
    }
    Acked(MsSince(t0), 1);
    json j = ParseBody(res->body);
    TakePosition(j, *res, what);
    if (res->get_header_value("ETag") != "\"1\"") tally_.Fail(what + ": ETag " + res->get_header_value("ETag"));
    CheckPutAnswer(j, key, want, what);
    expect_[key].possible.push_back(std::move(want));
    MakePickable(key);
  }

  void UpdateOwn() {
    auto key = PickLive();
    if (!key) return Create();
    Expect& e = expect_[*key];
    const int64_t from = e.state().version;
    State want{true, from + 1, ContentFor(*key, from + 1)};
    const bool conditional = rng_() % 2 == 0;
    httplib::Headers h;
    if (conditional) h.emplace("If-Match", "\"" + std::to_string(from) + "\"");
    const std::string what = What(conditional ? "update(If-Match)" : "update", *key);
    const auto t0 = Clock::now();
    auto r =
        client_->Put("/v1/archives/" + *key, h, PutBody(want.content, MetadataFor(want.version)), "application/json");
    const httplib::Response* res = Answer(r, what);
    if (res == nullptr) return Unknown(*key, std::move(want));
    if (res->status != 200) {
      return tally_.Fail(what + ": want 200, got " + std::to_string(res->status) + " " + Truncated(res->body));
    }
    Acked(MsSince(t0), 1);
    json j = ParseBody(res->body);
    TakePosition(j, *res, what);
    CheckPutAnswer(j, *key, want, what);
    e.possible.front() = std::move(want);
  }

  void DeleteOwn() {
    auto key = PickLive();
    if (!key) return Create();
    Expect& e = expect_[*key];
    const int64_t from = e.state().version;
    const std::string what = What("delete", *key);
    const auto t0 = Clock::now();
    auto r = client_->Delete("/v1/archives/" + *key, {{"If-Match", std::to_string(from)}});
    const httplib::Response* res = Answer(r, what);
    if (res == nullptr) return Unknown(*key, State{});
    if (res->status != 200) {
      return tally_.Fail(what + ": want 200, got " + std::to_string(res->status) + " " + Truncated(res->body));
    }
    Acked(MsSince(t0), 1);
    json j = ParseBody(res->body);
    TakePosition(j, *res, what);
    if (j.value("deleted_version", int64_t{-1}) != from || j.value("deleted", false) != true) {
      tally_.Fail(what + ": want deleted_version " + std::to_string(from) + ", got " + Truncated(res->body));
    }
    e.possible.front() = State{};
    Unpick(*key);
  }

  // Checks a GET answer (or 404) against an expectation.
  void CheckRead(const std::string& key, const Expect& e, const httplib::Response& res, const std::string& what) {
    if (res.status == 404) {
      for (const State& s : e.possible) {
        if (!s.live) return;
      }
      return tally_.Fail(what + ": acknowledged write missing (404), want version " +
                         std::to_string(e.state().version));
    }
    if (res.status != 200) {
      return tally_.Fail(what + ": want 200, got " + std::to_string(res.status) + " " + Truncated(res.body));
    }
    json j = ParseBody(res.body);
    for (const State& s : e.possible) {
      if (s.live && j.value("key", "") == key && j.value("version", int64_t{-1}) == s.version &&
          j.value("content", "") == s.content && j.value("sha256", "") == Sha256Hex(s.content) &&
          j["metadata"].is_object() && j["metadata"].value("v", int64_t{-1}) == s.version &&
          res.get_header_value("ETag") == "\"" + std::to_string(s.version) + "\"") {
        return;
      }
    }
    tally_.Fail(what + ": content/version differ from the acknowledged write (want version " +
                std::to_string(e.state().version) + (e.state().live ? "" : ", deleted") + "): got " +
                Truncated(res.body, 200));
  }

  void GetOwn() {
    if (all_keys_.empty()) return Create();
    const std::string& key = all_keys_[rng_() % all_keys_.size()];
    const std::string what = What("get", key);
    auto r = client_->Get("/v1/archives/" + key);
    const httplib::Response* res = Answer(r, what);
    if (res == nullptr) return;
    stats_.reads++;
    CheckRead(key, expect_[key], *res, what);
  }

  // Updates a shared key: read its version, write with If-Match, retry on 412.
  void UpdateShared() {
    const int i = static_cast<int>(rng_() % kSharedKeys);
    const std::string key = SharedKey(i);
    const std::string path = "/v1/archives/" + key;
    for (int attempt = 0; attempt < kMaxIfMatchAttempts; ++attempt) {
      auto g = client_->Get(path);
      const httplib::Response* got = Answer(g, What("get", key));
      if (got == nullptr) return;
      stats_.reads++;
      if (got->status != 200) {
        return tally_.Fail(What("get", key) + ": want 200, got " + std::to_string(got->status));
      }
      const int64_t from = ParseBody(got->body).value("version", int64_t{-1});
      const std::string content = Filler(rng_, "shared " + std::to_string(i) + " client " + std::to_string(id_) +
                                                   " attempt " + std::to_string(attempt) + " from " +
                                                   std::to_string(from) + " nonce " + std::to_string(rng_()));
      const std::string what = What("shared update If-Match " + std::to_string(from), key);
      const auto t0 = Clock::now();
      auto r = client_->Put(path, {{"If-Match", "\"" + std::to_string(from) + "\""}},
                            PutBody(content, json{{"client", id_}}), "application/json");
      const httplib::Response* res = Answer(r, what);
      if (res == nullptr) {
        shared_unknown_.push_back({key, content});
        return;
      }
      if (res->status == 412) {
        stats_.conflicts++;
        continue;  // somebody else got there first: read again
      }
      if (res->status != 200) {
        return tally_.Fail(what + ": want 200 or 412, got " + std::to_string(res->status) + " " + Truncated(res->body));
      }
      Acked(MsSince(t0), 1);
      json j = ParseBody(res->body);
      TakePosition(j, *res, what);
      if (j.value("version", int64_t{-1}) != from + 1) {
        tally_.Fail(what + ": want version " + std::to_string(from + 1) + ", got " + Truncated(res->body));
      }
      shared_acks_.push_back({key, j.value("version", int64_t{-1}), content, id_});
      return;
    }
    tally_.Fail(What("shared update", key) + ": still 412 after " + std::to_string(kMaxIfMatchAttempts) + " attempts");
  }

  // A batch of 2..5 ops on our own keys: creates, conditional updates and
  // a conditional delete, all or nothing.
  void Batch() {
    const int n = 2 + static_cast<int>(rng_() % 4);
    json ops = json::array();
    std::vector<std::pair<std::string, State>> wants;
    std::vector<std::string> used;
    for (int k = 0; k < n; ++k) {
      const uint32_t r = rng_() % 10;
      std::optional<std::string> existing = r < 5 ? std::nullopt : PickLive();
      if (existing && std::find(used.begin(), used.end(), *existing) != used.end()) existing.reset();
      if (!existing) {
        const std::string key = NewKey();
        State want{true, 1, ContentFor(key, 1)};
        ops.push_back({{"op", "put"},
                       {"key", key},
                       {"content", want.content},
                       {"metadata", MetadataFor(1)},
                       {"if_none_match", "*"}});
        expect_[key].possible.push_back(State{});  // absent until acknowledged
        wants.emplace_back(key, std::move(want));
        used.push_back(key);
        continue;
      }
      const int64_t from = expect_[*existing].state().version;
      used.push_back(*existing);
      if (r == 9) {
        ops.push_back({{"op", "delete"}, {"key", *existing}, {"if_match", from}});
        wants.emplace_back(*existing, State{false, from, {}});
      } else {
        State want{true, from + 1, ContentFor(*existing, from + 1)};
        ops.push_back({{"op", "put"},
                       {"key", *existing},
                       {"content", want.content},
                       {"metadata", MetadataFor(from + 1)},
                       {"if_match", from}});
        wants.emplace_back(*existing, std::move(want));
      }
    }
    const std::string what = What("batch of " + std::to_string(n), wants.front().first);
    const auto t0 = Clock::now();
    auto r = client_->Post("/v1/batch", json{{"ops", ops}}.dump(), "application/json");
    const httplib::Response* res = Answer(r, what);
    if (res == nullptr) {
      for (auto& [key, want] : wants) {
        if (!want.live) want = State{};
        Unknown(key, std::move(want));
      }
      return;
    }
    if (res->status != 200) {
      return tally_.Fail(what + ": want 200, got " + std::to_string(res->status) + " " + Truncated(res->body));
    }
    Acked(MsSince(t0), n);
    json j = ParseBody(res->body);
    TakePosition(j, *res, what);
    const json& results = j["results"];
    if (!results.is_array() || results.size() != wants.size()) {
      return tally_.Fail(what + ": want " + std::to_string(n) + " results, got " + Truncated(res->body));
    }
    for (size_t k = 0; k < wants.size(); ++k) {
      auto& [key, want] = wants[k];
      const json& one = results[k];
      Expect& e = expect_[key];
      if (!want.live) {
        if (one.value("op", "") != "delete" || one.value("deleted_version", int64_t{-1}) != want.version) {
          tally_.Fail(what + ": result " + std::to_string(k) + " " + Truncated(one.dump()));
        }
        e.possible.front() = State{};
        Unpick(key);
      } else {
        if (one.value("op", "") != "put" || one.value("created", false) != (want.version == 1)) {
          tally_.Fail(what + ": result " + std::to_string(k) + " " + Truncated(one.dump()));
        }
        CheckPutAnswer(one, key, want, what);
        const bool was_new = want.version == 1;
        e.possible.front() = std::move(want);
        if (was_new) MakePickable(key);
      }
    }
  }

  // The first page of our own prefix matches our own expectations exactly
  // (nobody else writes under it).
  void ListOwn() {
    constexpr size_t kLimit = 50;
    const std::string what = What("list", prefix_);
    auto r = client_->Get("/v1/archives", httplib::Params{{"prefix", prefix_}, {"limit", std::to_string(kLimit)}},
                          httplib::Headers{});
    const httplib::Response* res = Answer(r, what);
    if (res == nullptr) return;
    stats_.reads++;
    if (res->status != 200) {
      return tally_.Fail(what + ": want 200, got " + std::to_string(res->status) + " " + Truncated(res->body));
    }
    std::vector<std::pair<std::string, const State*>> want;
    for (const auto& [key, e] : expect_) {
      if (want.size() > kLimit) break;
      if (!e.certain()) return;  // cannot tell what the page holds
      if (e.state().live) want.emplace_back(key, &e.state());
    }
    json j = ParseBody(res->body);
    const json& items = j["items"];
    const size_t n = std::min(want.size(), kLimit);
    if (!items.is_array() || items.size() != n) {
      return tally_.Fail(what + ": want " + std::to_string(n) + " items, got " + Truncated(res->body));
    }
    for (size_t k = 0; k < n; ++k) {
      const json& it = items[k];
      if (it.value("key", "") != want[k].first || it.value("version", int64_t{-1}) != want[k].second->version ||
          it.value("sha256", "") != Sha256Hex(want[k].second->content)) {
        return tally_.Fail(what + ": item " + std::to_string(k) + " want " + want[k].first + " v" +
                           std::to_string(want[k].second->version) + ", got " + Truncated(it.dump()));
      }
    }
    if (j["next_cursor"].is_null() != (want.size() <= kLimit)) {
      tally_.Fail(what + ": next_cursor " + j["next_cursor"].dump() + " with " + std::to_string(want.size()) +
                  "+ live keys");
    }
  }

  // The full-text index follows every write: the token of the current
  // version finds exactly this key.
  void SearchOwn() {
    auto key = PickLive();
    if (!key) return Create();
    const State& s = expect_[*key].state();
    const std::string token = Token(*key, s.version);
    const std::string what = What("search " + token, *key);
    auto r = client_->Get("/v1/search", httplib::Params{{"q", token}, {"limit", "5"}}, httplib::Headers{});
    const httplib::Response* res = Answer(r, what);
    if (res == nullptr) return;
    stats_.reads++;
    if (res->status != 200) {
      return tally_.Fail(what + ": want 200, got " + std::to_string(res->status) + " " + Truncated(res->body));
    }
    json hits = ParseBody(res->body)["hits"];
    if (!hits.is_array() || hits.size() != 1 || hits[0].value("key", "") != *key ||
        hits[0].value("version", int64_t{-1}) != s.version) {
      tally_.Fail(what + ": want exactly one hit, version " + std::to_string(s.version) + ", got " +
                  Truncated(res->body));
    }
  }

  const int id_;
  std::mt19937 rng_;
  std::unique_ptr<httplib::Client> client_;
  Tally& tally_;
  std::string prefix_;
  int next_key_ = 0;
  std::map<std::string, Expect> expect_;  // every key of ours ever tried
  std::vector<std::string> all_keys_;     // same keys, for random picks
  std::vector<std::string> pickable_;     // live keys whose state is certain
  std::unordered_map<std::string, size_t> pick_index_;
  std::vector<SharedAck> shared_acks_;
  std::vector<SharedUnknown> shared_unknown_;
  WorkerStats stats_;
  int64_t last_txid_ = 0;
};

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
  EXPECT_EQ(exit_code, 0) << LogTail(node.get());
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
  EXPECT_EQ(tally.failures(), 0) << tally.Report() << "node log tail:\n" << LogTail(node.get());
}

TEST(ConcurrencyTest, ThirtyTwoClientsForTenSecondsLoseNothing) { RunConcurrency(std::chrono::seconds(10)); }

TEST(ConcurrencySoak, ThirtyTwoClientsForTwoMinutesLoseNothing) { RunConcurrency(std::chrono::seconds(120)); }

}  // namespace
}  // namespace walship::testing
