// A thread-safe count of failures seen by many client threads, keeping the
// first few messages for the report.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace walship::testing {

class FailureLog {
 public:
  explicit FailureLog(size_t max_reported = 40) : max_reported_(max_reported) {}
  void Add(const std::string& what) {
    count_.fetch_add(1);
    std::lock_guard lock(mu_);
    if (messages_.size() < max_reported_) messages_.push_back(what);
  }
  int64_t count() const { return count_.load(); }
  std::string Report() const {
    std::lock_guard lock(mu_);
    std::string out;
    for (const auto& m : messages_) out += "  " + m + "\n";
    if (count_.load() > static_cast<int64_t>(messages_.size())) {
      out += "  ... and " + std::to_string(count_.load() - static_cast<int64_t>(messages_.size())) + " more\n";
    }
    return out;
  }

 private:
  const size_t max_reported_;
  mutable std::mutex mu_;
  std::vector<std::string> messages_;
  std::atomic<int64_t> count_{0};
};

}  // namespace walship::testing
