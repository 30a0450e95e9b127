// The archive endpoints over real HTTP against the real binary.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/support/etag.h"
#include "tests/support/node_fixture.h"

namespace walship::testing {
namespace {

using nlohmann::json;

class ArchivesApiTest : public NodeFixture {
 protected:
  httplib::Result Put(const std::string& key, const json& body, const httplib::Headers& h = {}) {
    return client_->Put(("/v1/archives/" + key).c_str(), h, body.dump(), "application/json");
  }
};

TEST_F(ArchivesApiTest, PutThenGetReturnsTheRecord) {
  auto put = Put("notes/a.md", {{"content", "hello"}, {"metadata", {{"tag", "x"}}}});
  ASSERT_TRUE(put);
  EXPECT_EQ(put->status, 201);
  auto created = json::parse(put->body);
  EXPECT_EQ(created["version"], 1);
  EXPECT_EQ(created["sha256"], "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
  EXPECT_EQ(created["position"], "1/1");
  EXPECT_EQ(EtagVersion(put->get_header_value("ETag")), 1);
  EXPECT_FALSE(put->get_header_value("X-Request-Id").empty());

  auto get = client_->Get("/v1/archives/notes/a.md");
  ASSERT_TRUE(get);
  ASSERT_EQ(get->status, 200);
  auto rec = json::parse(get->body);
  EXPECT_EQ(rec["content"], "hello");
  EXPECT_EQ(rec["metadata"]["tag"], "x");
  EXPECT_EQ(rec["version"], 1);
}

TEST_F(ArchivesApiTest, ReplaceBumpsVersionAndDeleteRemoves) {
  ASSERT_EQ(Put("k", {{"content", "one"}})->status, 201);
  auto second = Put("k", {{"content", "two"}});
  ASSERT_EQ(second->status, 200);
  EXPECT_EQ(json::parse(second->body)["version"], 2);
  EXPECT_EQ(json::parse(second->body)["position"], "1/2");

  auto del = client_->Delete("/v1/archives/k");
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 200);
  EXPECT_EQ(json::parse(del->body)["deleted_version"], 2);
  EXPECT_EQ(client_->Get("/v1/archives/k")->status, 404);
  auto again = client_->Delete("/v1/archives/k");
  EXPECT_EQ(again->status, 404);
  EXPECT_EQ(json::parse(again->body)["error"]["code"], "not_found");
}

}  // namespace
}  // namespace walship::testing
