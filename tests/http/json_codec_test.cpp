#include "http/json_codec.h"

#include <gtest/gtest.h>

#include "base/sha256.h"
#include "node/write_ops.h"

namespace walship::http {
namespace {

using nlohmann::json;

class JsonCodecTest : public ::testing::Test {
 protected:
  Result<WriteOp> Put(const std::string& content_type, const std::string& body) {
    return ParsePutBody("notes/a", content_type, body, config_);
  }
  Status PutError(const std::string& content_type, const std::string& body) {
    auto op = Put(content_type, body);
    EXPECT_FALSE(op.ok()) << body;
    return op.status();
  }
  Status BatchError(const std::string& body, const std::string& content_type = "application/json") {
    auto ops = ParseBatchBody(content_type, body, config_);
    EXPECT_FALSE(ops.ok()) << body;
    return ops.status();
  }
  Config config_;
};

// --- PUT bodies --------------------------------------------------------------

TEST_F(JsonCodecTest, PutJsonWithContentAndMetadata) {
  auto op = Put("application/json", R"({"content": "hello", "metadata": {"tags": ["a", "b"], "n": 1}})");
  ASSERT_TRUE(op.ok()) << op.status().ToString();
  EXPECT_EQ(op->kind, WriteOp::Kind::kPut);
  EXPECT_EQ(op->key, "notes/a");
  EXPECT_EQ(op->content, "hello");
  EXPECT_EQ(json::parse(op->metadata_json), json::parse(R"({"tags": ["a", "b"], "n": 1})"));
  EXPECT_EQ(op->sha256, Sha256Hex("hello"));
  EXPECT_FALSE(op->if_match.has_value());
  EXPECT_FALSE(op->if_none_match_any);
}

TEST_F(JsonCodecTest, PutJsonWithoutOrWithNullMetadataGetsAnEmptyObject) {
  auto op = Put("application/json", R"({"content": ""})");
  ASSERT_TRUE(op.ok()) << op.status().ToString();
  EXPECT_EQ(op->content, "");
  EXPECT_EQ(op->metadata_json, "{}");
  EXPECT_EQ(op->sha256, Sha256Hex(""));
  auto null_meta = Put("application/json", R"({"content": "x", "metadata": null})");
  ASSERT_TRUE(null_meta.ok());
  EXPECT_EQ(null_meta->metadata_json, "{}");
}

TEST_F(JsonCodecTest, PutJsonKeepsUnicodeContent) {
  auto op = Put("application/json", R"({"content": "été \u65e5\u672c \ud83d\udcdd"})");
  ASSERT_TRUE(op.ok()) << op.status().ToString();
  EXPECT_EQ(op->content, "été 日本 📝");
}

TEST_F(JsonCodecTest, MediaTypeParametersAndCaseAreIgnored) {
  EXPECT_TRUE(Put("application/json; charset=utf-8", R"({"content": "x"})").ok());
  EXPECT_TRUE(Put("Application/JSON", R"({"content": "x"})").ok());
  EXPECT_TRUE(Put("text/plain;charset=UTF-8", "x").ok());
  EXPECT_TRUE(Put("TEXT/PLAIN ; charset=utf-8", "x").ok());
}

TEST_F(JsonCodecTest, PutTextPlainIsTheContent) {
  auto op = Put("text/plain", "just text\nwith lines {\"not\": \"json\"}");
  ASSERT_TRUE(op.ok()) << op.status().ToString();
  EXPECT_EQ(op->content, "just text\nwith lines {\"not\": \"json\"}");
  EXPECT_EQ(op->metadata_json, "{}");
  EXPECT_EQ(op->sha256, Sha256Hex(op->content));
}

TEST_F(JsonCodecTest, PutTextPlainMustBeUtf8) {
  Status s = PutError("text/plain", "bad \xff byte");
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_EQ(s.message(), "text/plain body is not valid UTF-8");
}

TEST_F(JsonCodecTest, OtherMediaTypesAre415) {
  Status s = PutError("application/xml", "<x/>");
  EXPECT_EQ(s.code(), Code::kUnsupported);
  EXPECT_EQ(s.message(), "Content-Type \"application/xml\" is not supported: send application/json or text/plain");
  EXPECT_EQ(PutError("", "x").message(),
            "Content-Type \"\" is not supported: send application/json or text/plain");
  EXPECT_EQ(PutError("application/octet-stream", "x").code(), Code::kUnsupported);
}

TEST_F(JsonCodecTest, PutJsonErrors) {
  Status bad = PutError("application/json", "{not json");
  EXPECT_EQ(bad.code(), Code::kInvalidArgument);
  EXPECT_EQ(bad.message(), "body is not valid JSON");
  EXPECT_EQ(PutError("application/json", "").message(), "body is not valid JSON");
  EXPECT_EQ(PutError("application/json", "[1]").message(), "body must be a JSON object");
  EXPECT_EQ(PutError("application/json", "\"content\"").message(), "body must be a JSON object");
  EXPECT_EQ(PutError("application/json", "{}").message(), "\"content\" is required and must be a string");
  EXPECT_EQ(PutError("application/json", R"({"content": 5})").message(),
            "\"content\" is required and must be a string");
  EXPECT_EQ(PutError("application/json", R"({"content": null})").message(),
            "\"content\" is required and must be a string");
  // Invalid UTF-8 inside a JSON string is invalid JSON.
  EXPECT_EQ(PutError("application/json", "{\"content\": \"\xff\"}").message(), "body is not valid JSON");
}

TEST_F(JsonCodecTest, PutJsonUnknownFieldIsNamed) {
  Status s = PutError("application/json", R"({"content": "x", "tags": []})");
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_EQ(s.message(), "unknown field \"tags\"");
  // Batch-only fields are unknown in a PUT body.
  EXPECT_EQ(PutError("application/json", R"({"content": "x", "if_match": 1})").message(),
            "unknown field \"if_match\"");
}

TEST_F(JsonCodecTest, MetadataMustBeAnObject) {
  for (const char* meta : {"[]", "\"x\"", "1", "true"}) {
    Status s = PutError("application/json", std::string(R"({"content": "x", "metadata": )") + meta + "}");
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << meta;
    EXPECT_EQ(s.message(), "metadata: must be a JSON object") << meta;
  }
}

TEST_F(JsonCodecTest, MetadataOverTheLimitIsTooLarge) {
  config_.max_metadata_bytes = 20;
  // {"k":"0123456789ab"} is exactly 20 bytes once re-serialised.
  auto fits = Put("application/json", R"({"content": "x", "metadata": {"k": "0123456789ab"}})");
  ASSERT_TRUE(fits.ok()) << fits.status().ToString();
  EXPECT_EQ(fits->metadata_json, R"({"k":"0123456789ab"})");
  Status s = PutError("application/json", R"({"content": "x", "metadata": {"k": "0123456789abc"}})");
  EXPECT_EQ(s.code(), Code::kTooLarge);
  EXPECT_EQ(s.message(), "metadata: is 21 bytes, over the limit of 20");
}

TEST_F(JsonCodecTest, DefaultMetadataLimitIs64KiB) {
  std::string big(70 * 1024, 'x');
  Status s = PutError("application/json", R"({"content": "x", "metadata": {"k": ")" + big + R"("}})");
  EXPECT_EQ(s.code(), Code::kTooLarge);
  EXPECT_EQ(s.message(), "metadata: is " + std::to_string(big.size() + 8) + " bytes, over the limit of 65536");
}

// --- Batch bodies ------------------------------------------------------------

TEST_F(JsonCodecTest, BatchParsesPutsAndDeletes) {
  auto ops = ParseBatchBody("application/json", R"({"ops": [
      {"op": "put", "key": "a", "content": "one", "metadata": {"x": 1}, "if_none_match": "*"},
      {"op": "put", "key": "b/c", "content": "two", "if_match": 3},
      {"op": "delete", "key": "d"},
      {"op": "delete", "key": "e", "if_match": 7}
  ]})", config_);
  ASSERT_TRUE(ops.ok()) << ops.status().ToString();
  ASSERT_EQ(ops->size(), 4u);
  const auto& v = *ops;
  EXPECT_EQ(v[0].kind, WriteOp::Kind::kPut);
  EXPECT_EQ(v[0].key, "a");
  EXPECT_EQ(v[0].content, "one");
  EXPECT_EQ(v[0].metadata_json, R"({"x":1})");
  EXPECT_EQ(v[0].sha256, Sha256Hex("one"));
  EXPECT_TRUE(v[0].if_none_match_any);
  EXPECT_FALSE(v[0].if_match.has_value());
  EXPECT_EQ(v[1].if_match, std::optional<int64_t>(3));
  EXPECT_FALSE(v[1].if_none_match_any);
  EXPECT_EQ(v[2].kind, WriteOp::Kind::kDelete);
  EXPECT_EQ(v[2].key, "d");
  EXPECT_FALSE(v[2].if_match.has_value());
  EXPECT_EQ(v[3].if_match, std::optional<int64_t>(7));
}

TEST_F(JsonCodecTest, BatchErrorsNameTheOperation) {
  const std::string ok = R"({"op": "put", "key": "a", "content": "x"}, {"op": "delete", "key": "b"}, )";
  auto third = [&](const std::string& op) { return BatchError(R"({"ops": [)" + ok + op + "]}"); };

  Status s = third(R"({"op": "put", "key": "a//b", "content": "x"})");
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_EQ(s.message(), "ops[2]: key has an empty segment (a leading, trailing or doubled '/')");
  EXPECT_EQ(third(R"({"op": "put", "key": "", "content": "x"})").message(), "ops[2]: key is empty");
  EXPECT_EQ(third(R"({"op": "put", "key": "a"})").message(), "ops[2]: \"content\" is required and must be a string");
  EXPECT_EQ(third(R"({"key": "a"})").message(), "ops[2]: \"op\" must be \"put\" or \"delete\"");
  EXPECT_EQ(third(R"({"op": "move", "key": "a"})").message(),
            "ops[2]: \"op\" must be \"put\" or \"delete\", got \"move\"");
  EXPECT_EQ(third(R"({"op": "put", "content": "x"})").message(), "ops[2]: \"key\" is required and must be a string");
  EXPECT_EQ(third(R"({"op": "put", "key": 5, "content": "x"})").message(),
            "ops[2]: \"key\" is required and must be a string");
  EXPECT_EQ(third(R"("put a")").message(), "ops[2]: must be an object");
  EXPECT_EQ(third(R"({"op": "put", "key": "a", "content": "x", "extra": 1})").message(),
            "ops[2]: unknown field \"extra\"");
  EXPECT_EQ(third(R"({"op": "delete", "key": "a", "content": "x"})").message(),
            "ops[2]: unknown field \"content\" for a delete");
  EXPECT_EQ(third(R"({"op": "delete", "key": "a", "if_none_match": "*"})").message(),
            "ops[2]: unknown field \"if_none_match\" for a delete");
  EXPECT_EQ(third(R"({"op": "put", "key": "a", "content": "x", "metadata": []})").message(),
            "ops[2]: metadata: must be a JSON object");
}

TEST_F(JsonCodecTest, BatchConditions) {
  const std::string head = R"({"ops": [{"op": "put", "key": "a", "content": "x", )";
  const std::string version_msg = "ops[0]: \"if_match\" must be a version number (an integer >= 1) or an ETag";
  EXPECT_EQ(BatchError(head + R"("if_match": 0}]})").message(), version_msg);
  EXPECT_EQ(BatchError(head + R"("if_match": -1}]})").message(), version_msg);
  EXPECT_EQ(BatchError(head + R"("if_match": "three"}]})").message(),
            "ops[0]: \"if_match\" must be a version number or an ETag");
  EXPECT_EQ(BatchError(head + R"("if_match": 1.5}]})").message(), version_msg);
  EXPECT_EQ(BatchError(head + R"("if_match": 18446744073709551615}]})").message(), version_msg);
  EXPECT_EQ(BatchError(head + R"("if_none_match": "x"}]})").message(), "ops[0]: \"if_none_match\" must be \"*\"");
  EXPECT_EQ(BatchError(head + R"("if_none_match": true}]})").message(), "ops[0]: \"if_none_match\" must be \"*\"");
  EXPECT_EQ(BatchError(head + R"("if_match": 1, "if_none_match": "*"}]})").message(),
            "ops[0]: \"if_match\" and \"if_none_match\" cannot both be given");
  auto nulls = ParseBatchBody("application/json", head + R"("if_match": null, "if_none_match": null}]})", config_);
  ASSERT_TRUE(nulls.ok()) << nulls.status().ToString();
  EXPECT_FALSE((*nulls)[0].if_match.has_value());
  EXPECT_FALSE((*nulls)[0].if_none_match_any);
}

TEST_F(JsonCodecTest, BatchEnvelopeErrors) {
  EXPECT_EQ(BatchError("nope").message(), "body is not valid JSON");
  EXPECT_EQ(BatchError("[]").message(), "body must be a JSON object with \"ops\"");
  EXPECT_EQ(BatchError("{}").message(), "\"ops\" is required and must be an array");
  EXPECT_EQ(BatchError(R"({"ops": {}})").message(), "\"ops\" is required and must be an array");
  EXPECT_EQ(BatchError(R"({"ops": []})").message(), "\"ops\" is empty");
  EXPECT_EQ(BatchError(R"({"ops": [], "atomic": true})").message(), "unknown field \"atomic\"");
  Status media = BatchError(R"({"ops": []})", "text/plain");
  EXPECT_EQ(media.code(), Code::kUnsupported);
  EXPECT_EQ(media.message(), "Content-Type \"text/plain\" is not supported: send application/json");
}

TEST_F(JsonCodecTest, BatchOverTheOperationLimitIsTooLarge) {
  config_.max_batch_ops = 2;
  const std::string op = R"({"op": "delete", "key": "a"})";
  EXPECT_TRUE(ParseBatchBody("application/json", R"({"ops": [)" + op + "," + op + "]}", config_).ok());
  Status s = BatchError(R"({"ops": [)" + op + "," + op + "," + op + "]}");
  EXPECT_EQ(s.code(), Code::kTooLarge);
  EXPECT_EQ(s.message(), "batch has 3 operations, over the limit of 2");
}

TEST_F(JsonCodecTest, BatchKeysHonourTheKeyLimit) {
  config_.max_key_bytes = 3;
  Status s = BatchError(R"({"ops": [{"op": "delete", "key": "abcd"}]})");
  EXPECT_EQ(s.message(), "ops[0]: key is 4 bytes, over the limit of 3");
}

// --- Conditional headers -------------------------------------------------------

TEST(ParseIfMatchTest, AcceptsTheVersionInTheFormsWeHandOut) {
  for (const std::string h : {"3", "\"3\"", "W/\"3\""}) {
    auto v = ParseIfMatch(h);
    ASSERT_TRUE(v.ok()) << h << ": " << v.status().ToString();
    ASSERT_TRUE(v->has_value()) << h;
    EXPECT_EQ((*v)->version, 3) << h;
    EXPECT_EQ((*v)->tag, "") << h;  // a bare version checks the version only
  }
  auto big = ParseIfMatch("\"9223372036854775807\"");
  ASSERT_TRUE(big.ok());
  EXPECT_EQ((*big)->version, INT64_MAX);
  for (const std::string h : {"\"3-0123456789abcdef\"", "W/\"3-0123456789abcdef\""}) {
    auto t = ParseIfMatch(h);
    ASSERT_TRUE(t.ok()) << h << ": " << t.status().ToString();
    EXPECT_EQ((*t)->version, 3);
    EXPECT_EQ((*t)->tag, "3-0123456789abcdef");  // the whole ETag must match
  }
}

TEST(ParseIfMatchTest, RejectsMalformedEntityTags) {
  for (const std::string h : {"\"3-\"", "\"3-0123456789abcde\"", "\"3-0123456789ABCDEF\"", "\"3-0123456789abcdef0\"",
                              "\"3_0123456789abcdef\""}) {
    auto v = ParseIfMatch(h);
    ASSERT_FALSE(v.ok()) << h;
    EXPECT_EQ(v.status().message(), "If-Match \"" + h + "\" is not a version (an ETag such as \"3\")");
  }
}

TEST(EntityTagTest, DiffersAcrossIncarnationsWithOtherContentOrMetadata) {
  Record a;
  a.version = 1;
  a.sha256 = Sha256Hex("one");
  Record b = a;
  b.sha256 = Sha256Hex("two");
  Record c = a;
  c.metadata_json = R"({"tag":"x"})";
  EXPECT_EQ(ETagFor(a), ETagFor(a));
  EXPECT_NE(ETagFor(a), ETagFor(b));
  EXPECT_NE(ETagFor(a), ETagFor(c));
  EXPECT_EQ(ETagFor(a).substr(0, 3), "\"1-");
  EXPECT_EQ(ETagFor(a).size(), 2 + 2 + 16u);
}

TEST(ParseIfMatchTest, EmptyMeansNoCondition) {
  auto v = ParseIfMatch("");
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(v->has_value());
}

TEST(ParseIfMatchTest, StarIsRejected) {
  auto v = ParseIfMatch("*");
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(v.status().message(), "If-Match: * is not supported; give the version (the ETag) you expect");
}

TEST(ParseIfMatchTest, RejectsWhatIsNotAVersion) {
  for (const std::string h : {"0", "-1", "abc", "\"0\"", "\"\"", "\"3", "3\"", "W/", "3 ", " 3", "+3", "3.0",
                              "\"3\", \"4\"", "99999999999999999999"}) {
    auto v = ParseIfMatch(h);
    ASSERT_FALSE(v.ok()) << h;
    EXPECT_EQ(v.status().code(), Code::kInvalidArgument);
    EXPECT_EQ(v.status().message(), "If-Match \"" + h + "\" is not a version (an ETag such as \"3\")");
  }
}

TEST(ParseIfNoneMatchTest, OnlyStar) {
  EXPECT_FALSE(*ParseIfNoneMatch(""));
  EXPECT_TRUE(*ParseIfNoneMatch("*"));
  auto v = ParseIfNoneMatch("\"3\"");
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(v.status().message(), "If-None-Match \"\"3\"\": only * is supported on writes");
}

TEST(ETagTest, IsTheQuotedEntityTagAndParsesBack) {
  Record r;
  r.version = 42;
  r.sha256 = Sha256Hex("x");
  EXPECT_EQ(ETagFor(r), "\"" + EntityTag(42, r.sha256, r.metadata_json) + "\"");
  auto parsed = ParseIfMatch(ETagFor(r));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ((*parsed)->version, 42);
  EXPECT_EQ("\"" + (*parsed)->tag + "\"", ETagFor(r));
}

// --- Cursors and limits ----------------------------------------------------------

TEST(CursorTest, IsLowercaseHexOfTheKey) {
  EXPECT_EQ(EncodeCursor("notes/a"), "6e6f7465732f61");
  EXPECT_EQ(EncodeCursor(""), "");
  EXPECT_EQ(EncodeCursor("é"), "c3a9");
}

TEST(CursorTest, RoundTripsAnyBytes) {
  for (const auto& key : {std::string("notes/a"), std::string("日本語/メモ 📝"), std::string("\x00\x01\xff", 3),
                                std::string(""), std::string(1024, 'k')}) {
    auto back = DecodeCursor(EncodeCursor(key));
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, key);
  }
}

TEST(CursorTest, MalformedCursorsAreRejected) {
  for (const std::string c : {"a", "abc", "zz", "6E", "6e6g", "6e 6f", "--", "%41"}) {
    auto v = DecodeCursor(c);
    ASSERT_FALSE(v.ok()) << c;
    EXPECT_EQ(v.status().code(), Code::kInvalidArgument);
    EXPECT_EQ(v.status().message(), "cursor is malformed");
  }
}

TEST(ParseLimitTest, AcceptsTheRangeInclusive) {
  EXPECT_EQ(*ParseLimit("1", "limit", 1, 1000), 1);
  EXPECT_EQ(*ParseLimit("1000", "limit", 1, 1000), 1000);
  EXPECT_EQ(*ParseLimit("007", "limit", 1, 1000), 7);
}

TEST(ParseLimitTest, RejectsWithTheNameAndRange) {
  for (const std::string t : {"", "0", "1001", "-1", "abc", "10x", " 10", "+5", "1.5", "99999999999999999999"}) {
    auto v = ParseLimit(t, "limit", 1, 1000);
    ASSERT_FALSE(v.ok()) << t;
    EXPECT_EQ(v.status().code(), Code::kInvalidArgument);
    EXPECT_EQ(v.status().message(), "limit must be a whole number from 1 to 1000, got \"" + t + "\"");
  }
}

// --- Rendering -------------------------------------------------------------------

TEST(RecordJsonTest, RendersEveryField) {
  Record r;
  r.key = "notes/a";
  r.content = "hello";
  r.metadata_json = R"({"tag":"x"})";
  r.version = 2;
  r.sha256 = Sha256Hex("hello");
  r.created_at_ms = 1'700'000'000'000;
  r.updated_at_ms = 1'700'000'000'123;
  r.content_bytes = 5;
  json j = RecordJson(r, /*with_content=*/true);
  EXPECT_EQ(j, json::parse(R"({"key": "notes/a", "content": "hello", "metadata": {"tag": "x"}, "version": 2,
      "sha256": "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", "size": 5,
      "created_at": "2023-11-14T22:13:20.000Z", "updated_at": "2023-11-14T22:13:20.123Z"})"));
  EXPECT_FALSE(RecordJson(r, /*with_content=*/false).contains("content"));
}

TEST(RecordJsonTest, UnparsableStoredMetadataRendersAsEmptyObject) {
  Record r;
  r.metadata_json = "{broken";
  EXPECT_EQ(RecordJson(r, false)["metadata"], json::object());
}

TEST(RecordJsonTest, ExtraMembersFollowTheRecordsOwn) {
  Record r;
  r.key = "notes/a";
  r.version = 3;
  const std::string text = RecordJsonText(r, /*with_content=*/false, R"(,"position":"1/42")");
  json j = json::parse(text);  // still one valid object
  EXPECT_EQ(j["position"], "1/42");
  EXPECT_EQ(j["key"], "notes/a");
  EXPECT_EQ(j["version"], 3);
  EXPECT_EQ(j.size(), 8u) << text;  // key, metadata, version, sha256, size, created_at, updated_at, position
}
TEST(OpResultJsonTest, PutAndDelete) {
  OpResult put;
  put.kind = WriteOp::Kind::kPut;
  put.created = true;
  put.record.key = "a";
  put.record.version = 1;
  json p = OpResultJson(put);
  EXPECT_EQ(p["op"], "put");
  EXPECT_EQ(p["created"], true);
  EXPECT_EQ(p["key"], "a");
  EXPECT_FALSE(p.contains("content"));

  OpResult del;
  del.kind = WriteOp::Kind::kDelete;
  del.record.key = "b";
  del.record.version = 4;
  EXPECT_EQ(OpResultJson(del), json::parse(R"({"op": "delete", "key": "b", "deleted_version": 4})"));
}

TEST(SearchHitJsonTest, RendersEveryField) {
  SearchHit h{"k", "a <mark>b</mark>", 1.5, 3, 0};
  EXPECT_EQ(SearchHitJson(h), json::parse(R"({"key": "k", "snippet": "a <mark>b</mark>", "score": 1.5,
      "version": 3, "updated_at": "1970-01-01T00:00:00.000Z"})"));
}

TEST(DumpTest, InvalidUtf8IsReplacedNotThrown) {
  EXPECT_EQ(Dump(json{{"k", std::string("a\xff")}}), "{\"k\":\"a\xEF\xBF\xBD\"}");
}

}  // namespace
}  // namespace walship::http
