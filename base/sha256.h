// SHA-256 (OpenSSL) as lowercase hex.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace walship {
std::string Sha256Hex(std::string_view data);

// The same, fed in pieces (streaming a file through).
class Sha256Stream {
 public:
  Sha256Stream();
  ~Sha256Stream();
  Sha256Stream(const Sha256Stream&) = delete;
  Sha256Stream& operator=(const Sha256Stream&) = delete;
  void Update(std::string_view data);
  // Lowercase hex of everything fed so far; call once.
  std::string FinishHex();
  // The 32 digest bytes of everything fed so far; call once (instead of
  // FinishHex).
  std::array<uint8_t, 32> Finish();

 private:
  struct State;
  std::unique_ptr<State> state_;
};
}  // namespace walship
