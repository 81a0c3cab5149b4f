/*
 * ntm-security-node: the honest side of the security tests, written in C against ntm.h only.
 *
 *   ntm-security-node udp-witness NODE-OPTIONS [--port N] [--timeout SECONDS]
 *     Listens for UDP on virtual IPv4 and IPv6 port N (default 5000) and reports every datagram
 *     its application receives ("DATAGRAM family=4|6 from=ADDR port=P text=PAYLOAD", spaces in
 *     the payload as '_'), echoing each back to its sender. A datagram "FIN" ends it after a
 *     "STATS dropped_spoofed=N ..." line. Starts with "READY name=... vip4=... vip6=...
 *     endpoint_v4=...". SIGTERM also ends it (with the STATS line, status 0).
 *
 *   ntm-security-node bridge-abandon NODE-OPTIONS [--port N] [--timeout SECONDS]
 *     With SIGPIPE at its default disposition: opens a real-fd bridge connection to a listener on
 *     the node's own virtual IPv4 address, closes the OS descriptor at once (an application that
 *     gives up on a connection) and sends 4 MiB into the virtual side, so the bridge's pump
 *     writes into a socketpair whose other end is gone. Reports "RESULT sent=N alive=1".
 *
 *   ntm-security-node login-burst NODE-OPTIONS [--count N] [--timeout SECONDS]
 *     With SIGPIPE at its default disposition (which ends the process), calls ntm_start() N
 *     times against the AS in --server (a hostile one in the tests) and reports "RESULT
 *     attempts=N started=N failed=N". Being alive to print the line is the point.
 *
 * Every line goes to stdout; a fatal problem prints "ERROR what=..." and exits 1.
 */
#include <ntm.h>

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "node_args.h"

static void emit(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void emit(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  putchar('\n');
  fflush(stdout);
}

static void die(const char *what) {
  emit("ERROR what=%s errno=%d last_error=%s", what, errno, ntm_last_error());
  _Exit(1);
}

static volatile sig_atomic_t g_terminate = 0;
static void on_terminate(int sig) {
  (void)sig;
  g_terminate = 1;
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int bound_udp(int family, unsigned short port) {
  int fd = ntm_socket(family, SOCK_DGRAM, 0);
  struct sockaddr_storage ss;
  socklen_t len;
  if (fd < 0) die("ntm_socket");
  memset(&ss, 0, sizeof ss);
  if (family == AF_INET) {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    len = sizeof *a;
  } else {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    int one = 1;
    /* IPv6 only: the IPv4 socket has the port for IPv4 (and reports the family it came in on). */
    if (ntm_setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0) die("IPV6_V6ONLY");
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    len = sizeof *a;
  }
  if (ntm_bind(fd, (struct sockaddr *)&ss, len) != 0) die("ntm_bind");
  return fd;
}

static void address_text(const struct sockaddr_storage *ss, char *out, size_t size,
                         unsigned *port) {
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
    inet_ntop(AF_INET, &a->sin_addr, out, (socklen_t)size);
    *port = ntohs(a->sin_port);
  } else {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
    inet_ntop(AF_INET6, &a->sin6_addr, out, (socklen_t)size);
    *port = ntohs(a->sin6_port);
  }
}

static int udp_witness(node_args *args, unsigned short port, unsigned timeout_s) {
  ntm_node_info info;
  ntm_stats stats;
  int fds[2];
  int done = 0;
  int rc = ntm_start(&args->options);
  double deadline = now_s() + timeout_s;
  struct sigaction term;
  if (rc != NTM_OK) die("ntm_start");
  memset(&term, 0, sizeof term);
  term.sa_handler = on_terminate;
  sigaction(SIGTERM, &term, NULL);
  fds[0] = bound_udp(AF_INET, port);
  fds[1] = bound_udp(AF_INET6, port);
  memset(&info, 0, sizeof info);
  info.version = NTM_NODE_INFO_VERSION;
  if (ntm_get_node_info(&info) != NTM_OK) die("ntm_get_node_info");
  emit("READY name=%s vip4=%s vip6=%s endpoint_v4=%s", info.name, info.virtual_ipv4,
       info.virtual_ipv6, info.endpoint_ipv4);
  while (!done && !g_terminate && now_s() < deadline) {
    struct pollfd p[2];
    int i;
    p[0].fd = fds[0];
    p[1].fd = fds[1];
    p[0].events = p[1].events = POLLIN;
    p[0].revents = p[1].revents = 0;
    if (ntm_poll(p, 2, 200) <= 0) continue;
    for (i = 0; i < 2; ++i) {
      char buf[2048];
      char from_text[INET6_ADDRSTRLEN];
      unsigned from_port = 0;
      struct sockaddr_storage from;
      socklen_t from_len = sizeof from;
      ssize_t n, k;
      if (!(p[i].revents & POLLIN)) continue;
      n = ntm_recvfrom(fds[i], buf, sizeof buf - 1, 0, (struct sockaddr *)&from, &from_len);
      if (n < 0) continue;
      buf[n] = '\0';
      for (k = 0; k < n; ++k) {
        if (buf[k] == ' ' || buf[k] < 0x21 || buf[k] > 0x7e) buf[k] = '_';
      }
      address_text(&from, from_text, sizeof from_text, &from_port);
      emit("DATAGRAM family=%d from=%s port=%u text=%s", i == 0 ? 4 : 6, from_text, from_port,
           buf);
      (void)ntm_sendto(fds[i], buf, (size_t)n, 0, (struct sockaddr *)&from, from_len);
      if (strcmp(buf, "FIN") == 0) done = 1;
    }
  }
  memset(&stats, 0, sizeof stats);
  stats.version = NTM_STATS_VERSION;
  if (ntm_get_stats(&stats) != NTM_OK) die("ntm_get_stats");
  emit("STATS dropped_spoofed=%llu dropped_malformed=%llu packets_received=%llu fin=%d",
       (unsigned long long)stats.dropped_spoofed, (unsigned long long)stats.dropped_malformed,
       (unsigned long long)stats.packets_received, done);
  ntm_close(fds[0]);
  ntm_close(fds[1]);
  ntm_stop();
  return done || g_terminate ? 0 : 1;
}

/* The default disposition, also when the parent ignored SIGPIPE (exec keeps ignored signals
 * ignored), and not blocked: a SIGPIPE now ends the process with status 141. */
static void default_sigpipe(void) {
  sigset_t pipe_only;
  signal(SIGPIPE, SIG_DFL);
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  sigprocmask(SIG_UNBLOCK, &pipe_only, NULL);
}

static int bridge_abandon(node_args *args, unsigned short port) {
  static char chunk[64 * 1024];
  struct sockaddr_in own;
  ntm_node_info info;
  struct timeval two_seconds = {2, 0};
  long long sent = 0;
  int listener, os_fd, conn;
  default_sigpipe();
  if (ntm_start(&args->options) != NTM_OK) die("ntm_start");
  memset(&info, 0, sizeof info);
  info.version = NTM_NODE_INFO_VERSION;
  if (ntm_get_node_info(&info) != NTM_OK) die("ntm_get_node_info");
  memset(&own, 0, sizeof own);
  own.sin_family = AF_INET;
  own.sin_port = htons(port);
  if (inet_pton(AF_INET, info.virtual_ipv4, &own.sin_addr) != 1) die("virtual_ipv4");
  listener = ntm_socket(AF_INET, SOCK_STREAM, 0);
  if (listener < 0 || ntm_bind(listener, (struct sockaddr *)&own, sizeof own) != 0 ||
      ntm_listen(listener, 4) != 0) {
    die("listen");
  }
  os_fd = ntm_bridge_connect((struct sockaddr *)&own, sizeof own);
  if (os_fd < 0) die("ntm_bridge_connect");
  conn = ntm_accept(listener, NULL, NULL);
  if (conn < 0) die("ntm_accept");
  close(os_fd); /* the application is gone from its end */
  if (ntm_setsockopt(conn, SOL_SOCKET, SO_SNDTIMEO, &two_seconds, sizeof two_seconds) != 0) {
    die("SO_SNDTIMEO");
  }
  memset(chunk, 'x', sizeof chunk);
  while (sent < 4LL * 1024 * 1024) {
    ssize_t n = ntm_send(conn, chunk, sizeof chunk, 0);
    if (n <= 0) break; /* the bridge closed its virtual side: expected */
    sent += n;
  }
  emit("RESULT sent=%lld alive=1", sent);
  ntm_close(conn);
  ntm_close(listener);
  ntm_stop();
  return 0;
}

static int login_burst(node_args *args, int count) {
  int i, started = 0, failed = 0;
  default_sigpipe();
  args->options.start_timeout_ms = 1; /* one attempt per ntm_start: no retries */
  for (i = 0; i < count; ++i) {
    if (ntm_start(&args->options) == NTM_OK) {
      ++started;
      ntm_stop();
    } else {
      ++failed;
    }
  }
  emit("RESULT attempts=%d started=%d failed=%d", count, started, failed);
  return 0;
}

int main(int argc, char **argv) {
  node_args args;
  const char *program = "ntm-security-node";
  unsigned short port = 5000;
  unsigned timeout_s = 60;
  int count = 20;
  int i = 2;
  int rc;
  if (argc < 2) {
    fprintf(stderr, "usage: %s udp-witness|login-burst NODE-OPTIONS [--port N] [--count N] "
                    "[--timeout S]\n%s", program, node_args_usage());
    return 2;
  }
  if (node_args_init(&args) != 0) return 2;
  while (i < argc) {
    int used = node_args_consume(&args, program, argc, argv, &i);
    if (used < 0) return 2;
    if (used > 0) continue;
    if (i + 1 >= argc) {
      fprintf(stderr, "%s: unknown option or missing value: %s\n", program, argv[i]);
      return 2;
    }
    if (strcmp(argv[i], "--port") == 0) {
      port = (unsigned short)atoi(argv[i + 1]);
    } else if (strcmp(argv[i], "--count") == 0) {
      count = atoi(argv[i + 1]);
    } else if (strcmp(argv[i], "--timeout") == 0) {
      timeout_s = (unsigned)atoi(argv[i + 1]);
    } else {
      fprintf(stderr, "%s: unknown option %s\n", program, argv[i]);
      return 2;
    }
    i += 2;
  }
  if (node_args_check(&args, program) != 0) return 2;
  alarm(timeout_s + 30); /* a hung run must not outlive its test */
  if (strcmp(argv[1], "udp-witness") == 0) {
    rc = udp_witness(&args, port, timeout_s);
  } else if (strcmp(argv[1], "bridge-abandon") == 0) {
    rc = bridge_abandon(&args, port);
  } else if (strcmp(argv[1], "login-burst") == 0) {
    rc = login_burst(&args, count);
  } else {
    fprintf(stderr, "%s: unknown scenario %s\n", program, argv[1]);
    rc = 2;
  }
  node_args_free(&args);
  return rc;
}
