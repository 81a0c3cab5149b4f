// What the server capacity benches (ntm-dc-bench, ntm-rs-bench) share: a forked client process
// that reports its phases to the measuring parent line by line, and the parent's measurements of
// itself (CPU time, resident memory) and of the machine (load average).
//
// The client runs in its own process so that its work never counts as the server's CPU time. Each
// line it sends waits for the parent's acknowledgement, so the parent samples its counters exactly
// at the phase boundaries:
//
//   PhaseChild child(1, [&](const PhaseLink &parent, const std::vector<uint16_t> &ports) {
//     parent.say("start\n"); ...; parent.say("end ...\n"); return 0; });
//   Server server(...); server.start();            // after the fork: no threads are copied
//   child.start({server.port()});
//   for (std::string line; child.next(line); child.ack()) { sample; parse line; }
//   bool ok = child.finish();
#pragma once

#include <sys/types.h>

#include "util/endpoint.h"

#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace ntm_bench {

// The client's end of the link to the parent.
class PhaseLink {
 public:
  PhaseLink(int from_parent, int to_parent) : in_(from_parent), out_(to_parent) {}
  // Sends one line (ending in '\n') and waits until the parent has taken its samples.
  void say(const std::string &line) const;

 private:
  int in_, out_;
};

class PhaseChild {
 public:
  using Client = std::function<int(const PhaseLink &parent, const std::vector<uint16_t> &ports)>;

  // Forks a child that waits for start(), runs `client` with the `port_count` ports given there
  // and exits with its return value. Throws std::runtime_error when the pipes or fork fail.
  PhaseChild(size_t port_count, const Client &client);
  ~PhaseChild();
  PhaseChild(const PhaseChild &) = delete;
  PhaseChild &operator=(const PhaseChild &) = delete;

  // Hands the servers' ports to the child, which starts its phases.
  void start(const std::vector<uint16_t> &ports);
  // The child's next line (with its '\n'); false once the child has closed its end.
  bool next(std::string &line);
  // Lets the child go on after next().
  void ack();
  // Waits for the child to exit; true if it exited with status 0.
  bool finish();

 private:
  pid_t pid_ = -1;
  int to_child_ = -1;
  FILE *from_child_ = nullptr;
};

// A UDP socket bound to 127.0.0.1 on a free port, its send and receive buffers forced to
// `buffer_bytes` (SO_*BUFFORCE, so past net.core.*mem_max when run as root); `type_flags` are
// added to SOCK_DGRAM | SOCK_CLOEXEC (e.g. SOCK_NONBLOCK). *local receives the bound endpoint.
int loopback_udp_socket(int buffer_bytes, int type_flags, ntm::Endpoint *local);

// CPU time (user + system) of this process so far, in seconds.
double process_cpu_s();
// Resident memory of this process now, in MiB.
double rss_mib();
// The machine's 1-minute load average, as /proc/loadavg prints it.
std::string loadavg_1min();
// "a,b,,c" -> {"a", "b", "c"}.
std::vector<std::string> split_list(const std::string &s);

}  // namespace ntm_bench
