/*
 * ntm-policy-node: a node for the access-policy tests, written in C against ntm.h only.
 *
 *   ntm-policy-node NODE-OPTIONS [--serve-tcp P,P...] [--serve-udp P,P...]
 *                   [--target FQDN --probe tcp/P,udp/P,... [--rounds N] [--interval-ms N]]
 *                   [--timeout SECONDS]
 *
 * Serves TCP and UDP echo on the given virtual IPv4 ports (every datagram it receives is reported
 * as "DATAGRAM port=P from=ADDR sport=S text=T"). With --target it then runs N rounds (default
 * 1): each resolves the target (ntm_getaddrinfo) until it has an address, and tries every probe -
 * TCP: connect (1.5 s), send, wait for the echo (1 s); UDP: send, wait for the echo (1 s) - and
 * keeps one TCP connection to the first TCP probe open across rounds ("held", echoed once per
 * round). Each round prints "ROUND n=K start_ms=EPOCH_MS resolved=0|1 held=1|0|- tcp/P=1|0 ...".
 * After the rounds it prints "DONE", then serves until SIGTERM or --timeout, and prints
 * "STATS dropped_policy=N dropped_no_tunnel=N directions_received=N" before it exits (status 0).
 *
 * Starts with "READY name=... vip4=... vip6=... endpoint_v4=...". A fatal problem prints
 * "ERROR what=..." and exits 1.
 */
#include <ntm.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "node_args.h"

#define MAX_PORTS 8
#define MAX_FDS 64

static void emit(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void emit(const char *fmt, ...) {
  static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
  va_list ap;
  pthread_mutex_lock(&mu);
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  putchar('\n');
  fflush(stdout);
  pthread_mutex_unlock(&mu);
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

static long long epoch_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* "5001,5002" -> ports; returns the count. */
static int parse_ports(const char *text, unsigned short *ports) {
  int n = 0;
  const char *p = text;
  while (*p && n < MAX_PORTS) {
    ports[n++] = (unsigned short)strtoul(p, (char **)&p, 10);
    if (*p == ',') ++p;
  }
  return n;
}

typedef struct probe {
  int tcp; /* 1 tcp, 0 udp */
  unsigned short port;
} probe;

/* "tcp/5001,udp/5002" -> probes; returns the count. */
static int parse_probes(const char *text, probe *probes) {
  int n = 0;
  const char *p = text;
  while (*p && n < MAX_PORTS) {
    if (strncmp(p, "tcp/", 4) == 0) probes[n].tcp = 1;
    else if (strncmp(p, "udp/", 4) == 0) probes[n].tcp = 0;
    else return -1;
    p += 4;
    probes[n++].port = (unsigned short)strtoul(p, (char **)&p, 10);
    if (*p == ',') ++p;
  }
  return n;
}

static struct sockaddr_in v4(const struct in_addr *a, unsigned short port) {
  struct sockaddr_in s;
  memset(&s, 0, sizeof s);
  s.sin_family = AF_INET;
  s.sin_port = htons(port);
  if (a) s.sin_addr = *a;
  return s;
}

/* ---- the echo server (its own thread) ---- */

static unsigned short g_tcp_ports[MAX_PORTS], g_udp_ports[MAX_PORTS];
static int g_tcp_count, g_udp_count;

static void *serve(void *unused) {
  struct pollfd fds[MAX_FDS];
  unsigned short fd_port[MAX_FDS];
  int kind[MAX_FDS]; /* 0 listener, 1 udp, 2 connection */
  int n = 0, i;
  (void)unused;
  for (i = 0; i < g_tcp_count; ++i) {
    struct sockaddr_in a = v4(NULL, g_tcp_ports[i]);
    int fd = ntm_socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || ntm_bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || ntm_listen(fd, 16) != 0)
      die("tcp listener");
    fds[n].fd = fd;
    fd_port[n] = g_tcp_ports[i];
    kind[n++] = 0;
  }
  for (i = 0; i < g_udp_count; ++i) {
    struct sockaddr_in a = v4(NULL, g_udp_ports[i]);
    int fd = ntm_socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0 || ntm_bind(fd, (struct sockaddr *)&a, sizeof a) != 0) die("udp socket");
    fds[n].fd = fd;
    fd_port[n] = g_udp_ports[i];
    kind[n++] = 1;
  }
  for (;;) {
    for (i = 0; i < n; ++i) {
      fds[i].events = POLLIN;
      fds[i].revents = 0;
    }
    if (ntm_poll(fds, (nfds_t)n, 200) <= 0) continue;
    for (i = 0; i < n; ++i) {
      char buf[1500];
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      if (kind[i] == 0) {
        int c = ntm_accept(fds[i].fd, NULL, NULL);
        if (c >= 0 && n < MAX_FDS) {
          fds[n].fd = c;
          fd_port[n] = fd_port[i];
          kind[n++] = 2;
        } else if (c >= 0) {
          ntm_close(c);
        }
      } else if (kind[i] == 1) {
        struct sockaddr_in from;
        socklen_t len = sizeof from;
        char addr[INET_ADDRSTRLEN];
        ssize_t k, r = ntm_recvfrom(fds[i].fd, buf, sizeof buf - 1, 0, (struct sockaddr *)&from, &len);
        if (r < 0) continue;
        buf[r] = '\0';
        for (k = 0; k < r; ++k)
          if (buf[k] < 0x21 || buf[k] > 0x7e) buf[k] = '_';
        inet_ntop(AF_INET, &from.sin_addr, addr, sizeof addr);
        emit("DATAGRAM port=%u from=%s sport=%u text=%s", fd_port[i], addr,
             ntohs(from.sin_port), buf);
        (void)ntm_sendto(fds[i].fd, buf, (size_t)r, 0, (struct sockaddr *)&from, len);
      } else {
        ssize_t r = ntm_recv(fds[i].fd, buf, sizeof buf, 0);
        if (r > 0) {
          (void)ntm_send(fds[i].fd, buf, (size_t)r, 0);
        } else {
          ntm_close(fds[i].fd);
          fds[i] = fds[n - 1];
          fd_port[i] = fd_port[n - 1];
          kind[i] = kind[n - 1];
          --n;
          --i;
        }
      }
    }
  }
  return NULL;
}

/* ---- probes ---- */

/* Waits for `events` on fd for up to timeout_ms. */
static int wait_for(int fd, short events, int timeout_ms) {
  struct pollfd p;
  p.fd = fd;
  p.events = events;
  p.revents = 0;
  return ntm_poll(&p, 1, timeout_ms) == 1 && (p.revents & events);
}

/* Sends a line on a connected socket and waits for its echo. */
static int echo_roundtrip(int fd) {
  char buf[64];
  if (ntm_send(fd, "ping", 4, 0) != 4) return 0;
  if (!wait_for(fd, POLLIN, 1000)) return 0;
  return ntm_recv(fd, buf, sizeof buf, 0) > 0;
}

/* Connects within 1.5 s; returns the socket or -1. */
static int connect_tcp(const struct in_addr *addr, unsigned short port) {
  struct sockaddr_in a = v4(addr, port);
  int err = 0;
  socklen_t len = sizeof err;
  int fd = ntm_socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  ntm_fcntl(fd, F_SETFL, O_NONBLOCK);
  if (ntm_connect(fd, (struct sockaddr *)&a, sizeof a) != 0 && errno != EINPROGRESS) {
    ntm_close(fd);
    return -1;
  }
  if (!wait_for(fd, POLLOUT, 1500) ||
      ntm_getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
    ntm_close(fd);
    return -1;
  }
  ntm_fcntl(fd, F_SETFL, 0);
  return fd;
}

static int probe_tcp(const struct in_addr *addr, unsigned short port) {
  int ok, fd = connect_tcp(addr, port);
  if (fd < 0) return 0;
  ok = echo_roundtrip(fd);
  ntm_close(fd);
  return ok;
}

static int probe_udp(const struct in_addr *addr, unsigned short port) {
  struct sockaddr_in a = v4(addr, port);
  char buf[64];
  int ok = 0;
  int fd = ntm_socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) return 0;
  if (ntm_sendto(fd, "probe", 5, 0, (struct sockaddr *)&a, sizeof a) == 5 &&
      wait_for(fd, POLLIN, 1000))
    ok = ntm_recvfrom(fd, buf, sizeof buf, 0, NULL, NULL) > 0;
  ntm_close(fd);
  return ok;
}

static int resolve(const char *target, struct in_addr *out) {
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  if (ntm_getaddrinfo(target, NULL, &hints, &res) != 0 || !res) return 0;
  *out = ((struct sockaddr_in *)res->ai_addr)->sin_addr;
  ntm_freeaddrinfo(res);
  return 1;
}

static void print_stats(void) {
  ntm_stats stats;
  memset(&stats, 0, sizeof stats);
  stats.version = NTM_STATS_VERSION;
  if (ntm_get_stats(&stats) != NTM_OK) die("ntm_get_stats");
  emit("STATS dropped_policy=%llu dropped_no_tunnel=%llu directions_received=%llu",
       (unsigned long long)stats.dropped_policy, (unsigned long long)stats.dropped_no_tunnel,
       (unsigned long long)stats.directions_received);
}

int main(int argc, char **argv) {
  const char *program = "ntm-policy-node";
  node_args args;
  const char *target = NULL;
  probe probes[MAX_PORTS];
  int probe_count = 0, rounds = 1, interval_ms = 250, i, round;
  unsigned timeout_s = 60;
  double deadline;
  ntm_node_info info;
  struct sigaction term;
  pthread_t server;
  struct in_addr peer;
  int resolved = 0, held = -1, first_tcp = -1;

  if (node_args_init(&args) != 0) return 2;
  for (i = 1; i < argc;) {
    int used = node_args_consume(&args, program, argc, argv, &i);
    if (used < 0) return 2;
    if (used > 0) continue;
    if (i + 1 >= argc) {
      fprintf(stderr, "%s: %s needs a value\n", program, argv[i]);
      return 2;
    }
    if (strcmp(argv[i], "--serve-tcp") == 0) g_tcp_count = parse_ports(argv[i + 1], g_tcp_ports);
    else if (strcmp(argv[i], "--serve-udp") == 0) g_udp_count = parse_ports(argv[i + 1], g_udp_ports);
    else if (strcmp(argv[i], "--target") == 0) target = argv[i + 1];
    else if (strcmp(argv[i], "--probe") == 0) probe_count = parse_probes(argv[i + 1], probes);
    else if (strcmp(argv[i], "--rounds") == 0) rounds = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--interval-ms") == 0) interval_ms = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--timeout") == 0) timeout_s = (unsigned)atoi(argv[i + 1]);
    else {
      fprintf(stderr, "%s: unknown option %s\n", program, argv[i]);
      return 2;
    }
    i += 2;
  }
  if (probe_count < 0) {
    fprintf(stderr, "%s: --probe takes tcp/PORT,udp/PORT,...\n", program);
    return 2;
  }
  alarm(timeout_s + 30); /* a hung run must not outlive its test */
  deadline = now_s() + timeout_s;
  memset(&term, 0, sizeof term);
  term.sa_handler = on_terminate;
  sigaction(SIGTERM, &term, NULL);
  if (ntm_start(&args.options) != NTM_OK) die("ntm_start");
  if (pthread_create(&server, NULL, serve, NULL) != 0) die("pthread_create");
  memset(&info, 0, sizeof info);
  info.version = NTM_NODE_INFO_VERSION;
  if (ntm_get_node_info(&info) != NTM_OK) die("ntm_get_node_info");
  emit("READY name=%s vip4=%s vip6=%s endpoint_v4=%s", info.name, info.virtual_ipv4,
       info.virtual_ipv6, info.endpoint_ipv4);
  for (i = 0; i < probe_count; ++i)
    if (probes[i].tcp) {
      first_tcp = i;
      break;
    }

  for (round = 1; target && round <= rounds && !g_terminate; ++round) {
    char line[512];
    long long start = epoch_ms();
    size_t used;
    if (!resolved) resolved = resolve(target, &peer);
    if (resolved && held < 0 && first_tcp >= 0) held = connect_tcp(&peer, probes[first_tcp].port);
    used = (size_t)snprintf(line, sizeof line, "ROUND n=%d start_ms=%lld resolved=%d held=%s",
                            round, start, resolved,
                            held < 0 ? "-" : (echo_roundtrip(held) ? "1" : "0"));
    for (i = 0; i < probe_count && used < sizeof line; ++i) {
      int ok = resolved && (probes[i].tcp ? probe_tcp(&peer, probes[i].port)
                                          : probe_udp(&peer, probes[i].port));
      used += (size_t)snprintf(line + used, sizeof line - used, " %s/%u=%d",
                               probes[i].tcp ? "tcp" : "udp", probes[i].port, ok);
    }
    emit("%s", line);
    usleep((useconds_t)interval_ms * 1000);
  }
  emit("DONE");
  while (!g_terminate && now_s() < deadline) usleep(50 * 1000);
  print_stats();
  fflush(stdout);
  _Exit(0); /* the server thread blocks in ntm_poll */
}
