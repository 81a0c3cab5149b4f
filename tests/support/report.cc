// Report lines: see report.h.
#include "report.h"

#include <ntm.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <mutex>

namespace ntm_test {

namespace {
std::mutex g_stdout;
}

void emit(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  va_list again;
  va_copy(again, ap);
  const int n = vsnprintf(nullptr, 0, fmt, ap);
  va_end(ap);
  if (n < 0) {
    va_end(again);
    return;
  }
  std::string line(static_cast<size_t>(n) + 1, '\0');
  vsnprintf(line.data(), line.size(), fmt, again);
  va_end(again);
  line.back() = '\n';
  std::lock_guard lock(g_stdout);
  fwrite(line.data(), 1, line.size(), stdout);
  fflush(stdout);
}

double mono_now() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

const char *errno_name(int err) {
  const char *name = strerrorname_np(err);
  return name != nullptr ? name : "E?";
}

const char *or_dash(const char *s) { return s != nullptr && *s != '\0' ? s : "-"; }

const char *path_name(int path) {
  static const char *const kNames[] = {"none", "direct", "relay"};
  return path >= 0 && path <= 2 ? kNames[path] : "?";
}

void die(const std::string &what) {
  emit("ERROR what=%s", what.c_str());
  std::_Exit(1);
}

void die_errno(const std::string &what, int err) {
  emit("ERROR what=%s errno=%s msg=%s", what.c_str(), errno_name(err), strerror(err));
  std::_Exit(1);
}

void die_ntm(const std::string &what, int rc) {
  emit("ERROR what=%s rc=%d msg=%s", what.c_str(), rc, ntm_last_error());
  std::_Exit(1);
}

}  // namespace ntm_test
