// GET /v1/archives (prefix listing with cursors) and GET /v1/search (FTS5,
// ranked, snippets) over real HTTP against the real binary.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "tests/support/node_fixture.h"

namespace walship::testing {
namespace {

using nlohmann::json;

class ListingSearchApiTest : public NodeFixture {
 protected:
  void PutAll(const std::vector<std::pair<std::string, std::string>>& kv) {
    for (size_t i = 0; i < kv.size(); i += 500) {
      json ops = json::array();
      for (size_t k = i; k < std::min(kv.size(), i + 500); ++k) {
        ops.push_back({{"op", "put"}, {"key", kv[k].first}, {"content", kv[k].second}});
      }
      auto r = client_->Post("/v1/batch", json{{"ops", ops}}.dump(), "application/json");
      ASSERT_TRUE(r);
      ASSERT_EQ(r->status, 200) << r->body;
    }
  }

  void Put(const std::string& key, const std::string& content) {
    auto r = client_->Put(("/v1/archives/" + key).c_str(), json{{"content", content}}.dump(), "application/json");
    ASSERT_TRUE(r);
    ASSERT_TRUE(r->status == 200 || r->status == 201) << r->body;
  }

  json List(const httplib::Params& params) {
    auto r = client_->Get("/v1/archives", params, {});
    EXPECT_TRUE(r);
    if (!r) return json();
    EXPECT_EQ(r->status, 200) << r->body;
    return json::parse(r->body);
  }

  json Search(const std::string& q, int limit = 0) {
    httplib::Params p{{"q", q}};
    if (limit > 0) p.emplace("limit", std::to_string(limit));
    auto r = client_->Get("/v1/search", p, {});
    EXPECT_TRUE(r);
    if (!r) return json();
    EXPECT_EQ(r->status, 200) << r->body;
    return json::parse(r->body);
  }

  static std::vector<std::string> HitKeys(const json& result) {
    std::vector<std::string> keys;
    for (const auto& h : result["hits"]) keys.push_back(h["key"].get<std::string>());
    return keys;
  }
};

TEST_F(ListingSearchApiTest, PaginationWalksEveryPrefixKeyOnceInByteOrder) {
  std::vector<std::pair<std::string, std::string>> kv;
  std::vector<std::string> expected;
  for (int i = 0; i < 250; ++i) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "p/%03d", (i * 37) % 250);  // inserted out of order
    kv.push_back({buf, "content " + std::to_string(i)});
    expected.push_back(buf);
  }
  // Keys whose byte order is not their "natural" order, all inside p/.
  for (const std::string k : {"p/Z", "p/a", "p/\xC3\xA9t\xC3\xA9", "p/a/b", "p/-", "p/\xE2\x9C\x93"}) {
    kv.push_back({k, "x"});
    expected.push_back(k);
  }
  // Neighbours just outside the prefix on both sides.
  for (int i = 0; i < 20; ++i) {
    kv.push_back({"o/" + std::to_string(i), "x"});
    kv.push_back({"q/" + std::to_string(i), "x"});
  }
  for (const std::string k : {"p", "p.", "p0", "pa", "p\xC3\xA9", "o", "q"}) kv.push_back({k, "x"});
  PutAll(kv);
  std::sort(expected.begin(), expected.end());  // std::string compares bytes (as unsigned char)

  std::vector<std::string> walked;
  std::string cursor;
  int pages = 0;
  for (;;) {
    httplib::Params p{{"prefix", "p/"}, {"limit", "7"}};
    if (!cursor.empty()) p.emplace("cursor", cursor);
    json page = List(p);
    ASSERT_TRUE(page.is_object());
    ++pages;
    ASSERT_TRUE(page["items"].is_array());
    ASSERT_LE(page["items"].size(), 7u);
    for (const auto& item : page["items"]) {
      walked.push_back(item["key"].get<std::string>());
      EXPECT_FALSE(item.contains("content")) << "listings carry no content";
      EXPECT_TRUE(item.contains("version"));
      EXPECT_TRUE(item.contains("sha256"));
      EXPECT_TRUE(item.contains("size"));
    }
    ASSERT_TRUE(page.contains("next_cursor"));
    if (page["next_cursor"].is_null()) break;
    EXPECT_EQ(page["items"].size(), 7u) << "only the last page may be short";
    cursor = page["next_cursor"].get<std::string>();
    ASSERT_LT(pages, 100) << "pagination does not end";
  }
  EXPECT_EQ(pages, static_cast<int>((expected.size() + 6) / 7));
  EXPECT_EQ(walked, expected);  // each p/ key exactly once, in byte order, nothing else
  std::set<std::string> unique(walked.begin(), walked.end());
  EXPECT_EQ(unique.size(), walked.size());
}

TEST_F(ListingSearchApiTest, ExactMultipleOfTheLimitEndsWithANullCursor) {
  std::vector<std::pair<std::string, std::string>> kv;
  for (int i = 0; i < 14; ++i) kv.push_back({"m/" + std::to_string(100 + i), "x"});
  kv.push_back({"n", "x"});
  PutAll(kv);
  json first = List({{"prefix", "m/"}, {"limit", "7"}});
  ASSERT_EQ(first["items"].size(), 7u);
  ASSERT_TRUE(first["next_cursor"].is_string());
  json second = List({{"prefix", "m/"}, {"limit", "7"}, {"cursor", first["next_cursor"].get<std::string>()}});
  ASSERT_EQ(second["items"].size(), 7u);
  EXPECT_EQ(second["items"][0]["key"], "m/107");
  EXPECT_EQ(second["items"][6]["key"], "m/113");
  EXPECT_TRUE(second["next_cursor"].is_null()) << second;
}

TEST_F(ListingSearchApiTest, ListingWithoutPrefixAndDefaults) {
  PutAll({{"b", "2"}, {"a", "1"}, {"c/d", "3"}});
  json all = List({});
  ASSERT_EQ(all["items"].size(), 3u);
  EXPECT_EQ(all["items"][0]["key"], "a");
  EXPECT_EQ(all["items"][1]["key"], "b");
  EXPECT_EQ(all["items"][2]["key"], "c/d");
  EXPECT_TRUE(all["next_cursor"].is_null());
  EXPECT_EQ(all["items"][0]["size"], 1);
  json none = List({{"prefix", "zzz"}});
  EXPECT_TRUE(none["items"].empty());
  EXPECT_TRUE(none["next_cursor"].is_null());
  // A cursor survives deletion of the key it points after.
  json page = List({{"limit", "1"}});
  ASSERT_EQ(page["items"][0]["key"], "a");
  ASSERT_EQ(client_->Delete("/v1/archives/a")->status, 200);
  json next = List({{"limit", "5"}, {"cursor", page["next_cursor"].get<std::string>()}});
  ASSERT_EQ(next["items"].size(), 2u);
  EXPECT_EQ(next["items"][0]["key"], "b");
}

TEST_F(ListingSearchApiTest, SearchRanksManyMentionsAboveOne) {
  PutAll({{"s/once", "the weather report mentions a zephyr once among many other words about clouds and rain"},
          {"s/many", "zephyr zephyr zephyr: a zephyr is a gentle wind, and this zephyr note is all about zephyr"},
          {"s/none", "nothing to see here at all"}});
  json r = Search("zephyr");
  EXPECT_EQ(r["query"], "zephyr");
  ASSERT_EQ(r["hits"].size(), 2u) << r;
  EXPECT_EQ(r["hits"][0]["key"], "s/many");
  EXPECT_EQ(r["hits"][1]["key"], "s/once");
  EXPECT_GT(r["hits"][0]["score"].get<double>(), r["hits"][1]["score"].get<double>());
  for (const auto& h : r["hits"]) {
    EXPECT_NE(h["snippet"].get<std::string>().find("<mark>zephyr</mark>"), std::string::npos) << h;
    EXPECT_EQ(h["version"], 1);
    EXPECT_TRUE(h["updated_at"].is_string());
  }
  // Matching is case-insensitive.
  EXPECT_EQ(HitKeys(Search("ZEPHYR")), (std::vector<std::string>{"s/many", "s/once"}));
  // limit cuts the ranked list.
  EXPECT_EQ(HitKeys(Search("zephyr", 1)), (std::vector<std::string>{"s/many"}));
}

TEST_F(ListingSearchApiTest, MultiWordQueryNeedsEveryWord) {
  PutAll({{"w/ab", "apple and banana smoothie"},
          {"w/ac", "apple with cherry"},
          {"w/bc", "banana next to a cherry"},
          {"w/abc", "cherry banana apple salad"}});
  auto keys = HitKeys(Search("apple banana"));
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(keys, (std::vector<std::string>{"w/ab", "w/abc"}));
  keys = HitKeys(Search("apple banana cherry"));
  EXPECT_EQ(keys, (std::vector<std::string>{"w/abc"}));
  EXPECT_TRUE(Search("apple durian")["hits"].empty());
  // FTS syntax in user text is taken literally, not as operators.
  EXPECT_TRUE(Search("apple OR durian")["hits"].empty());
  auto r = client_->Get("/v1/search", httplib::Params{{"q", "\"apple"}}, {});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
}

TEST_F(ListingSearchApiTest, TrailingStarIsAPrefixQuery) {
  PutAll({{"x/1", "documentation is useful"},
          {"x/2", "a document"},
          {"x/3", "docker containers"},
          {"x/4", "unrelated text"}});
  auto keys = HitKeys(Search("document*"));
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(keys, (std::vector<std::string>{"x/1", "x/2"}));
  keys = HitKeys(Search("doc*"));
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(keys, (std::vector<std::string>{"x/1", "x/2", "x/3"}));
  EXPECT_EQ(HitKeys(Search("document")), (std::vector<std::string>{"x/2"}));  // whole word only
  json r = Search("docker*");
  ASSERT_EQ(r["hits"].size(), 1u);
  EXPECT_NE(r["hits"][0]["snippet"].get<std::string>().find("<mark>docker</mark>"), std::string::npos);
}

TEST_F(ListingSearchApiTest, SearchReflectsUpdatesAndDeletes) {
  Put("u/1", "the aardvark digs");
  Put("u/2", "an aardvark sleeps");
  EXPECT_EQ(HitKeys(Search("aardvark")).size(), 2u);

  Put("u/1", "the pangolin digs");
  EXPECT_EQ(HitKeys(Search("aardvark")), (std::vector<std::string>{"u/2"}));
  json p = Search("pangolin");
  ASSERT_EQ(HitKeys(p), (std::vector<std::string>{"u/1"}));
  EXPECT_EQ(p["hits"][0]["version"], 2);

  ASSERT_EQ(client_->Delete("/v1/archives/u/2")->status, 200);
  EXPECT_TRUE(Search("aardvark")["hits"].empty());
  ASSERT_EQ(client_->Delete("/v1/archives/u/1")->status, 200);
  EXPECT_TRUE(Search("pangolin")["hits"].empty());

  // Batch writes are indexed in the same transaction.
  PutAll({{"u/3", "okapi"}, {"u/4", "okapi again"}});
  EXPECT_EQ(HitKeys(Search("okapi")).size(), 2u);
}

}  // namespace
}  // namespace walship::testing
