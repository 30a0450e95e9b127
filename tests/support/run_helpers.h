// Helpers shared by the long integration runs (concurrency, crash): the
// seed, the node's log, and reading JSON answers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace walship::testing {

// WALSHIP_TEST_SEED=<n> if set, else a random seed.
uint32_t TestSeed();

// WALSHIP_TEST_LOG_DIR=<dir> keeps a copy of the node's log there (for a
// failed run: the temporary folder, log included, is removed at the end).
void KeepLog(const std::string& log_path, const std::string& name);

// At most n characters of s, with the full size noted when cut.
std::string Truncated(const std::string& s, size_t n = 300);

// The node's last log lines, without the access log (one line per request).
std::string LogTail(const std::string& log_path, size_t lines = 30);

// A JSON object, or an empty object if the body is not one (checks then fail
// on the missing fields instead of throwing).
nlohmann::json ParseBody(const std::string& body);

// "timeline/txid" -> txid (nullopt if malformed or the timeline is not 1).
std::optional<int64_t> ParsePosition(const nlohmann::json& j);

}  // namespace walship::testing
