#include "node/node.h"

#include <csignal>
#include <unistd.h>

#include "base/log.h"

namespace walship {

int Node::Run(const std::function<void()>& on_ready) {
  loop_.AddRepeatingTimer(static_cast<uint64_t>(config_.checkpoint_interval_ms),
                          [this] { store_.RequestTimerCheckpoint(); });
  // The writer collects new commits after a commit, at most every collect
  // interval; when writes pause, the last ones would wait for the next
  // checkpoint (a second) to be sealed and shipped. This tick collects them.
  if (config_.segments_collect_interval_ms > 0) {
    loop_.AddRepeatingTimer(static_cast<uint64_t>(config_.segments_collect_interval_ms),
                            [this] { store_.RequestCollect(); });
  }
  if (backups_ != nullptr) backups_->Attach(loop_);
  loop_.OnSignal(SIGTERM, [this](int s) { OnShutdownSignal(s); });
  loop_.OnSignal(SIGINT, [this](int s) { OnShutdownSignal(s); });
  on_ready();
  loop_.Run();
  return 0;
}

void Node::OnShutdownSignal(int signum) {
  if (draining_) {
    LogWarn("second signal during drain: exiting at once", {{"signal", signum}});
    _exit(1);
  }
  draining_ = true;
  LogInfo("draining: no new requests; finishing in-flight ones", {{"signal", signum}});
  frontend_.BeginDrain();
  store_.CancelRestore();  // a running online restore stops before its swap
  if (backups_ != nullptr) backups_->BeginShutdown();
  loop_.AddOneShotTimer(static_cast<uint64_t>(config_.drain_timeout_ms), [this] {
    LogError("drain timed out: exiting at once", {{"drain_timeout_ms", config_.drain_timeout_ms}});
    _exit(1);
  });
  loop_.QueueWork(
      [this] {
        frontend_.StopAndWait();
        store_.Close();
      },
      [this] {
        LogInfo("drained: clean shutdown", {{"position", store_.position().ToString()}});
        loop_.Stop();
      });
}

}  // namespace walship
