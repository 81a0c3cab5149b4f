#include "util/log.h"

#include <atomic>
#include <cstdio>
#include <mutex>

namespace ntm::log {

namespace {
std::atomic<int> g_level{static_cast<int>(Level::warn)};
std::mutex g_write_mutex;

const char* name(Level level) {
  switch (level) {
    case Level::error: return "error";
    case Level::warn: return "warn";
    case Level::info: return "info";
    case Level::debug: return "debug";
    case Level::off: break;
  }
  return "";
}
}  // namespace

void set_level(Level level) { g_level.store(static_cast<int>(level)); }
Level level() { return static_cast<Level>(g_level.load()); }
bool enabled(Level l) { return static_cast<int>(l) <= g_level.load(std::memory_order_relaxed); }

void write(Level l, const char* format, ...) {
  char line[1024];
  va_list args;
  va_start(args, format);
  std::vsnprintf(line, sizeof(line), format, args);
  va_end(args);
  std::lock_guard lock(g_write_mutex);
  std::fprintf(stderr, "ntmobile %s: %s\n", name(l), line);
}

}  // namespace ntm::log
