// The clock seam: code that needs "now" takes a Clock&, so tests control time.
#pragma once
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace walship {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time, milliseconds since the Unix epoch (timestamps on records).
  virtual int64_t NowUnixMillis() const = 0;
  // Monotonic time in nanoseconds (durations, latencies).
  virtual int64_t MonotonicNanos() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t NowUnixMillis() const override;
  int64_t MonotonicNanos() const override;
  static SystemClock& Instance();
};

// A clock that moves only when told to. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t unix_millis = 1'700'000'000'000) : millis_(unix_millis) {}
  int64_t NowUnixMillis() const override { return millis_.load(); }
  int64_t MonotonicNanos() const override { return millis_.load() * 1'000'000; }
  void AdvanceMillis(int64_t ms) { millis_ += ms; }

 private:
  std::atomic<int64_t> millis_;
};

// "2026-11-21T12:07:05.123Z"
std::string FormatRfc3339Millis(int64_t unix_millis);
// "2026-11-27T04:31:32.120Z", or with an offset ("+01:00"), to milliseconds
// since the epoch; nullopt for anything else.
std::optional<int64_t> ParseRfc3339Millis(std::string_view text);
// "20261121T120705Z": a name for things made at that second (backups, restores).
std::string CompactUtcSeconds(int64_t unix_millis);

}  // namespace walship
