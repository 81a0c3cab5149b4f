// One logger for the whole library: levels, quiet by default, to stderr. Never log secrets.
// Each line starts with a UTC timestamp ("2026-01-02T03:04:05.678Z ntmobile warn: ..."); with
// set_json(true) each line is a JSON object {"time","level","program","message"} instead
// (servers' --log-format json). A sink (set_sink) takes the lines instead, with their component:
// the folder of the source file that logged ("node", "tunnel", "control"...).
#pragma once

#include <cstdarg>
#include <functional>

namespace ntm::log {

enum class Level : int { off = 0, error = 1, warn = 2, info = 3, debug = 4 };

void set_level(Level level);
void set_json(bool json);
// The name in each line ("ntmobile" by default; servers use their program's name).
void set_program(const char* name);
Level level();
bool enabled(Level level);
void write(Level level, const char* format, ...) __attribute__((format(printf, 2, 3)));
// As write(), from the source file `file` (__FILE__), which names the component.
void write_from(Level level, const char* file, const char* format, ...)
    __attribute__((format(printf, 3, 4)));

// Receives every enabled line instead of stderr (one at a time, in order: the calls are
// serialised). An empty function restores stderr.
using Sink = std::function<void(Level level, const char* component, const char* message)>;
void set_sink(Sink sink);

// The component a source path names: its parent folder ("core/tunnel/engine.cc" -> "tunnel").
const char* component_of(const char* file, char* buffer, size_t size);

}  // namespace ntm::log

#define NTM_LOG(level, ...)                                          \
  do {                                                               \
    if (::ntm::log::enabled(level)) ::ntm::log::write_from(level, __FILE__, __VA_ARGS__); \
  } while (0)
#define NTM_LOG_ERROR(...) NTM_LOG(::ntm::log::Level::error, __VA_ARGS__)
#define NTM_LOG_WARN(...) NTM_LOG(::ntm::log::Level::warn, __VA_ARGS__)
#define NTM_LOG_INFO(...) NTM_LOG(::ntm::log::Level::info, __VA_ARGS__)
#define NTM_LOG_DEBUG(...) NTM_LOG(::ntm::log::Level::debug, __VA_ARGS__)
