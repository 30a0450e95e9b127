#include "node/loop.h"

#include <cstdlib>

#include "base/log.h"

namespace walship {

// One libuv handle (timer or signal) and its callback; owned by the loop.
struct EventLoop::Handle {
  union {
    uv_handle_t handle;
    uv_timer_t timer;
    uv_signal_t signal;
    uv_async_t async;
  };
  std::function<void()> on_timer;
  std::function<void(int)> on_signal;
};

namespace {

struct WorkItem {
  uv_work_t req;
  std::function<void()> work;
  std::function<void()> after_work;
};

void OnTimerFired(uv_timer_t* t) {
  auto* h = static_cast<EventLoop::Handle*>(t->data);
  h->on_timer();
}

void OnSignalReceived(uv_signal_t* s, int signum) {
  auto* h = static_cast<EventLoop::Handle*>(s->data);
  h->on_signal(signum);
}

void OnPostedTasks(uv_async_t* a) {
  auto* h = static_cast<EventLoop::Handle*>(a->data);
  h->on_timer();
}

void RunWorkOnPool(uv_work_t* req) { static_cast<WorkItem*>(req->data)->work(); }

void AfterWorkOnLoop(uv_work_t* req, int) {
  std::unique_ptr<WorkItem> item(static_cast<WorkItem*>(req->data));
  item->after_work();
}

}  // namespace

EventLoop::EventLoop() {
  if (uv_loop_init(&loop_) != 0) {
    LogError("uv_loop_init failed");
    std::abort();  // no loop, no node: nothing sensible to continue with
  }
  auto h = std::make_unique<Handle>();
  uv_async_init(&loop_, &h->async, OnPostedTasks);
  h->async.data = h.get();
  h->on_timer = [this] { RunPosted(); };
  post_handle_ = h.get();
  handles_.push_back(std::move(h));
}

bool EventLoop::Post(std::function<void()> task) {
  std::lock_guard lock(post_mu_);
  if (post_closed_) return false;
  posted_.push_back(std::move(task));
  uv_async_send(&post_handle_->async);
  return true;
}

void EventLoop::RunPosted() {
  std::vector<std::function<void()>> tasks;
  {
    std::lock_guard lock(post_mu_);
    tasks.swap(posted_);
  }
  for (auto& t : tasks) t();
}

EventLoop::~EventLoop() {
  Stop();
  uv_run(&loop_, UV_RUN_DEFAULT);  // let close callbacks run
  uv_loop_close(&loop_);
}

void EventLoop::AddRepeatingTimer(uint64_t interval_ms, std::function<void()> on_tick) {
  auto h = std::make_unique<Handle>();
  uv_timer_init(&loop_, &h->timer);
  h->timer.data = h.get();
  h->on_timer = std::move(on_tick);
  uv_timer_start(&h->timer, OnTimerFired, interval_ms, interval_ms);
  handles_.push_back(std::move(h));
}

void EventLoop::AddOneShotTimer(uint64_t delay_ms, std::function<void()> on_fire) {
  auto h = std::make_unique<Handle>();
  uv_timer_init(&loop_, &h->timer);
  h->timer.data = h.get();
  h->on_timer = std::move(on_fire);
  uv_timer_start(&h->timer, OnTimerFired, delay_ms, 0);
  handles_.push_back(std::move(h));
}

void EventLoop::OnSignal(int signum, std::function<void(int)> on_signal) {
  auto h = std::make_unique<Handle>();
  uv_signal_init(&loop_, &h->signal);
  h->signal.data = h.get();
  h->on_signal = std::move(on_signal);
  uv_signal_start(&h->signal, OnSignalReceived, signum);
  handles_.push_back(std::move(h));
}

void EventLoop::QueueWork(std::function<void()> work, std::function<void()> after_work) {
  auto* item = new WorkItem{{}, std::move(work), std::move(after_work)};
  item->req.data = item;
  if (uv_queue_work(&loop_, &item->req, RunWorkOnPool, AfterWorkOnLoop) != 0) {
    // Only fails on a closing loop; run inline rather than drop the work.
    std::unique_ptr<WorkItem> owned(item);
    owned->work();
    owned->after_work();
  }
}

void EventLoop::Run() { uv_run(&loop_, UV_RUN_DEFAULT); }

void EventLoop::Stop() {
  if (stopping_) return;
  stopping_ = true;
  {
    std::lock_guard lock(post_mu_);
    post_closed_ = true;  // uv_async_send on a closing handle is not allowed
  }
  for (auto& h : handles_) {
    if (!uv_is_closing(&h->handle)) uv_close(&h->handle, nullptr);
  }
}

}  // namespace walship
