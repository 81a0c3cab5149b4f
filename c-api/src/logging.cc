// ntm_set_log_callback / ntm_set_log_level: the library's log lines to the application's own
// logging (Python logging, java.lang.System.Logger, Ruby Logger) instead of stderr. Lines are
// queued in order by the logger and delivered on one library thread (callback_thread.h), so no
// library thread ever waits inside application code.
#include <cstring>
#include <memory>
#include <mutex>
#include <string>

#include "api_common.h"
#include "callback_thread.h"
#include "util/log.h"

namespace {

std::mutex g_log_mutex;  // serialises ntm_set_log_callback

ntm::capi::CallbackThread& log_thread() {
  // Leaked: at exit it may be inside the application's callback (exit_guard.cc).
  static auto* thread = new ntm::capi::CallbackThread("ntm-log");
  return *thread;
}

}  // namespace

extern "C" NTM_EXTERN(int) ntm_set_log_callback(ntm_log_cb cb, void *user_data) {
  return ntm::capi::guarded([&]() -> int {
    std::lock_guard lock(g_log_mutex);
    if (cb == nullptr) {
      ntm::log::set_sink({});
      log_thread().flush();  // the old callback sees nothing after this returns
      return NTM_OK;
    }
    ntm::capi::install_exit_guard();
    auto& thread = log_thread();
    ntm::log::set_sink([cb, user_data, &thread](ntm::log::Level level, const char* component,
                                                const char* message) {
      thread.post([cb, user_data, level, c = std::string(component), m = std::string(message)] {
        cb(static_cast<ntm_log_level>(level), c.c_str(), m.c_str(), user_data);
      });
    });
    return NTM_OK;
  });
}

extern "C" NTM_EXTERN(int) ntm_set_log_level(ntm_log_level level) {
  return ntm::capi::guarded([&]() -> int {
    // A C caller may pass any int: read it as one (reading an enum object that holds a value
    // outside the enumeration is undefined behaviour in C++).
    int raw = 0;
    static_assert(sizeof(raw) == sizeof(level));
    std::memcpy(&raw, &level, sizeof(raw));
    if (raw < NTM_LOG_OFF || raw > NTM_LOG_DEBUG) {
      return ntm::capi::fail(NTM_EINVAL, "ntm_set_log_level: unknown level " + std::to_string(raw));
    }
    ntm::log::set_level(static_cast<ntm::log::Level>(raw));
    return NTM_OK;
  });
}
