#include "base/sha256.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

namespace walship {
namespace {
std::string Hex(const unsigned char* digest, size_t n) {
  static const char kHex[] = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kHex[digest[i] >> 4];
    out[2 * i + 1] = kHex[digest[i] & 0xf];
  }
  return out;
}
}  // namespace

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return Hex(digest, SHA256_DIGEST_LENGTH);
}

struct Sha256Stream::State {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~State() { EVP_MD_CTX_free(ctx); }
};

Sha256Stream::Sha256Stream() : state_(std::make_unique<State>()) {
  EVP_DigestInit_ex(state_->ctx, EVP_sha256(), nullptr);
}
Sha256Stream::~Sha256Stream() = default;

void Sha256Stream::Update(std::string_view data) { EVP_DigestUpdate(state_->ctx, data.data(), data.size()); }

std::array<uint8_t, 32> Sha256Stream::Finish() {
  std::array<uint8_t, 32> digest{};
  unsigned int n = 0;
  EVP_DigestFinal_ex(state_->ctx, digest.data(), &n);
  return digest;
}

std::string Sha256Stream::FinishHex() {
  const std::array<uint8_t, 32> digest = Finish();
  return Hex(digest.data(), digest.size());
}

}  // namespace walship
