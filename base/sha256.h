// SHA-256 (OpenSSL) as lowercase hex.
#pragma once
#include <string>
#include <string_view>

namespace walship {
std::string Sha256Hex(std::string_view data);
}
