// Status and Result<T>: how errors travel in walship, without exceptions.
//
// A Status is a code plus a message. Each layer that passes an error up adds
// its context in front with Wrap(), so the final message reads like a path:
//   "put archive notes/a: commit group of 3 requests: disk I/O error".
// Both types are [[nodiscard]]: a status nobody checks is a bug.
// Only http/error_map.cpp turns codes into HTTP statuses.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace walship {

enum class Code {
  kOk = 0,
  kInvalidArgument,     // the caller sent something malformed
  kNotFound,            // no such thing
  kPreconditionFailed,  // a condition the caller set does not hold (If-Match)
  kConflict,            // the request contradicts the current state
  kTooLarge,            // over a configured limit
  kUnsupported,         // a media type or feature we do not take
  kUnavailable,         // shutting down, read-only, or not ready; try later
  kDeadlineExceeded,    // the caller took too long (a request body that trickles in)
  kIOError,             // a file or fsync failed
  kCorruption,          // bytes on disk are not what they must be
  kInternal,            // a bug or an unexpected library error
};

std::string_view CodeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // ok
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
  static Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
  static Status PreconditionFailed(std::string m) { return {Code::kPreconditionFailed, std::move(m)}; }
  static Status Conflict(std::string m) { return {Code::kConflict, std::move(m)}; }
  static Status TooLarge(std::string m) { return {Code::kTooLarge, std::move(m)}; }
  static Status Unsupported(std::string m) { return {Code::kUnsupported, std::move(m)}; }
  static Status Unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
  static Status DeadlineExceeded(std::string m) { return {Code::kDeadlineExceeded, std::move(m)}; }
  static Status IOError(std::string m) { return {Code::kIOError, std::move(m)}; }
  static Status Corruption(std::string m) { return {Code::kCorruption, std::move(m)}; }
  static Status Internal(std::string m) { return {Code::kInternal, std::move(m)}; }

  // A machine-readable reason more precise than the code ("shutting_down",
  // "not_primary"); it becomes the "code" of an HTTP error body.
  Status WithReason(std::string reason) const {
    Status s = *this;
    s.reason_ = std::move(reason);
    return s;
  }
  const std::string& reason() const { return reason_; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // "context: message"; an ok status stays ok.
  Status Wrap(std::string_view context) const;

  // "io_error: context: message", or "ok".
  std::string ToString() const;

  // Explicitly drops a status; use only where a comment says why it is safe.
  void IgnoreError() const {}

 private:
  Code code_ = Code::kOk;
  std::string message_;
  std::string reason_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT: implicit by design
    assert(!std::get<Status>(v_).ok() && "a Result built from a Status must carry an error");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace walship

// Returns from the enclosing function when `expr` (a Status) is not ok.
#define WALSHIP_RETURN_IF_ERROR(expr)            \
  do {                                           \
    ::walship::Status _walship_s = (expr);       \
    if (!_walship_s.ok()) return _walship_s;     \
  } while (0)
