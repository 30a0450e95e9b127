// Names the calling thread, so `top -H`, `ps -L` and /proc/PID/task show
// which of the node's threads uses the CPU (the writer, the sealer...).
// Linux keeps at most 15 characters; longer names are cut.
#pragma once

#include <pthread.h>

#include <string>

namespace walship {

inline void NameThisThread(const std::string& name) {
  // Best effort: a thread without a name works the same.
  (void)pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
}

}  // namespace walship
