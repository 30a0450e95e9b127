#include "node/reads.h"

#include <gtest/gtest.h>

#include "base/sha256.h"
#include "node/fts_sync.h"
#include "node/schema.h"
#include "node/write_ops.h"
#include "tests/support/store_fixture.h"

namespace walship {
namespace {

TEST(BuildFtsQueryTest, QuotesEveryWord) {
  EXPECT_EQ(BuildFtsQuery("hello"), R"("hello")");
  EXPECT_EQ(BuildFtsQuery("hello world"), R"("hello" "world")");
}

TEST(BuildFtsQueryTest, SplitsOnAnyWhitespace) {
  EXPECT_EQ(BuildFtsQuery("  a\tb\nc  "), R"("a" "b" "c")");
}

TEST(BuildFtsQueryTest, EmptyOrBlankGivesEmpty) {
  EXPECT_EQ(BuildFtsQuery(""), "");
  EXPECT_EQ(BuildFtsQuery("   \t\n"), "");
}

TEST(BuildFtsQueryTest, DoublesEmbeddedQuotes) {
  EXPECT_EQ(BuildFtsQuery(R"(say "hi")"), R"("say" """hi""")");
  EXPECT_EQ(BuildFtsQuery(R"(")"), R"("""")");
}

TEST(BuildFtsQueryTest, TrailingStarMakesAPrefixQuery) {
  EXPECT_EQ(BuildFtsQuery("walr*"), R"("walr"*)");
  EXPECT_EQ(BuildFtsQuery("walr* seal"), R"("walr"* "seal")");
  EXPECT_EQ(BuildFtsQuery("*"), R"("*")");      // a lone star is a word, not a prefix of nothing
  EXPECT_EQ(BuildFtsQuery("a*b"), R"("a*b")");  // only a trailing star counts
  EXPECT_EQ(BuildFtsQuery("a**"), R"("a*"*)");
}

TEST(BuildFtsQueryTest, Fts5SyntaxIsNeutralised) {
  EXPECT_EQ(BuildFtsQuery("a OR b"), R"("a" "OR" "b")");
  EXPECT_EQ(BuildFtsQuery("NEAR(a b)"), R"x("NEAR(a" "b)")x");
  EXPECT_EQ(BuildFtsQuery("key:notes -x ^y"), R"("key:notes" "-x" "^y")");
}

class ReadsTest : public walship::testing::MigratedDbTest {
 protected:
  void Put(const std::string& key, const std::string& content, const std::string& metadata = "{}",
           int64_t now_ms = 1000) {
    auto r = ApplyWriteOp(*db_, walship::testing::PutOp(key, content, metadata), now_ms);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    // Each Put is its own (autocommit) group: index it now, as the writer does before COMMIT.
    Status flushed = FlushFtsChanges(*db_);
    ASSERT_TRUE(flushed.ok()) << flushed.ToString();
  }

  std::vector<std::string> Keys(const ListPage& page) {
    std::vector<std::string> keys;
    for (const auto& r : page.items) keys.push_back(r.key);
    return keys;
  }

  std::vector<std::string> Keys(const std::vector<SearchHit>& hits) {
    std::vector<std::string> keys;
    for (const auto& h : hits) keys.push_back(h.key);
    return keys;
  }

};

using Strings = std::vector<std::string>;

TEST_F(ReadsTest, GetReturnsTheWholeRecord) {
  Put("notes/a", "héllo", R"({"n":1})", 5000);
  auto r = GetArchive(*db_, "notes/a");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->key, "notes/a");
  EXPECT_EQ(r->content, "héllo");
  EXPECT_EQ(r->metadata_json, R"({"n":1})");
  EXPECT_EQ(r->version, 1);
  EXPECT_EQ(r->sha256, Sha256Hex("héllo"));
  EXPECT_EQ(r->created_at_ms, 5000);
  EXPECT_EQ(r->updated_at_ms, 5000);
  EXPECT_EQ(r->content_bytes, 6);
}

TEST_F(ReadsTest, GetMissingIsNotFound) {
  auto r = GetArchive(*db_, "nope");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_EQ(r.status().message(), "archive nope does not exist");
}

TEST_F(ReadsTest, ListIsInByteOrderWithinThePrefix) {
  for (const char* k : {"notes/b", "notes/a", "notesx", "notes", "note", "other", "notes/é", "notes/z"}) Put(k, k);
  auto page = ListArchives(*db_, "notes/", std::nullopt, 100);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(Keys(*page), (Strings{"notes/a", "notes/b", "notes/z", "notes/é"}));
  EXPECT_FALSE(page->last_key_if_more.has_value());
  EXPECT_TRUE(page->items[0].content.empty());  // listings carry no content
  EXPECT_EQ(page->items[3].content_bytes, 8);    // "notes/é" is 8 bytes
}

TEST_F(ReadsTest, ListWithoutPrefixListsEverything) {
  for (const char* k : {"b", "a", "c"}) Put(k, k);
  auto page = ListArchives(*db_, "", std::nullopt, 100);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(Keys(*page), (Strings{"a", "b", "c"}));
}

TEST_F(ReadsTest, ListPaginatesWithAfterKey) {
  for (const char* k : {"p/1", "p/2", "p/3", "p/4", "p/5", "q/1"}) Put(k, k);
  auto first = ListArchives(*db_, "p/", std::nullopt, 2);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(Keys(*first), (Strings{"p/1", "p/2"}));
  ASSERT_TRUE(first->last_key_if_more.has_value());
  EXPECT_EQ(*first->last_key_if_more, "p/2");

  auto second = ListArchives(*db_, "p/", first->last_key_if_more, 2);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(Keys(*second), (Strings{"p/3", "p/4"}));
  ASSERT_TRUE(second->last_key_if_more.has_value());

  auto third = ListArchives(*db_, "p/", second->last_key_if_more, 2);
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(Keys(*third), (Strings{"p/5"}));
  EXPECT_FALSE(third->last_key_if_more.has_value());
}

TEST_F(ReadsTest, ExactlyFullLastPageHasNoMore) {
  for (const char* k : {"a", "b"}) Put(k, k);
  auto page = ListArchives(*db_, "", std::nullopt, 2);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(Keys(*page), (Strings{"a", "b"}));
  EXPECT_FALSE(page->last_key_if_more.has_value());
}

TEST_F(ReadsTest, AfterKeyOutsideThePrefix) {
  for (const char* k : {"a", "p/1", "p/2", "z"}) Put(k, k);
  auto before = ListArchives(*db_, "p/", std::string("a"), 10);
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(Keys(*before), (Strings{"p/1", "p/2"}));
  auto beyond = ListArchives(*db_, "p/", std::string("q"), 10);
  ASSERT_TRUE(beyond.ok());
  EXPECT_TRUE(beyond->items.empty());
  // The cursor key need not exist any more (deleted between pages).
  auto gone = ListArchives(*db_, "p/", std::string("p/1x"), 10);
  ASSERT_TRUE(gone.ok());
  EXPECT_EQ(Keys(*gone), (Strings{"p/2"}));
}

TEST_F(ReadsTest, PrefixEndingInHighBytes) {
  // Keys are UTF-8 in practice, but the prefix bound must be right for any bytes.
  Put("a\xff", "1");
  Put("a\xff\xff", "2");
  Put("b", "3");
  auto page = ListArchives(*db_, "a\xff", std::nullopt, 10);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(Keys(*page), (Strings{"a\xff", "a\xff\xff"}));
  auto all = ListArchives(*db_, "\xff", std::nullopt, 10);
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->items.empty());
}

TEST_F(ReadsTest, SearchRanksByRelevance) {
  Put("fruit/few", "apple cherry kiwi lemon");
  Put("fruit/many", "apple apple apple cherry");
  Put("veg/none", "carrot potato leek onion");
  auto hits = SearchArchives(*db_, "apple", 10);
  ASSERT_TRUE(hits.ok()) << hits.status().ToString();
  EXPECT_EQ(Keys(*hits), (Strings{"fruit/many", "fruit/few"}));
  EXPECT_GT((*hits)[0].score, (*hits)[1].score);
  EXPECT_GT((*hits)[1].score, 0);
  EXPECT_EQ((*hits)[0].version, 1);
  EXPECT_EQ((*hits)[0].updated_at_ms, 1000);
  EXPECT_NE((*hits)[0].snippet.find("<mark>apple</mark>"), std::string::npos) << (*hits)[0].snippet;
}

TEST_F(ReadsTest, SearchNeedsEveryWordAndHonoursLimit) {
  Put("a", "apple cherry");
  Put("b", "apple kiwi");
  Put("c", "apple cherry kiwi");
  auto both = SearchArchives(*db_, "cherry kiwi", 10);
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(Keys(*both), (Strings{"c"}));
  auto limited = SearchArchives(*db_, "apple", 2);
  ASSERT_TRUE(limited.ok());
  EXPECT_EQ(limited->size(), 2u);
}

TEST_F(ReadsTest, SearchPrefixAndKeys) {
  Put("notes/walrus", "a large marine mammal");
  Put("notes/other", "walruses and seals");
  auto prefix = SearchArchives(*db_, "walr*", 10);
  ASSERT_TRUE(prefix.ok()) << prefix.status().ToString();
  EXPECT_EQ(prefix->size(), 2u);
  auto exact = SearchArchives(*db_, "walrus", 10);
  ASSERT_TRUE(exact.ok());
  EXPECT_EQ(Keys(*exact), (Strings{"notes/walrus"}));  // matched through the key
}

TEST_F(ReadsTest, SearchTreatsOperatorsAndQuotesAsText) {
  Put("a", "say \"hi\" OR bye");
  for (const std::string q : {"\"hi\"", "OR", "NEAR(hi", "hi)", "-bye", "^say", "key:a", "\"", "*", "a OR"}) {
    auto hits = SearchArchives(*db_, q, 10);
    EXPECT_TRUE(hits.ok()) << q << ": " << hits.status().ToString();
  }
  auto hits = SearchArchives(*db_, "\"hi\"", 10);
  ASSERT_TRUE(hits.ok());
  EXPECT_EQ(Keys(*hits), (Strings{"a"}));
}

TEST_F(ReadsTest, SearchWithNoWordsIsInvalid) {
  auto hits = SearchArchives(*db_, "   ", 10);
  ASSERT_FALSE(hits.ok());
  EXPECT_EQ(hits.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(hits.status().message(), "search query has no words");
}

TEST_F(ReadsTest, SearchTiesBreakByKey) {
  Put("b", "same words here");
  Put("a", "same words here");
  auto hits = SearchArchives(*db_, "words", 10);
  ASSERT_TRUE(hits.ok());
  EXPECT_EQ(Keys(*hits), (Strings{"a", "b"}));
}

}  // namespace
}  // namespace walship
