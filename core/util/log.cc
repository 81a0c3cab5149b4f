#include "util/log.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>

namespace ntm::log {

namespace {
std::atomic<int> g_level{static_cast<int>(Level::warn)};
std::atomic<bool> g_json{false};
std::atomic<const char*> g_program{"ntmobile"};
std::mutex g_write_mutex;  // also guards g_sink
std::shared_ptr<const Sink> g_sink;

void timestamp(char* out, size_t size) {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  const size_t n = std::strftime(out, size, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(out + n, size - n, ".%03dZ", static_cast<int>(ms));
}

// Appends `text` as the contents of a JSON string (quotes not included).
void append_json_escaped(std::string& out, const char* text) {
  for (const char* p = text; *p; ++p) {
    const auto c = static_cast<unsigned char>(*p);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char esc[8];
      std::snprintf(esc, sizeof(esc), "\\u%04x", c);
      out += esc;
    } else {
      out += static_cast<char>(c);
    }
  }
}

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
void set_json(bool json) { g_json.store(json); }
void set_program(const char* name) { g_program.store(name); }
Level level() { return static_cast<Level>(g_level.load()); }
bool enabled(Level l) { return static_cast<int>(l) <= g_level.load(std::memory_order_relaxed); }

void set_sink(Sink sink) {
  std::lock_guard lock(g_write_mutex);
  g_sink = sink ? std::make_shared<const Sink>(std::move(sink)) : nullptr;
}

const char* component_of(const char* file, char* buffer, size_t size) {
  if (file == nullptr || size == 0) return "";
  const char* end = std::strrchr(file, '/');
  if (end == nullptr) return "";
  const char* begin = end;
  while (begin > file && begin[-1] != '/') --begin;
  const size_t n = std::min(static_cast<size_t>(end - begin), size - 1);
  std::memcpy(buffer, begin, n);
  buffer[n] = '\0';
  return buffer;
}

namespace {

void emit(Level l, const char* file, const char* line) {
  std::lock_guard lock(g_write_mutex);
  if (g_sink) {
    char component[64];
    (*g_sink)(l, component_of(file, component, sizeof(component)), line);
    return;
  }
  char when[40];
  timestamp(when, sizeof(when));
  if (g_json.load(std::memory_order_relaxed)) {
    std::string out = std::string("{\"time\":\"") + when + "\",\"level\":\"" + name(l) +
                      "\",\"program\":\"" + g_program.load() + "\",\"message\":\"";
    append_json_escaped(out, line);
    out += "\"}";
    std::fprintf(stderr, "%s\n", out.c_str());
    return;
  }
  std::fprintf(stderr, "%s %s %s: %s\n", when, g_program.load(), name(l), line);
}

}  // namespace

void write(Level l, const char* format, ...) {
  char line[1024];
  va_list args;
  va_start(args, format);
  std::vsnprintf(line, sizeof(line), format, args);
  va_end(args);
  emit(l, nullptr, line);
}

void write_from(Level l, const char* file, const char* format, ...) {
  char line[1024];
  va_list args;
  va_start(args, format);
  std::vsnprintf(line, sizeof(line), format, args);
  va_end(args);
  emit(l, file, line);
}

}  // namespace ntm::log
