// The fixture of the primary-and-standby integration tests: two real
// walship processes on 127.0.0.1, a load of keys whose content follows from
// the key, and the checks that the standby caught up and serves the same
// archives. Shared by standby_test.cpp and standby_limits_test.cpp.
#pragma once

#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "base/sha256.h"
#include "replication/segment_store.h"
#include "tests/support/failure_log.h"
#include "tests/support/node_process.h"
#include "tests/support/run_helpers.h"
#include "tests/support/temp_dir.h"

namespace walship::testing {

using nlohmann::json;

// Stops and joins a background load however the test ends: an ASSERT that
// returns with the thread still joinable would abort the whole binary and
// hide its own message.
struct StopLoadOnExit {
  std::atomic<bool>& stop;
  std::thread& load;
  ~StopLoadOnExit() {
    stop = true;
    if (load.joinable()) load.join();
  }
};

inline std::string ContentFor(const std::string& key) {
  std::string s = "content of " + key + ":";
  std::mt19937 g(static_cast<uint32_t>(std::hash<std::string>{}(key)));
  const size_t size = 200 + g() % 3000;
  while (s.size() < size) s += " word" + std::to_string(g() % 1000);
  return s;
}

struct Row {
  int64_t version = 0;
  std::string sha256;
  bool operator==(const Row&) const = default;
};

class StandbyTest : public ::testing::Test {
 protected:
  std::unique_ptr<NodeProcess> StartStandby(int port = 0, std::vector<std::string> env = {},
                                            const std::string& config_toml = "") {
    NodeOptions o;
    o.env = std::move(env);
    o.config_toml = config_toml;
    o.data_dir = tmp_.Sub("standby");
    o.listen = "127.0.0.1:" + std::to_string(port);
    o.extra_args = {"--role", "standby"};
    if (primary_) o.extra_args.insert(o.extra_args.end(), {"--primary", primary_->url()});
    std::string error;
    auto node = NodeProcess::Start(o, &error);
    EXPECT_NE(node, nullptr) << error;
    return node;
  }

  std::unique_ptr<NodeProcess> StartPrimary(const std::string& standby_url, const std::string& more_toml = "") {
    NodeOptions o;
    o.data_dir = tmp_.Sub("primary");
    o.config_toml =
        "[replication]\nstandby = \"" + standby_url + "\"\nretry_initial_ms = 20\nretry_max_ms = 200\n" + more_toml;
    std::string error;
    auto node = NodeProcess::Start(o, &error);
    EXPECT_NE(node, nullptr) << error;
    return node;
  }

  static json GetJson(const NodeProcess& node, const std::string& path) {
    auto res = node.Client()->Get(path.c_str());
    if (!res || res->status != 200) return json::object();
    return ParseBody(res->body);
  }

  // Writes `keys_per_writer` keys from each of `writers` threads; returns the
  // acknowledged keys with their txids. `stop` ends it early.
  void Load(const std::string& tag, int writers, int keys_per_writer, const std::atomic<bool>* stop = nullptr) {
    std::vector<std::thread> threads;
    for (int w = 0; w < writers; ++w) {
      threads.emplace_back([&, w] {
        auto client = primary_->Client();
        for (int i = 0; i < keys_per_writer && !(stop && stop->load()); ++i) {
          const std::string key = tag + "/" + std::to_string(w) + "/" + std::to_string(i);
          auto res = client->Put(("/v1/archives/" + key).c_str(), ContentFor(key), "text/plain");
          if (!res || (res->status != 201 && res->status != 200)) {
            failures_.Add("PUT " + key + ": " + (res ? std::to_string(res->status) + " " + res->body : "no answer"));
            continue;
          }
          auto txid = ParsePosition(ParseBody(res->body).value("position", json()));
          std::lock_guard lock(mu_);
          acked_[key] = txid.value_or(-1);
          max_acked_txid_ = std::max(max_acked_txid_, txid.value_or(-1));
        }
      });
    }
    for (auto& t : threads) t.join();
  }

  // Until the standby has the primary's position and database checksum.
  void WaitCaughtUp(int timeout_ms = 60000) {
    json p, s;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      p = GetJson(*primary_, "/v1/status");
      s = GetJson(*standby_, "/v1/replication/position");
      if (!p.empty() && !s.empty() && p.contains("segments") && p["segments"].is_object() &&
          s.value("txid", int64_t{-2}) == p.value("txid", int64_t{-1}) &&
          p["segments"].value("last_txid", int64_t{-1}) == p.value("txid", int64_t{-1}) &&
          s.value("db_checksum", "") == p["segments"].value("db_checksum", "x")) {
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << "the standby did not catch up within " << timeout_ms << " ms\nprimary: " << p.dump()
                  << "\nstandby: " << s.dump() << "\nprimary log:\n"
                  << LogTail(primary_->log_path()) << "\nstandby log:\n"
                  << LogTail(standby_->log_path());
  }

  static std::map<std::string, Row> Listing(const NodeProcess& node) {
    std::map<std::string, Row> rows;
    auto client = node.Client();
    std::string cursor;
    for (;;) {
      std::string path = "/v1/archives?limit=1000";
      if (!cursor.empty()) path += "&cursor=" + cursor;
      auto res = client->Get(path.c_str());
      EXPECT_TRUE(res && res->status == 200) << node.url() << path << ": " << (res ? res->body : "no answer");
      if (!res || res->status != 200) return rows;
      json page = ParseBody(res->body);
      for (const auto& item : page["items"]) {
        rows[item.value("key", "")] = Row{item.value("version", int64_t{0}), item.value("sha256", "")};
      }
      if (!page["next_cursor"].is_string()) return rows;
      cursor = page["next_cursor"].get<std::string>();  // base64url: safe in a query
    }
  }

  // Both list the same rows; every acknowledged key is there with the
  // SHA-256 of what was sent, and the standby serves its content.
  void ExpectSameArchives() {
    auto on_primary = Listing(*primary_);
    auto on_standby = Listing(*standby_);
    EXPECT_EQ(on_primary.size(), on_standby.size());
    EXPECT_TRUE(on_primary == on_standby) << "the listings differ";
    std::lock_guard lock(mu_);
    EXPECT_GE(on_standby.size(), acked_.size());
    auto client = standby_->Client();
    int wrong = 0;
    for (const auto& [key, txid] : acked_) {
      auto it = on_standby.find(key);
      if (it == on_standby.end() || it->second.sha256 != Sha256Hex(ContentFor(key))) {
        if (++wrong <= 5) ADD_FAILURE() << "acknowledged key " << key << " is missing or wrong on the standby";
        continue;
      }
      auto res = client->Get(("/v1/archives/" + key).c_str());
      if (!res || res->status != 200 || ParseBody(res->body).value("content", "") != ContentFor(key)) {
        if (++wrong <= 5) ADD_FAILURE() << "GET " << key << " on the standby: " << (res ? res->body : "no answer");
      }
    }
    EXPECT_EQ(wrong, 0);
  }

  TempDir tmp_{"walship-standby"};
  std::unique_ptr<NodeProcess> primary_;
  std::unique_ptr<NodeProcess> standby_;
  std::mutex mu_;  // guards acked_, max_acked_txid_
  std::map<std::string, int64_t> acked_;
  int64_t max_acked_txid_ = -1;
  FailureLog failures_;
};

}  // namespace walship::testing
