// Optimistic concurrency over real HTTP: ETag, If-Match, If-None-Match: *,
// 412 on conflict, GET with If-None-Match -> 304, and racing clients that
// cannot lose an update.
#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "tests/support/etag.h"
#include "tests/support/node_fixture.h"

namespace walship::testing {
namespace {

using nlohmann::json;

class ConditionalWritesApiTest : public NodeFixture {
 protected:
  static httplib::Result Put(httplib::Client& c, const std::string& key, const std::string& content,
                             const httplib::Headers& h = {}) {
    return c.Put(("/v1/archives/" + key).c_str(), h, json{{"content", content}}.dump(), "application/json");
  }
  httplib::Result Put(const std::string& key, const std::string& content, const httplib::Headers& h = {}) {
    return Put(*client_, key, content, h);
  }

  json GetJson(const std::string& key) {
    auto r = client_->Get(("/v1/archives/" + key).c_str());
    if (!r || r->status != 200) return json();
    return json::parse(r->body);
  }

  static std::string ErrorCode(const httplib::Result& r) {
    json j = json::parse(r->body, nullptr, false);
    if (j.is_discarded() || !j.contains("error")) return "";
    return j["error"]["code"].get<std::string>();
  }
};

TEST_F(ConditionalWritesApiTest, EtagIsTheQuotedVersionOnPutAndGet) {
  auto created = Put("e", "v1");
  ASSERT_TRUE(created);
  ASSERT_EQ(created->status, 201);
  EXPECT_EQ(EtagVersion(created->get_header_value("ETag")), 1);
  auto get = client_->Get("/v1/archives/e");
  ASSERT_EQ(get->status, 200);
  EXPECT_EQ(EtagVersion(get->get_header_value("ETag")), 1);

  auto replaced = Put("e", "v2");
  ASSERT_EQ(replaced->status, 200);
  EXPECT_EQ(EtagVersion(replaced->get_header_value("ETag")), 2);
  EXPECT_EQ(json::parse(replaced->body)["version"], 2);
  EXPECT_EQ(EtagVersion(client_->Get("/v1/archives/e")->get_header_value("ETag")), 2);
}

TEST_F(ConditionalWritesApiTest, IfMatchWithTheCurrentVersionSucceedsInEveryForm) {
  ASSERT_EQ(Put("k", "v1")->status, 201);
  // The ETag as handed out, a weak form of it, and a bare number.
  auto a = Put("k", "v2", {{"If-Match", "\"1\""}});
  ASSERT_EQ(a->status, 200) << a->body;
  EXPECT_EQ(EtagVersion(a->get_header_value("ETag")), 2);
  auto b = Put("k", "v3", {{"If-Match", "W/\"2\""}});
  ASSERT_EQ(b->status, 200) << b->body;
  auto c = Put("k", "v4", {{"If-Match", "3"}});
  ASSERT_EQ(c->status, 200) << c->body;
  json rec = GetJson("k");
  EXPECT_EQ(rec["content"], "v4");
  EXPECT_EQ(rec["version"], 4);
  // Delete with the current version succeeds.
  auto del = client_->Delete("/v1/archives/k", {{"If-Match", "\"4\""}});
  ASSERT_EQ(del->status, 200) << del->body;
  EXPECT_EQ(json::parse(del->body)["deleted_version"], 4);
  EXPECT_EQ(client_->Get("/v1/archives/k")->status, 404);
}

TEST_F(ConditionalWritesApiTest, IfMatchWithAStaleVersionIs412AndChangesNothing) {
  ASSERT_EQ(Put("k", "v1")->status, 201);
  ASSERT_EQ(Put("k", "v2")->status, 200);
  auto stale = Put("k", "lost?", {{"If-Match", "\"1\""}});
  ASSERT_TRUE(stale);
  EXPECT_EQ(stale->status, 412);
  EXPECT_EQ(json::parse(stale->body),
            (json{{"error",
                   {{"code", "precondition_failed"}, {"message", "archive k is at version 2, If-Match expected version 1"}}}}));
  EXPECT_TRUE(stale->get_header_value("ETag").empty());
  auto stale_delete = client_->Delete("/v1/archives/k", {{"If-Match", "\"1\""}});
  EXPECT_EQ(stale_delete->status, 412);
  EXPECT_EQ(ErrorCode(stale_delete), "precondition_failed");
  json rec = GetJson("k");
  EXPECT_EQ(rec["content"], "v2");
  EXPECT_EQ(rec["version"], 2);
  // Neither failure advanced the position.
  auto status = json::parse(client_->Get("/v1/status")->body);
  EXPECT_EQ(status["position"], "1/2");
}

TEST_F(ConditionalWritesApiTest, IfMatchOnAMissingKeyIs412) {
  auto r = Put("ghost", "x", {{"If-Match", "\"1\""}});
  EXPECT_EQ(r->status, 412);
  EXPECT_EQ(json::parse(r->body)["error"]["message"], "archive ghost does not exist, but If-Match expected version 1");
  EXPECT_EQ(client_->Get("/v1/archives/ghost")->status, 404);
}

TEST_F(ConditionalWritesApiTest, IfNoneMatchStarCreatesOnlyOnce) {
  auto first = Put("once", "first", {{"If-None-Match", "*"}});
  ASSERT_EQ(first->status, 201) << first->body;
  EXPECT_EQ(EtagVersion(first->get_header_value("ETag")), 1);
  auto second = Put("once", "second", {{"If-None-Match", "*"}});
  EXPECT_EQ(second->status, 412);
  EXPECT_EQ(json::parse(second->body)["error"]["code"], "precondition_failed");
  EXPECT_EQ(json::parse(second->body)["error"]["message"],
            "archive once already exists (version 1) and If-None-Match: * was given");
  EXPECT_EQ(GetJson("once")["content"], "first");
  // After a delete, create-only works again and starts over at version 1.
  ASSERT_EQ(client_->Delete("/v1/archives/once")->status, 200);
  auto again = Put("once", "third", {{"If-None-Match", "*"}});
  EXPECT_EQ(again->status, 201);
  EXPECT_EQ(json::parse(again->body)["version"], 1);
}

TEST_F(ConditionalWritesApiTest, GetWithMatchingIfNoneMatchIs304) {
  auto created = Put("c", "cached");
  ASSERT_EQ(created->status, 201);
  const std::string etag1 = created->get_header_value("ETag");
  auto not_modified = client_->Get("/v1/archives/c", {{"If-None-Match", etag1}});
  ASSERT_TRUE(not_modified);
  EXPECT_EQ(not_modified->status, 304);
  EXPECT_TRUE(not_modified->body.empty());
  EXPECT_EQ(not_modified->get_header_value("ETag"), etag1);

  auto replaced = Put("c", "changed");
  ASSERT_EQ(replaced->status, 200);
  auto modified = client_->Get("/v1/archives/c", {{"If-None-Match", etag1}});
  ASSERT_EQ(modified->status, 200);
  EXPECT_EQ(EtagVersion(modified->get_header_value("ETag")), 2);
  EXPECT_EQ(json::parse(modified->body)["content"], "changed");
  EXPECT_EQ(client_->Get("/v1/archives/c", {{"If-None-Match", replaced->get_header_value("ETag")}})->status, 304);
  // A missing key is still 404, whatever the header says.
  EXPECT_EQ(client_->Get("/v1/archives/none", {{"If-None-Match", etag1}})->status, 404);
}

// Versions start over at 1 when a key is deleted and created again; the
// ETag does not repeat, so a client holding the old one can neither
// overwrite the new record nor take it for its cached copy.
TEST_F(ConditionalWritesApiTest, StaleETagFromBeforeADeleteAndRecreateIsRefused) {
  auto old = Put("k", "the first incarnation");
  ASSERT_EQ(old->status, 201);
  const std::string stale = old->get_header_value("ETag");
  ASSERT_EQ(client_->Delete("/v1/archives/k")->status, 200);
  auto fresh = Put("k", "the second incarnation");
  ASSERT_EQ(fresh->status, 201);
  EXPECT_EQ(EtagVersion(fresh->get_header_value("ETag")), 1);
  EXPECT_NE(fresh->get_header_value("ETag"), stale);

  EXPECT_EQ(client_->Get("/v1/archives/k", {{"If-None-Match", stale}})->status, 200);
  auto lost = Put("k", "a stale overwrite", {{"If-Match", stale}});
  ASSERT_EQ(lost->status, 412) << lost->body;
  EXPECT_EQ(json::parse(lost->body)["error"]["message"],
            "archive k is at version 1 but not the one If-Match " + stale + " names (it was deleted and created again)");
  EXPECT_EQ(GetJson("k")["content"], "the second incarnation");
  // The current ETag works.
  EXPECT_EQ(Put("k", "third", {{"If-Match", fresh->get_header_value("ETag")}})->status, 200);
}

// Two clients read version N and both update with If-Match: N at the same
// moment. Exactly one wins; the loser gets 412 and the stored content is the
// winner's. Repeated to give the race many chances.
TEST_F(ConditionalWritesApiTest, TwoClientsRacingIfMatchExactlyOneWins) {
  ASSERT_EQ(Put("race", "start")->status, 201);
  auto c1 = node_->Client();
  auto c2 = node_->Client();
  constexpr int kRounds = 30;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const int64_t version = round + 1;
    const std::string etag = "\"" + std::to_string(version) + "\"";
    std::barrier sync(2);
    int status[2] = {0, 0};
    std::string content[2] = {"a" + std::to_string(round), "b" + std::to_string(round)};
    auto run = [&](int i, httplib::Client& c) {
      sync.arrive_and_wait();
      auto r = Put(c, "race", content[i], {{"If-Match", etag}});
      status[i] = r ? r->status : -1;
    };
    std::thread t1(run, 0, std::ref(*c1));
    std::thread t2(run, 1, std::ref(*c2));
    t1.join();
    t2.join();
    const int wins = (status[0] == 200) + (status[1] == 200);
    const int losses = (status[0] == 412) + (status[1] == 412);
    ASSERT_EQ(wins, 1) << status[0] << " " << status[1];
    ASSERT_EQ(losses, 1) << status[0] << " " << status[1];
    json rec = GetJson("race");
    EXPECT_EQ(rec["version"], version + 1);
    EXPECT_EQ(rec["content"], status[0] == 200 ? content[0] : content[1]);
  }
}

// Several clients increment a counter with read-modify-write under If-Match,
// retrying on 412. Every acknowledged increment is in the final value: no
// lost update, and the version counts exactly the successful writes.
TEST_F(ConditionalWritesApiTest, ConcurrentReadModifyWriteLosesNoUpdate) {
  ASSERT_EQ(Put("counter", "0")->status, 201);
  constexpr int kClients = 6;
  constexpr int kIncrementsEach = 15;
  std::atomic<int> acknowledged{0};
  std::atomic<int> conflicts{0};
  std::atomic<int> unexpected{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kClients; ++t) {
    threads.emplace_back([&] {
      auto c = node_->Client();
      int done = 0;
      int attempts = 0;
      while (done < kIncrementsEach && attempts++ < 2000) {
        auto get = c->Get("/v1/archives/counter");
        if (!get || get->status != 200) {
          unexpected++;
          return;
        }
        json rec = json::parse(get->body);
        const int value = std::stoi(rec["content"].get<std::string>());
        auto put = Put(*c, "counter", std::to_string(value + 1), {{"If-Match", get->get_header_value("ETag")}});
        if (!put) {
          unexpected++;
          return;
        }
        if (put->status == 200) {
          ++done;
          acknowledged++;
        } else if (put->status == 412) {
          conflicts++;
        } else {
          unexpected++;
          return;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(unexpected.load(), 0);
  EXPECT_EQ(acknowledged.load(), kClients * kIncrementsEach);
  json rec = GetJson("counter");
  EXPECT_EQ(rec["content"], std::to_string(acknowledged.load()));
  EXPECT_EQ(rec["version"], 1 + acknowledged.load());
  RecordProperty("conflicts", conflicts.load());
}

TEST_F(ConditionalWritesApiTest, BatchPreconditionsFollowTheSameRules) {
  ASSERT_EQ(Put("x", "x1")->status, 201);
  auto ok = client_->Post("/v1/batch",
                          json{{"ops",
                                {{{"op", "put"}, {"key", "x"}, {"content", "x2"}, {"if_match", 1}},
                                 {{"op", "put"}, {"key", "y"}, {"content", "y1"}, {"if_none_match", "*"}}}}}
                              .dump(),
                          "application/json");
  ASSERT_EQ(ok->status, 200) << ok->body;
  auto conflict = client_->Post(
      "/v1/batch",
      json{{"ops", {{{"op", "put"}, {"key", "y"}, {"content", "y2"}, {"if_none_match", "*"}}}}}.dump(),
      "application/json");
  EXPECT_EQ(conflict->status, 412);
  EXPECT_EQ(json::parse(conflict->body)["error"]["message"],
            "batch: archive y already exists (version 1) and If-None-Match: * was given");
  EXPECT_EQ(GetJson("x")["content"], "x2");
  EXPECT_EQ(GetJson("y")["content"], "y1");
}

}  // namespace
}  // namespace walship::testing
