// EventLoop: the libuv loop that owns the node's timers, signals and the
// hand-off of blocking work to libuv's thread pool.
//
// Thread contract: every method except Wake-style calls must be used on the
// loop thread (the thread that calls Run()) or before Run() starts. Callbacks
// run on the loop thread; `work` passed to QueueWork runs on the pool.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace walship {

class EventLoop {
 public:
  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Calls on_tick every interval_ms, first after interval_ms.
  void AddRepeatingTimer(uint64_t interval_ms, std::function<void()> on_tick);
  // Calls on_fire once after delay_ms.
  void AddOneShotTimer(uint64_t delay_ms, std::function<void()> on_fire);
  // Calls on_signal(signum) each time the process receives signum.
  void OnSignal(int signum, std::function<void(int)> on_signal);
  // Runs `work` on the libuv pool; then `after_work` on the loop thread.
  void QueueWork(std::function<void()> work, std::function<void()> after_work);

  // Any thread: runs `task` on the loop thread soon. False (and `task` is
  // dropped) once the loop is stopping.
  bool Post(std::function<void()> task);

  // Runs until Stop(); returns when every handle is closed.
  void Run();
  // Closes every handle, so Run() returns once pending work is done.
  void Stop();

  struct Handle;  // a timer or signal handle and its callback (defined in loop.cpp)

 private:
  uv_loop_t loop_;
  std::vector<std::unique_ptr<Handle>> handles_;
  bool stopping_ = false;
  Handle* post_handle_ = nullptr;  // the uv_async_t that wakes the loop for posted tasks
  std::mutex post_mu_;             // guards posted_, post_closed_
  std::vector<std::function<void()>> posted_;
  bool post_closed_ = false;
  void RunPosted();
};

}  // namespace walship
