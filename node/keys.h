// Archive keys: the rules every key must meet before it reaches the store.
#pragma once

#include <string_view>

#include "base/status.h"

namespace walship {

// Valid UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF).
bool IsValidUtf8(std::string_view s);

// A key is 1..max_bytes bytes of valid UTF-8 without control characters
// (U+0000-U+001F, U+007F-U+009F), made of '/'-separated segments none of
// which is empty (no leading, trailing or doubled '/').
Status ValidateKey(std::string_view key, size_t max_bytes);

}  // namespace walship
