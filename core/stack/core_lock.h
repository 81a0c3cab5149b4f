// RAII for lwIP's core lock: every touch of lwIP state from our code happens under it.
#pragma once

extern "C" {
#include "lwip/tcpip.h"
}

namespace ntm::stack {

class CoreLock {
 public:
  CoreLock() { LOCK_TCPIP_CORE(); }
  ~CoreLock() { UNLOCK_TCPIP_CORE(); }
  CoreLock(const CoreLock&) = delete;
  CoreLock& operator=(const CoreLock&) = delete;
};

// True when the calling thread holds the core lock (so its sends may be batched until unlock).
bool core_locked_by_this_thread();

}  // namespace ntm::stack
