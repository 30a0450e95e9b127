#include "node/keys.h"

#include <string>

namespace walship {

namespace {

// Decodes one code point at s[i]; returns its length, or 0 if invalid.
size_t DecodeUtf8(std::string_view s, size_t i, uint32_t* cp) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  unsigned char c = b(0);
  size_t len;
  uint32_t v;
  if (c < 0x80) {
    *cp = c;
    return 1;
  } else if ((c & 0xE0) == 0xC0) {
    len = 2;
    v = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3;
    v = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4;
    v = c & 0x07;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    if ((b(k) & 0xC0) != 0x80) return 0;
    v = (v << 6) | (b(k) & 0x3F);
  }
  static const uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (v < kMin[len] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
  *cp = v;
  return len;
}

}  // namespace

bool IsValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    uint32_t cp;
    size_t n = DecodeUtf8(s, i, &cp);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

Status ValidateKey(std::string_view key, size_t max_bytes) {
  if (key.empty()) return Status::InvalidArgument("key is empty");
  if (key.size() > max_bytes) {
    return Status::InvalidArgument("key is " + std::to_string(key.size()) + " bytes, over the limit of " +
                                   std::to_string(max_bytes));
  }
  for (size_t i = 0; i < key.size();) {
    uint32_t cp;
    size_t n = DecodeUtf8(key, i, &cp);
    if (n == 0) return Status::InvalidArgument("key is not valid UTF-8 (byte " + std::to_string(i) + ")");
    if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) {
      return Status::InvalidArgument("key has a control character at byte " + std::to_string(i));
    }
    i += n;
  }
  if (key.front() == '/' || key.back() == '/' || key.find("//") != std::string_view::npos) {
    return Status::InvalidArgument("key has an empty segment (a leading, trailing or doubled '/')");
  }
  return Status::Ok();
}

}  // namespace walship
