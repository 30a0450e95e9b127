// POST /v1/batch over real HTTP: all or nothing, the shape of its results,
// and one position step per committed batch.
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <regex>

#include "tests/support/node_fixture.h"

namespace walship::testing {
namespace {

using nlohmann::json;

class BatchApiTest : public NodeFixture {
 protected:
  httplib::Result Batch(const json& ops) {
    return client_->Post("/v1/batch", json{{"ops", ops}}.dump(), "application/json");
  }

  std::string Position() {
    auto r = client_->Get("/v1/status");
    if (!r || r->status != 200) return "";
    return json::parse(r->body)["position"].get<std::string>();
  }

  // Every key's content and version, read one by one with GET (404 -> absent).
  std::map<std::string, std::pair<std::string, int64_t>> Snapshot(const std::vector<std::string>& keys) {
    std::map<std::string, std::pair<std::string, int64_t>> out;
    for (const auto& k : keys) {
      auto r = client_->Get(("/v1/archives/" + k).c_str());
      EXPECT_TRUE(r);
      if (!r) continue;
      if (r->status == 404) continue;
      EXPECT_EQ(r->status, 200) << k;
      json j = json::parse(r->body);
      out[k] = {j["content"].get<std::string>(), j["version"].get<int64_t>()};
    }
    return out;
  }

  // Seeds a known state: a1 (v1), a2 (v2), a3 absent.
  void Seed() {
    ASSERT_EQ(Batch({{{"op", "put"}, {"key", "a1"}, {"content", "one"}},
                     {{"op", "put"}, {"key", "a2"}, {"content", "two-old"}}})
                  ->status,
              200);
    ASSERT_EQ(Batch({{{"op", "put"}, {"key", "a2"}, {"content", "two"}}})->status, 200);
  }

  const std::vector<std::string> keys_ = {"a1", "a2", "a3", "new1", "new2"};
};

TEST_F(BatchApiTest, ResultsHaveOneEntryPerOpInOrder) {
  ASSERT_EQ(client_->Put("/v1/archives/old", R"({"content":"bye"})", "application/json")->status, 201);
  auto r = Batch({{{"op", "put"}, {"key", "n/1"}, {"content", "hello"}, {"metadata", {{"t", 1}}}},
                  {{"op", "put"}, {"key", "old2"}, {"content", "x"}},
                  {{"op", "put"}, {"key", "old2"}, {"content", "y"}},
                  {{"op", "delete"}, {"key", "old"}}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
  json body = json::parse(r->body);
  EXPECT_EQ(body["position"], "1/2");
  EXPECT_EQ(r->get_header_value("X-Walship-Position"), "1/2");
  ASSERT_TRUE(body["results"].is_array());
  ASSERT_EQ(body["results"].size(), 4u);

  const json& put = body["results"][0];
  EXPECT_EQ(put["op"], "put");
  EXPECT_EQ(put["key"], "n/1");
  EXPECT_EQ(put["created"], true);
  EXPECT_EQ(put["version"], 1);
  EXPECT_EQ(put["sha256"], "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
  EXPECT_EQ(put["size"], 5);
  EXPECT_EQ(put["metadata"], (json{{"t", 1}}));
  EXPECT_FALSE(put.contains("content"));
  const std::regex rfc3339(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");
  EXPECT_TRUE(std::regex_match(put["created_at"].get<std::string>(), rfc3339)) << put;
  EXPECT_TRUE(std::regex_match(put["updated_at"].get<std::string>(), rfc3339)) << put;

  // The same key twice in one batch: the second sees the first.
  EXPECT_EQ(body["results"][1]["created"], true);
  EXPECT_EQ(body["results"][1]["version"], 1);
  EXPECT_EQ(body["results"][2]["created"], false);
  EXPECT_EQ(body["results"][2]["version"], 2);

  EXPECT_EQ(body["results"][3], (json{{"op", "delete"}, {"key", "old"}, {"deleted_version", 1}}));

  auto got = Snapshot({"n/1", "old2", "old"});
  EXPECT_EQ(got.size(), 2u);
  EXPECT_EQ(got["n/1"], std::make_pair(std::string("hello"), int64_t{1}));
  EXPECT_EQ(got["old2"], std::make_pair(std::string("y"), int64_t{2}));
}

TEST_F(BatchApiTest, BatchWithABadKeyChangesNothing) {
  Seed();
  const auto before = Snapshot(keys_);
  const std::string pos = Position();
  auto r = Batch({{{"op", "put"}, {"key", "new1"}, {"content", "n1"}},
                  {{"op", "put"}, {"key", "a1"}, {"content", "changed"}},
                  {{"op", "delete"}, {"key", "a2"}},
                  {{"op", "put"}, {"key", "bad//key"}, {"content", "x"}}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(json::parse(r->body),
            (json{{"error",
                   {{"code", "invalid_argument"},
                    {"message", "batch: ops[3]: key has an empty segment (a leading, trailing or doubled '/')"}}}}));
  EXPECT_EQ(Snapshot(keys_), before);
  EXPECT_EQ(Position(), pos);
}

TEST_F(BatchApiTest, BatchWithAFailedPreconditionChangesNothing) {
  Seed();
  const auto before = Snapshot(keys_);
  const std::string pos = Position();
  auto r = Batch({{{"op", "put"}, {"key", "new1"}, {"content", "n1"}},
                  {{"op", "delete"}, {"key", "a1"}},
                  {{"op", "put"}, {"key", "a2"}, {"content", "two-new"}, {"if_match", 1}},
                  {{"op", "put"}, {"key", "new2"}, {"content", "n2"}}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 412);
  EXPECT_EQ(json::parse(r->body),
            (json{{"error",
                   {{"code", "precondition_failed"},
                    {"message", "batch: ops[2]: archive a2 is at version 2, If-Match expected version 1"}}}}));
  EXPECT_EQ(Snapshot(keys_), before);
  EXPECT_EQ(Position(), pos);

  auto create_only = Batch({{{"op", "put"}, {"key", "new1"}, {"content", "n1"}},
                            {{"op", "put"}, {"key", "a1"}, {"content", "x"}, {"if_none_match", "*"}}});
  EXPECT_EQ(create_only->status, 412);
  EXPECT_EQ(json::parse(create_only->body)["error"]["message"],
            "batch: ops[1]: archive a1 already exists (version 1) and If-None-Match: * was given");
  EXPECT_EQ(Snapshot(keys_), before);
  EXPECT_EQ(Position(), pos);
}

TEST_F(BatchApiTest, BatchDeletingAMissingKeyChangesNothing) {
  Seed();
  const auto before = Snapshot(keys_);
  const std::string pos = Position();
  auto r = Batch({{{"op", "put"}, {"key", "new1"}, {"content", "n1"}},
                  {{"op", "put"}, {"key", "a1"}, {"content", "changed"}},
                  {{"op", "delete"}, {"key", "a3"}}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(json::parse(r->body),
            (json{{"error", {{"code", "not_found"}, {"message", "batch: ops[2]: archive a3 does not exist"}}}}));
  EXPECT_EQ(Snapshot(keys_), before);
  EXPECT_EQ(Position(), pos);
  // Deleting the same key twice in one batch: the second delete fails, so
  // the first is undone too.
  auto twice = Batch({{{"op", "delete"}, {"key", "a1"}}, {{"op", "delete"}, {"key", "a1"}}});
  EXPECT_EQ(twice->status, 404);
  EXPECT_EQ(json::parse(twice->body)["error"]["message"], "batch: ops[1]: archive a1 does not exist");
  EXPECT_EQ(Snapshot(keys_), before);
  EXPECT_EQ(Position(), pos);
}

TEST_F(BatchApiTest, FailedBatchLeavesSearchAndListingUntouched) {
  Seed();
  auto r = Batch({{{"op", "put"}, {"key", "new1"}, {"content", "quokka sighting"}},
                  {{"op", "delete"}, {"key", "missing"}}});
  ASSERT_EQ(r->status, 404);
  auto search = client_->Get("/v1/search?q=quokka");
  ASSERT_EQ(search->status, 200);
  EXPECT_TRUE(json::parse(search->body)["hits"].empty()) << search->body;
  auto list = client_->Get("/v1/archives?prefix=new");
  ASSERT_EQ(list->status, 200);
  EXPECT_TRUE(json::parse(list->body)["items"].empty()) << list->body;
}

TEST_F(BatchApiTest, PositionAdvancesByExactlyOnePerCommittedBatch) {
  EXPECT_EQ(Position(), "1/0");
  int64_t expected_txid = 0;
  for (int i = 0; i < 5; ++i) {
    json ops = json::array();
    for (int k = 0; k <= i; ++k) {
      ops.push_back({{"op", "put"}, {"key", "pos/" + std::to_string(k)}, {"content", std::to_string(i)}});
    }
    auto r = Batch(ops);
    ASSERT_EQ(r->status, 200) << r->body;
    ++expected_txid;
    const std::string want = "1/" + std::to_string(expected_txid);
    EXPECT_EQ(json::parse(r->body)["position"], want) << "a batch of " << ops.size() << " ops";
    EXPECT_EQ(Position(), want);
    // A failing batch in between does not move it.
    auto bad = Batch({{{"op", "put"}, {"key", "pos/x"}, {"content", "x"}}, {{"op", "delete"}, {"key", "nope"}}});
    ASSERT_EQ(bad->status, 404);
    EXPECT_EQ(Position(), want);
  }
  // A single PUT is one transaction as well.
  auto put = client_->Put("/v1/archives/pos/single", R"({"content":"s"})", "application/json");
  EXPECT_EQ(json::parse(put->body)["position"], "1/" + std::to_string(expected_txid + 1));
  auto status = json::parse(client_->Get("/v1/status")->body);
  EXPECT_EQ(status["txid"], expected_txid + 1);
  EXPECT_EQ(status["timeline"], 1);
}

}  // namespace
}  // namespace walship::testing
