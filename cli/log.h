// The ntm program's log: one line per message on stderr, with a UTC timestamp, as text
// ("2026-01-02T03:04:05.678Z ntm info: ...") or as one JSON object per line (--log-format json),
// so systemd's journal and log shippers both read it. Never logs secrets.
#pragma once

#include <string_view>

namespace ntm::cli::log {

enum class Level : int { error = 1, warn = 2, info = 3, debug = 4 };

void set_level(Level level);
void set_json(bool json);
bool enabled(Level level);
void write(Level level, const char* format, ...) __attribute__((format(printf, 2, 3)));

}  // namespace ntm::cli::log

#define CLI_LOG(level, ...)                                                       \
  do {                                                                            \
    if (::ntm::cli::log::enabled(level)) ::ntm::cli::log::write(level, __VA_ARGS__); \
  } while (0)
#define CLI_ERROR(...) CLI_LOG(::ntm::cli::log::Level::error, __VA_ARGS__)
#define CLI_WARN(...) CLI_LOG(::ntm::cli::log::Level::warn, __VA_ARGS__)
#define CLI_INFO(...) CLI_LOG(::ntm::cli::log::Level::info, __VA_ARGS__)
#define CLI_DEBUG(...) CLI_LOG(::ntm::cli::log::Level::debug, __VA_ARGS__)
