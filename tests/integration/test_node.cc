// ntm-test-node: one ntmobile node (one per process) running one integration scenario in the
// server or client role. It reports what it saw as machine-readable lines on stdout
// ("READY ...", "RESULT key=value ...", "ERROR ...") and leaves every judgement to the driver
// (integration_tests.cc). Uses only ntm.h (plus the examples' option parser) and OpenSSL.
//
//   ntm-test-node SCENARIO [--role server|client] NODE-OPTIONS [--connect NAME:PORT] [-6]
//                 [--port N] [--bytes N] [--count N]
//                 [--bridge none|connect|socket|listen|datagram]
//                 [--restart-cipher aes|chacha] [--timeout SECONDS]
//
// Scenarios: tcp-transfer, duplex, tcp-many, udp, close-wakes, unreachable, restart, node-api,
// errors, mobile-transfer. Values never contain spaces except a trailing msg=..., which runs to
// the end of line.
//
// The scenarios live in test_node_tcp.cc, test_node_udp.cc, test_node_api.cc and
// test_node_mobile.cc; what they share in test_node.h (and tests/support).
#include "test_node.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <utility>

using namespace ntm_test;

namespace {

void usage(FILE *out) {
  fputs("usage: ntm-test-node SCENARIO [--role server|client] NODE-OPTIONS [--connect NAME:PORT]\n"
        "         [-6] [--port N] [--bytes N] [--count N] [--bridge none|connect|socket|listen]\n"
        "         [--restart-cipher aes|chacha] [--timeout SECONDS] [--print-events]\n"
        "       mobile-transfer: [--rate-mbps R] [--udp-interval-ms N] [--progress-ms N]\n"
        "         [--stall-timeout SECONDS]\n"
        "scenarios: tcp-transfer duplex tcp-many udp close-wakes unreachable restart node-api "
        "errors mobile-transfer self-udp refused\n\n",
        out);
  fputs(node_args_usage(), out);
}

}  // namespace

int main(int argc, char **argv) {
  Config cfg;
  const char *program = "ntm-test-node";
  CommandLine cl(program, usage);
  add_run_options(cl, cfg);
  cl.flag("-6", [&] { cfg.family = AF_INET6; });
  cl.flag("--print-events", [&] { cfg.print_events = true; });
  cl.option("--port",
            [&](const std::string &v) { cfg.port = static_cast<unsigned short>(std::stoul(v)); });
  cl.option("--bytes", [&](const std::string &v) { cfg.bytes = std::stoull(v); });
  cl.option("--count", [&](const std::string &v) { cfg.count = std::stoi(v); });
  cl.option("--bridge", [&](const std::string &v) { cfg.bridge = v; });
  cl.option("--restart-cipher", [&](const std::string &v) { cfg.restart_cipher = v; });
  add_mobile_options(cl);
  if (!cl.parse_run(cfg, argc, argv)) return 2;
  // A hung scenario must not outlive its test: SIGALRM's default action ends the process.
  alarm(cfg.timeout_s);
  signal(SIGPIPE, SIG_IGN);

  const std::pair<const char *, int (*)(Config &)> scenarios[] = {
      {"tcp-transfer", tcp_transfer}, {"duplex", duplex},   {"tcp-many", tcp_many},
      {"udp", udp},                   {"close-wakes", close_wakes}, {"unreachable", unreachable},
      {"restart", restart},           {"node-api", node_api}, {"errors", errors},
      {"mobile-transfer", mobile_transfer}, {"self-udp", self_udp},
      {"refused", refused}};
  for (const auto &[name, run] : scenarios) {
    if (cfg.scenario == name) {
      int rc = run(cfg);
      emit("DONE");
      node_args_free(&cfg.node);
      return rc;
    }
  }
  fprintf(stderr, "%s: unknown scenario '%s'\n", program, cfg.scenario.c_str());
  usage(stderr);
  return 2;
}
