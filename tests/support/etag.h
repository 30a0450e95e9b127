// Reading the ETags walship hands out: "\"<version>-<16 hex>\"".
#pragma once

#include <cstdint>
#include <string>

namespace walship::testing {

// The version an ETag names, or -1 if it is not of walship's form.
inline int64_t EtagVersion(const std::string& etag) {
  if (etag.size() < 4 || etag.front() != '"' || etag.back() != '"') return -1;
  size_t dash = etag.find('-');
  if (dash == std::string::npos || etag.size() - dash - 2 != 16) return -1;
  try {
    return std::stoll(etag.substr(1, dash - 1));
  } catch (...) {
    return -1;
  }
}

}  // namespace walship::testing
