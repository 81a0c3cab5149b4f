// lwIP's operating-system port for ntmobile, on C++ threads: semaphores, mutexes, mailboxes,
// threads, time and the critical section. Application threads are not lwIP threads, so each
// gets its own netconn semaphore on first use (LWIP_NETCONN_SEM_PER_THREAD).
#include <execinfo.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

extern "C" {
#include "lwip/sys.h"
#include "lwip/tcpip.h"
}

#include "stack/lwip_port.h"

struct ntm_sys_sem {
  std::mutex mutex;
  std::condition_variable cond;
  unsigned count = 0;
};

struct ntm_sys_mutex {
  std::mutex mutex;
  std::atomic<std::thread::id> owner{};
};

// A bounded ring of pointers. lwIP sizes mailboxes (lwipopts.h); posting to a full mailbox
// blocks, trypost fails. The ring starts small and doubles up to that size as messages queue
// up (a TCP socket's mailbox may hold 16k segments, but an idle one should cost ~100 bytes, not
// 128 KiB: 10k idle connections), and goes back to small once drained.
struct ntm_sys_mbox {
  std::mutex mutex;
  std::condition_variable not_empty;
  std::condition_variable not_full;
  std::vector<void *> ring;
  size_t capacity = 0;
  size_t head = 0;
  size_t count = 0;
};

namespace {

using Clock = std::chrono::steady_clock;
const Clock::time_point g_start = Clock::now();
std::recursive_mutex g_protect;
std::atomic<void (*)()> g_core_unlock_hook{nullptr};
constexpr size_t kMboxInitialSlots = 8;
constexpr size_t kMboxShrinkAbove = 256;

}  // namespace

extern "C" {

void sys_init(void) {}

u32_t sys_now(void) {
  return static_cast<u32_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - g_start).count());
}

sys_prot_t sys_arch_protect(void) {
  g_protect.lock();
  return 0;
}

void sys_arch_unprotect(sys_prot_t) { g_protect.unlock(); }

// --- semaphores ---
err_t sys_sem_new(sys_sem_t *sem, u8_t count) {
  auto *s = new (std::nothrow) ntm_sys_sem;
  if (s == nullptr) return ERR_MEM;
  s->count = count;
  *sem = s;
  return ERR_OK;
}

void sys_sem_signal(sys_sem_t *sem) {
  ntm_sys_sem *s = *sem;
  {
    std::lock_guard lock(s->mutex);
    ++s->count;
  }
  s->cond.notify_one();
}

u32_t sys_arch_sem_wait(sys_sem_t *sem, u32_t timeout_ms) {
  ntm_sys_sem *s = *sem;
  const auto begin = Clock::now();
  std::unique_lock lock(s->mutex);
  if (timeout_ms == 0) {
    s->cond.wait(lock, [s] { return s->count > 0; });
  } else if (!s->cond.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                               [s] { return s->count > 0; })) {
    return SYS_ARCH_TIMEOUT;
  }
  --s->count;
  auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - begin);
  return static_cast<u32_t>(waited.count());
}

void sys_sem_free(sys_sem_t *sem) {
  delete *sem;
  *sem = nullptr;
}

int sys_sem_valid(sys_sem_t *sem) { return sem != nullptr && *sem != nullptr; }
void sys_sem_set_invalid(sys_sem_t *sem) { *sem = nullptr; }

// --- mutexes ---
err_t sys_mutex_new(sys_mutex_t *mutex) {
  auto *m = new (std::nothrow) ntm_sys_mutex;
  if (m == nullptr) return ERR_MEM;
  *mutex = m;
  return ERR_OK;
}

void sys_mutex_lock(sys_mutex_t *mutex) {
  ntm_sys_mutex *m = *mutex;
  m->mutex.lock();
  m->owner.store(std::this_thread::get_id(), std::memory_order_relaxed);
}

void sys_mutex_unlock(sys_mutex_t *mutex) {
  ntm_sys_mutex *m = *mutex;
  if (mutex == &lock_tcpip_core) {
    // Work queued while the stack was locked (the batched sends) goes out before unlocking.
    if (auto hook = g_core_unlock_hook.load(std::memory_order_acquire)) hook();
  }
  m->owner.store(std::thread::id(), std::memory_order_relaxed);
  m->mutex.unlock();
}

void sys_mutex_free(sys_mutex_t *mutex) {
  delete *mutex;
  *mutex = nullptr;
}

int sys_mutex_valid(sys_mutex_t *mutex) { return mutex != nullptr && *mutex != nullptr; }
void sys_mutex_set_invalid(sys_mutex_t *mutex) { *mutex = nullptr; }

// --- mailboxes ---
err_t sys_mbox_new(sys_mbox_t *mbox, int size) {
  auto *b = new (std::nothrow) ntm_sys_mbox;
  if (b == nullptr) return ERR_MEM;
  b->capacity = size > 0 ? static_cast<size_t>(size) : 128;
  b->ring.resize(std::min<size_t>(b->capacity, kMboxInitialSlots));
  *mbox = b;
  return ERR_OK;
}

static void mbox_push(ntm_sys_mbox *b, void *msg) {
  if (b->count == b->ring.size()) {  // callers checked count < capacity: grow
    std::vector<void *> bigger(std::min(b->capacity, 2 * b->ring.size()));
    for (size_t i = 0; i < b->count; ++i) bigger[i] = b->ring[(b->head + i) % b->ring.size()];
    b->ring.swap(bigger);
    b->head = 0;
  }
  b->ring[(b->head + b->count) % b->ring.size()] = msg;
  ++b->count;
}

void sys_mbox_post(sys_mbox_t *mbox, void *msg) {
  ntm_sys_mbox *b = *mbox;
  {
    std::unique_lock lock(b->mutex);
    b->not_full.wait(lock, [b] { return b->count < b->capacity; });
    mbox_push(b, msg);
  }
  b->not_empty.notify_one();
}

err_t sys_mbox_trypost(sys_mbox_t *mbox, void *msg) {
  ntm_sys_mbox *b = *mbox;
  {
    std::lock_guard lock(b->mutex);
    if (b->count >= b->capacity) return ERR_MEM;
    mbox_push(b, msg);
  }
  b->not_empty.notify_one();
  return ERR_OK;
}

err_t sys_mbox_trypost_fromisr(sys_mbox_t *mbox, void *msg) { return sys_mbox_trypost(mbox, msg); }

static void *mbox_pop(ntm_sys_mbox *b) {
  void *msg = b->ring[b->head];
  b->head = (b->head + 1) % b->ring.size();
  --b->count;
  if (b->count == 0 && b->ring.size() > kMboxShrinkAbove) {
    std::vector<void *>(kMboxInitialSlots).swap(b->ring);
    b->head = 0;
  }
  return msg;
}

u32_t sys_arch_mbox_fetch(sys_mbox_t *mbox, void **msg, u32_t timeout_ms) {
  ntm_sys_mbox *b = *mbox;
  const auto begin = Clock::now();
  void *got = nullptr;
  {
    std::unique_lock lock(b->mutex);
    if (timeout_ms == 0) {
      b->not_empty.wait(lock, [b] { return b->count > 0; });
    } else if (!b->not_empty.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                                      [b] { return b->count > 0; })) {
      return SYS_ARCH_TIMEOUT;
    }
    got = mbox_pop(b);
  }
  b->not_full.notify_one();
  if (msg != nullptr) *msg = got;
  auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - begin);
  return static_cast<u32_t>(waited.count());
}

u32_t sys_arch_mbox_tryfetch(sys_mbox_t *mbox, void **msg) {
  ntm_sys_mbox *b = *mbox;
  void *got = nullptr;
  {
    std::lock_guard lock(b->mutex);
    if (b->count == 0) return SYS_MBOX_EMPTY;
    got = mbox_pop(b);
  }
  b->not_full.notify_one();
  if (msg != nullptr) *msg = got;
  return 0;
}

void sys_mbox_free(sys_mbox_t *mbox) {
  delete *mbox;
  *mbox = nullptr;
}

int sys_mbox_valid(sys_mbox_t *mbox) { return mbox != nullptr && *mbox != nullptr; }
void sys_mbox_set_invalid(sys_mbox_t *mbox) { *mbox = nullptr; }

// --- threads ---
sys_thread_t sys_thread_new(const char *, lwip_thread_fn function, void *arg, int, int) {
  std::thread thread([function, arg] { function(arg); });
  auto handle = static_cast<sys_thread_t>(thread.native_handle());
  thread.detach();  // lwIP's tcpip thread lives as long as the process
  return handle;
}

// One semaphore per application thread, freed with the thread.
sys_sem_t *ntm_sys_thread_sem(void) {
  struct ThreadSem {
    sys_sem_t sem = nullptr;
    ThreadSem() { sys_sem_new(&sem, 0); }
    ~ThreadSem() { sys_sem_free(&sem); }
  };
  thread_local ThreadSem thread_sem;
  return &thread_sem.sem;
}

// --- platform ---
void ntm_lwip_platform_assert(const char *message, const char *file, int line) {
  std::fprintf(stderr, "ntmobile: lwIP assertion failed: %s (%s:%d)\n", message, file, line);
  // The raw call stack (addr2line -e libntm.so turns it into lines) for the bug report.
  void* frames[32];
  backtrace_symbols_fd(frames, backtrace(frames, 32), STDERR_FILENO);
  std::abort();
}

void ntm_lwip_platform_diag(const char *format, ...) {
  va_list args;
  va_start(args, format);
  std::vfprintf(stderr, format, args);
  va_end(args);
}

void ntm_lwip_assert_core_locked(void) {
  if (lock_tcpip_core == nullptr) return;  // still inside tcpip_init()
  if (lock_tcpip_core->owner.load(std::memory_order_relaxed) != std::this_thread::get_id()) {
    ntm_lwip_platform_assert("lwIP used without holding the core lock", __FILE__, __LINE__);
  }
}

}  // extern "C"

namespace ntm::stack {

void set_core_unlock_hook(void (*hook)()) { g_core_unlock_hook.store(hook, std::memory_order_release); }

}  // namespace ntm::stack

namespace ntm::stack {

bool core_locked_by_this_thread() {
  return lock_tcpip_core != nullptr &&
         lock_tcpip_core->owner.load(std::memory_order_relaxed) == std::this_thread::get_id();
}

}  // namespace ntm::stack
