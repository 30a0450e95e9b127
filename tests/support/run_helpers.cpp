#include "tests/support/run_helpers.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <vector>

namespace walship::testing {

using nlohmann::json;

uint32_t TestSeed() {
  if (const char* s = std::getenv("WALSHIP_TEST_SEED"); s != nullptr && *s != '\0') {
    return static_cast<uint32_t>(std::strtoul(s, nullptr, 10));
  }
  return std::random_device{}();
}

void KeepLog(const std::string& log_path, const std::string& name) {
  const char* dir = std::getenv("WALSHIP_TEST_LOG_DIR");
  if (dir == nullptr || *dir == '\0') return;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  const std::string to = std::string(dir) + "/" + name;
  std::filesystem::copy_file(log_path, to, std::filesystem::copy_options::overwrite_existing, ec);
  std::printf("node log kept in %s%s\n", to.c_str(), ec ? (" (copy failed: " + ec.message() + ")").c_str() : "");
}

std::string Truncated(const std::string& s, size_t n) {
  return s.size() <= n ? s : s.substr(0, n) + "...(" + std::to_string(s.size()) + " bytes)";
}

std::string LogTail(const std::string& log_path, size_t lines) {
  std::ifstream in(log_path);
  std::vector<std::string> kept;
  for (std::string line; std::getline(in, line);) {
    if (line.find(" request id=") == std::string::npos && line.find("\"msg\":\"request\"") == std::string::npos) {
      kept.push_back(line);
    }
  }
  std::string out;
  for (size_t i = kept.size() > lines ? kept.size() - lines : 0; i < kept.size(); ++i) out += kept[i] + "\n";
  return out;
}

json ParseBody(const std::string& body) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  return j.is_object() ? j : json::object();
}

std::optional<int64_t> ParsePosition(const json& j) {
  if (!j.is_string()) return std::nullopt;
  const std::string p = j.get<std::string>();
  const size_t slash = p.find('/');
  if (slash == std::string::npos || p.substr(0, slash) != "1") return std::nullopt;
  try {
    size_t used = 0;
    int64_t txid = std::stoll(p.substr(slash + 1), &used);
    if (used != p.size() - slash - 1) return std::nullopt;
    return txid;
  } catch (...) {
    return std::nullopt;
  }
}

}  // namespace walship::testing
