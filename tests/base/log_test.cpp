#include "base/log.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace walship {
namespace {

using nlohmann::json;

json ParseJsonBody(const std::string& body) {
  // The JSON pattern wraps the body as {"ts":...,"level":...,BODY}.
  return json::parse("{" + body + "}");
}

TEST(RenderLogBodyTextTest, PlainValuesAreBare) {
  EXPECT_EQ(RenderLogBody(LogFormat::kText, "store open", {{"database", "/data/index.db"}, {"position", "1/42"}}),
            "store open database=/data/index.db position=1/42");
}

TEST(RenderLogBodyTextTest, NoFields) { EXPECT_EQ(RenderLogBody(LogFormat::kText, "hello", {}), "hello"); }

TEST(RenderLogBodyTextTest, NumbersRenderAsDecimal) {
  EXPECT_EQ(RenderLogBody(LogFormat::kText, "m", {{"n", 42}, {"neg", -7}, {"big", int64_t{1} << 40}}),
            "m n=42 neg=-7 big=1099511627776");
}

TEST(RenderLogBodyTextTest, ValuesThatWouldBeAmbiguousAreQuoted) {
  EXPECT_EQ(RenderLogBody(LogFormat::kText, "m", {{"empty", ""}}), R"(m empty="")");
  EXPECT_EQ(RenderLogBody(LogFormat::kText, "m", {{"space", "a b"}}), R"(m space="a b")");
  EXPECT_EQ(RenderLogBody(LogFormat::kText, "m", {{"eq", "k=v"}}), R"(m eq="k=v")");
  EXPECT_EQ(RenderLogBody(LogFormat::kText, "m", {{"quote", "say \"hi\""}}), R"(m quote="say \"hi\"")");
  EXPECT_EQ(RenderLogBody(LogFormat::kText, "m", {{"nl", "line1\nline2"}}), R"(m nl="line1\nline2")");
  EXPECT_EQ(RenderLogBody(LogFormat::kText, "m", {{"ctl", std::string("a\x01z")}}), R"(m ctl="a\u0001z")");
  EXPECT_EQ(RenderLogBody(LogFormat::kText, "m", {{"tab", "a\tb"}}), R"(m tab="a\tb")");
}

TEST(RenderLogBodyTextTest, QuotedValueWithBackslashIsEscaped) {
  EXPECT_EQ(RenderLogBody(LogFormat::kText, "m", {{"p", "C:\\dir name"}}), R"(m p="C:\\dir name")");
}

TEST(RenderLogBodyTextTest, UnquotedValuesKeepBackslashesAndUtf8) {
  EXPECT_EQ(RenderLogBody(LogFormat::kText, "m", {{"p", "C:\\dir"}, {"k", "notes/été"}}),
            "m p=C:\\dir k=notes/été");
}

TEST(RenderLogBodyJsonTest, ParsesAsJsonWithEveryField) {
  std::string body =
      RenderLogBody(LogFormat::kJson, "store open", {{"database", "/data/index.db"}, {"txid", 42}});
  EXPECT_EQ(body, R"("msg":"store open","database":"/data/index.db","txid":"42")");
  json j = ParseJsonBody(body);
  EXPECT_EQ(j["msg"], "store open");
  EXPECT_EQ(j["database"], "/data/index.db");
  EXPECT_EQ(j["txid"], "42");
}

TEST(RenderLogBodyJsonTest, EscapesQuotesBackslashesAndControlCharacters) {
  const std::string nasty = std::string("q\"uote back\\slash\nnl\ttab\x01\x1f end");
  std::string body = RenderLogBody(LogFormat::kJson, "msg with \"quotes\"", {{"v", nasty}, {"k\"ey", "x"}});
  EXPECT_EQ(body,
            R"("msg":"msg with \"quotes\"","v":"q\"uote back\\slash\nnl\ttab\u0001\u001f end","k\"ey":"x")");
  json j = ParseJsonBody(body);
  EXPECT_EQ(j["msg"], "msg with \"quotes\"");
  EXPECT_EQ(j["v"], nasty);
  EXPECT_EQ(j["k\"ey"], "x");
}

TEST(RenderLogBodyJsonTest, KeepsUtf8AndReplacesInvalidBytes) {
  std::string body = RenderLogBody(LogFormat::kJson, "m", {{"ok", "été 日本"}, {"bad", std::string("a\xff" "b")}});
  json j = ParseJsonBody(body);  // must not throw: invalid UTF-8 never breaks the line
  EXPECT_EQ(j["ok"], "été 日本");
  EXPECT_EQ(j["bad"], "a\xEF\xBF\xBD" "b");  // U+FFFD
}

TEST(RenderLogBodyJsonTest, EmptyValue) {
  std::string body = RenderLogBody(LogFormat::kJson, "", {{"e", ""}});
  EXPECT_EQ(body, R"("msg":"","e":"")");
  EXPECT_EQ(ParseJsonBody(body)["e"], "");
}

TEST(ConfigureLoggingTest, RejectsUnknownLevel) {
  Status s = ConfigureLogging("loud", LogFormat::kText);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_EQ(s.message(), "unknown log level \"loud\" (want trace, debug, info, warn, error, critical or off)");
}

}  // namespace
}  // namespace walship
