// The clients of the concurrency test (concurrency_test.cpp): each one
// creates, updates and deletes keys of its own, updates shared keys with
// If-Match, reads back what it wrote and records every acknowledged write.
#pragma once

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/sha256.h"
#include "tests/support/etag.h"
#include "tests/support/failure_log.h"
#include "tests/support/node_process.h"
#include "tests/support/run_helpers.h"

namespace walship::testing::concurrency {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr int kSharedKeys = 8;
constexpr int kMaxIfMatchAttempts = 200;  // per shared update; 412s are retried
constexpr size_t kMaxReportedFailures = 40;

// Everything the 32 clients share: counts of what must never happen.
class Tally {
 public:
  void Fail(const std::string& what) { log_.Add(what); }
  void ServerError(const std::string& what, const httplib::Response& r) {
    server_errors_.fetch_add(1);
    Fail("5xx: " + what + " -> " + std::to_string(r.status) + " " + Truncated(r.body));
  }
  void TransportError(const std::string& what, httplib::Error e) {
    transport_errors_.fetch_add(1);
    Fail("transport error (no response): " + what + " -> " + httplib::to_string(e));
  }
  int64_t failures() const { return log_.count(); }
  int64_t server_errors() const { return server_errors_.load(); }
  int64_t transport_errors() const { return transport_errors_.load(); }
  std::string Report() const { return log_.Report(); }

 private:
  FailureLog log_{kMaxReportedFailures};
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

inline const char* const kWords[] = {"archive", "memory",  "bridge", "watcher", "index",   "segment", "frame",
                              "commit",  "durable", "group",  "writer",  "reader",  "größe",   "日本語",
                              "naïve",   "wal",     "sqlite", "backup",  "standby", "restore", "checksum"};

inline std::string Filler(std::mt19937& rng, std::string text) {
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

inline std::string PutBody(const std::string& content, const json& metadata) {
  return json{{"content", content}, {"metadata", metadata}}.dump();
}

inline std::string SharedKey(int i) {
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
    if (EtagVersion(res->get_header_value("ETag")) != 1) tally_.Fail(what + ": ETag " + res->get_header_value("ETag"));
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
          EtagVersion(res.get_header_value("ETag")) == s.version) {
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

}  // namespace walship::testing::concurrency
