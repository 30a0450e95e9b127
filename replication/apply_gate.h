// The gate between a standby's readers and its applier: many readers at
// once, or one applier alone. The applier writes pages straight into the
// file the readers' SQLite connections read, so no read may overlap an
// apply, and connections opened before an apply must not serve after it
// (they keep stale pages; see the brief): every apply bumps the
// generation, and a reader whose connection is older reopens it.
//
// Lock order: a reader inside the gate must take no lock an applier may
// hold while it waits here (StandbyReplica::mu_ among them).
//
// Applier-preferring: once an applier waits, new readers wait behind it,
// so a steady stream of reads cannot starve the standby (glibc's
// std::shared_mutex prefers readers).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace walship {

class ApplyGate {
 public:
  class ReadHold {
   public:
    explicit ReadHold(ApplyGate* gate) : gate_(gate) {}
    ReadHold(ReadHold&& o) noexcept : gate_(o.gate_) { o.gate_ = nullptr; }
    ReadHold& operator=(ReadHold&&) = delete;
    ~ReadHold() {
      if (gate_ != nullptr) gate_->EndRead();
    }

   private:
    ApplyGate* gate_;
  };

  // Blocks while an applier holds or waits for the gate. The generation
  // read under the hold is the one the reader's connection must have.
  ReadHold BeginRead() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !applying_ && appliers_waiting_ == 0; });
    ++readers_;
    return ReadHold(this);
  }

  // Runs `apply` with no reader inside, then bumps the generation (even when
  // `apply` failed: it may have written part of the pages).
  template <typename F>
  auto Apply(F&& apply) {
    {
      std::unique_lock lock(mu_);
      ++appliers_waiting_;
      cv_.wait(lock, [&] { return !applying_ && readers_ == 0; });
      --appliers_waiting_;
      applying_ = true;
    }
    struct Release {
      ApplyGate* gate;
      ~Release() {
        std::lock_guard lock(gate->mu_);
        gate->applying_ = false;
        ++gate->generation_;
        gate->cv_.notify_all();
      }
    } release{this};
    return apply();
  }

  uint64_t generation() const {
    std::lock_guard lock(mu_);
    return generation_;
  }

 private:
  void EndRead() {
    std::lock_guard lock(mu_);
    if (--readers_ == 0) cv_.notify_all();
  }

  mutable std::mutex mu_;  // guards everything below
  std::condition_variable cv_;
  int readers_ = 0;
  int appliers_waiting_ = 0;
  bool applying_ = false;
  uint64_t generation_ = 0;
};

}  // namespace walship
