// Node: runs the libuv loop that owns the node's life: the checkpoint timer,
// SIGTERM/SIGINT handling and the graceful drain.
//
// Drain on the first SIGTERM/SIGINT: the frontend stops taking new requests
// (503), in-flight requests finish, the store commits what is queued,
// checkpoints and closes; Run() then returns 0. A second signal, or a drain
// that outlasts server.drain_timeout_ms, exits the process at once.
#pragma once

#include <functional>

#include "node/backup_manager.h"
#include "node/config.h"
#include "node/loop.h"
#include "node/store.h"

namespace walship {

// What the node needs from the HTTP server (http depends on node, not back).
class Frontend {
 public:
  virtual ~Frontend() = default;
  // From now on, answer new requests with 503; returns at once.
  virtual void BeginDrain() = 0;
  // Stops listening and waits for in-flight requests. Blocking.
  virtual void StopAndWait() = 0;
};

class Node {
 public:
  Node(const Config& config, Store& store, Frontend& frontend)
      : config_(config), store_(store), frontend_(frontend) {}

  // Before Run: backups run on this node's loop (schedule, jobs).
  void SetBackups(BackupManager* backups) { backups_ = backups; }

  // Installs the timer and signal handlers, calls on_ready (so "listening"
  // is never logged before SIGTERM would drain), then runs until drained.
  // Returns the process exit code.
  int Run(const std::function<void()>& on_ready);

 private:
  void OnShutdownSignal(int signum);

  const Config& config_;
  Store& store_;
  Frontend& frontend_;
  EventLoop loop_;
  bool draining_ = false;  // loop thread only
  BackupManager* backups_ = nullptr;
};

}  // namespace walship
