// Report lines of the test and bench node programs (ntm-test-node, ntm-field-node,
// ntm-stack-node, ntm-cp-bench...): "WORD key=value ... [msg=free text]" on stdout, which their
// drivers parse as the lines come. Fatal problems print an ERROR line and end the process at once.
#pragma once

#include <string>

namespace ntm_test {

// Prints one line (printf format, without the newline) on stdout with a single write, so the lines
// of several threads never interleave, and flushes it at once: a driver waits for it.
void emit(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

// CLOCK_MONOTONIC in seconds: Python's time.monotonic(), the same in every network namespace of a
// host, so drivers compare the t=... of several processes with their own.
double mono_now();

// The errno's symbolic name ("ECONNREFUSED"), or "E?".
const char *errno_name(int err);

// `s`, or "-" when it is null or empty (report values never are empty).
const char *or_dash(const char *s);

// An ntm_tunnel_path as text: "none", "direct", "relay" ("?" for anything else).
const char *path_name(int path);

// "ERROR what=WHAT", then the process ends with status 1 at once: library threads may still run,
// so no destructors.
[[noreturn]] void die(const std::string &what);
// "ERROR what=WHAT errno=ENAME msg=strerror", then the same.
[[noreturn]] void die_errno(const std::string &what, int err);
// "ERROR what=WHAT rc=RC msg=ntm_last_error()", then the same.
[[noreturn]] void die_ntm(const std::string &what, int rc);

}  // namespace ntm_test
