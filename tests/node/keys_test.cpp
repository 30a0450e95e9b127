#include "node/keys.h"

#include <gtest/gtest.h>

#include <string>

namespace walship {
namespace {

constexpr size_t kMax = 1024;

std::string KeyError(const std::string& key, size_t max = kMax) {
  Status s = ValidateKey(key, max);
  EXPECT_FALSE(s.ok()) << "key accepted: " << key;
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  return s.message();
}

TEST(ValidateKeyTest, EmptyKey) { EXPECT_EQ(KeyError(""), "key is empty"); }

TEST(ValidateKeyTest, LengthIsCountedInBytes) {
  EXPECT_TRUE(ValidateKey(std::string(kMax, 'a'), kMax).ok());
  EXPECT_EQ(KeyError(std::string(kMax + 1, 'a')), "key is 1025 bytes, over the limit of 1024");
  // 512 two-byte characters are exactly 1024 bytes; one more is over.
  std::string e_acute;
  for (int i = 0; i < 512; ++i) e_acute += "é";
  EXPECT_TRUE(ValidateKey(e_acute, kMax).ok());
  EXPECT_EQ(KeyError(e_acute + "é"), "key is 1026 bytes, over the limit of 1024");
  EXPECT_EQ(KeyError("abc", 2), "key is 3 bytes, over the limit of 2");
}

TEST(ValidateKeyTest, AsciiControlCharacters) {
  EXPECT_EQ(KeyError(std::string("a\0b", 3)), "key has a control character at byte 1");
  EXPECT_EQ(KeyError("a\x01"), "key has a control character at byte 1");
  EXPECT_EQ(KeyError("ab\tc"), "key has a control character at byte 2");
  EXPECT_EQ(KeyError("\n"), "key has a control character at byte 0");
  EXPECT_EQ(KeyError("x\x1f"), "key has a control character at byte 1");
  EXPECT_EQ(KeyError("abc\x7f"), "key has a control character at byte 3");  // DEL
}

TEST(ValidateKeyTest, C1ControlCharacters) {
  EXPECT_EQ(KeyError("a\xC2\x80"), "key has a control character at byte 1");      // U+0080
  EXPECT_EQ(KeyError("ab\xC2\x85z"), "key has a control character at byte 2");    // U+0085 NEL
  EXPECT_EQ(KeyError("é\xC2\x9F"), "key has a control character at byte 2");     // U+009F
  EXPECT_TRUE(ValidateKey("\xC2\xA0", kMax).ok());                               // U+00A0 is not a control
}

TEST(ValidateKeyTest, InvalidUtf8) {
  EXPECT_EQ(KeyError("a\xff"), "key is not valid UTF-8 (byte 1)");
  EXPECT_EQ(KeyError("\x80"), "key is not valid UTF-8 (byte 0)");          // lone continuation byte
  EXPECT_EQ(KeyError("ab\xE2\x82"), "key is not valid UTF-8 (byte 2)");    // truncated sequence
  EXPECT_EQ(KeyError("\xE2\x28\xA1"), "key is not valid UTF-8 (byte 0)");  // bad continuation
  EXPECT_EQ(KeyError("\xF8\x88\x80\x80\x80"), "key is not valid UTF-8 (byte 0)");  // 5-byte form
}

TEST(ValidateKeyTest, OverlongEncodingsAreInvalid) {
  EXPECT_EQ(KeyError("\xC0\xAF"), "key is not valid UTF-8 (byte 0)");              // '/' in 2 bytes
  EXPECT_EQ(KeyError("\xC1\xBF"), "key is not valid UTF-8 (byte 0)");
  EXPECT_EQ(KeyError("a\xE0\x80\xAF"), "key is not valid UTF-8 (byte 1)");         // '/' in 3 bytes
  EXPECT_EQ(KeyError("\xF0\x80\x80\xAF"), "key is not valid UTF-8 (byte 0)");      // '/' in 4 bytes
  EXPECT_EQ(KeyError("\xC0\x80"), "key is not valid UTF-8 (byte 0)");              // "modified UTF-8" NUL
}

TEST(ValidateKeyTest, SurrogatesAndBeyondU10FFFFAreInvalid) {
  EXPECT_EQ(KeyError("\xED\xA0\x80"), "key is not valid UTF-8 (byte 0)");        // U+D800
  EXPECT_EQ(KeyError("x\xED\xBF\xBF"), "key is not valid UTF-8 (byte 1)");       // U+DFFF
  EXPECT_EQ(KeyError("\xF4\x90\x80\x80"), "key is not valid UTF-8 (byte 0)");    // U+110000
  EXPECT_EQ(KeyError("\xF5\x80\x80\x80"), "key is not valid UTF-8 (byte 0)");
  EXPECT_TRUE(ValidateKey("\xED\x9F\xBF", kMax).ok());                          // U+D7FF
  EXPECT_TRUE(ValidateKey("\xEE\x80\x80", kMax).ok());                          // U+E000
  EXPECT_TRUE(ValidateKey("\xF4\x8F\xBF\xBF", kMax).ok());                      // U+10FFFF
}

TEST(ValidateKeyTest, EmptySegments) {
  const std::string msg = "key has an empty segment (a leading, trailing or doubled '/')";
  EXPECT_EQ(KeyError("/"), msg);
  EXPECT_EQ(KeyError("/notes/a"), msg);
  EXPECT_EQ(KeyError("notes/a/"), msg);
  EXPECT_EQ(KeyError("notes//a"), msg);
  EXPECT_EQ(KeyError("a///b"), msg);
}

TEST(ValidateKeyTest, EncodingIsCheckedBeforeSlashes) {
  EXPECT_EQ(KeyError("/\xff"), "key is not valid UTF-8 (byte 1)");
  EXPECT_EQ(KeyError("/\x01"), "key has a control character at byte 1");
}

TEST(ValidateKeyTest, ValidKeys) {
  for (const std::string key : {"a", "notes/a", "notes/2024/été", "日本語/メモ", "📝/ideas", "with space",
                                "dots/../and/./more", "emoji 🙂 key", "a-b_c.d~e:f@g", "\xEF\xBF\xBE"}) {
    Status s = ValidateKey(key, kMax);
    EXPECT_TRUE(s.ok()) << key << ": " << s.ToString();
  }
}

TEST(IsValidUtf8Test, AcceptsAndRejects) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii\n\t"));  // controls are valid UTF-8
  EXPECT_TRUE(IsValidUtf8("été 日本 📝"));
  EXPECT_TRUE(IsValidUtf8(std::string("\0", 1)));
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));
  EXPECT_FALSE(IsValidUtf8("ok\xF0\x9F\x93"));  // truncated emoji at the end
  EXPECT_FALSE(IsValidUtf8("\xFE"));
  EXPECT_FALSE(IsValidUtf8("\xFF"));
}

}  // namespace
}  // namespace walship
