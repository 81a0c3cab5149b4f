/* example_net.c - listeners, connect-by-name, tunnel table: shared by the C examples. */
#include "example_net.h"

#include "node_args.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int example_parse_port(const char *program, const char *text, unsigned short *port) {
  char *end = NULL;
  unsigned long value = strtoul(text, &end, 10);
  if (end == text || *end != '\0' || value == 0 || value > 65535) {
    fprintf(stderr, "%s: --port must be 1-65535, not '%s'\n", program, text);
    return -1;
  }
  *port = (unsigned short)value;
  return 0;
}

/* Opens a listening socket on the wildcard virtual address of `family`, or returns -1. */
static int listen_on(const char *program, int family, unsigned short port) {
  struct sockaddr_storage addr;
  socklen_t len;
  int one = 1;
  int fd = ntm_socket(family, SOCK_STREAM, 0);
  if (fd < 0) {
    fprintf(stderr, "%s: ntm_socket: %s\n", program, strerror(errno));
    return -1;
  }
  memset(&addr, 0, sizeof addr);
  if (family == AF_INET) {
    struct sockaddr_in *a = (struct sockaddr_in *)&addr;
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    a->sin_addr.s_addr = htonl(INADDR_ANY);
    len = sizeof *a;
  } else {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&addr;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    a->sin6_addr = in6addr_any;
    len = sizeof *a;
    ntm_setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one); /* IPv4 has its own */
  }
  ntm_setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (ntm_bind(fd, (struct sockaddr *)&addr, len) != 0 || ntm_listen(fd, 64) != 0) {
    fprintf(stderr, "%s: cannot listen on port %u (IPv%d): %s\n", program, port,
            family == AF_INET ? 4 : 6, strerror(errno));
    ntm_close(fd);
    return -1;
  }
  return fd;
}

int example_listen_all(const char *program, unsigned short port, int listeners[2]) {
  ntm_node_info info;
  int opened = 0;
  listeners[0] = listeners[1] = -1;
  memset(&info, 0, sizeof info);
  info.version = NTM_NODE_INFO_VERSION;
  if (ntm_get_node_info(&info) != NTM_OK) {
    fprintf(stderr, "%s: ntm_get_node_info: %s\n", program, ntm_last_error());
    return 0;
  }
  if (info.virtual_ipv4[0] != '\0' && (listeners[0] = listen_on(program, AF_INET, port)) >= 0) {
    ++opened;
  }
  if (info.virtual_ipv6[0] != '\0' && (listeners[1] = listen_on(program, AF_INET6, port)) >= 0) {
    ++opened;
  }
  return opened;
}

/* Connects fd to addr within timeout_ms: a non-blocking connect finished by ntm_poll, so a peer
 * that never answers costs the deadline, not lwIP's full SYN retry schedule. */
static int connect_within(int fd, const struct sockaddr *addr, socklen_t len, int timeout_ms) {
  struct pollfd pfd;
  int error = 0;
  socklen_t error_len = sizeof error;
  int rc;
  if (ntm_fcntl(fd, F_SETFL, O_NONBLOCK) != 0) {
    return -1;
  }
  if (ntm_connect(fd, addr, len) != 0) {
    if (errno != EINPROGRESS) {
      return -1;
    }
    pfd.fd = fd;
    pfd.events = POLLOUT;
    pfd.revents = 0;
    rc = ntm_poll(&pfd, 1, timeout_ms);
    if (rc == 0) {
      errno = ETIMEDOUT;
      return -1;
    }
    if (rc < 0 || ntm_getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &error_len) != 0) {
      return -1;
    }
    if (error != 0) {
      errno = error; /* e.g. ECONNREFUSED, ETIMEDOUT, as from a blocking ntm_connect() */
      return -1;
    }
  }
  return ntm_fcntl(fd, F_SETFL, 0); /* back to blocking for the caller */
}

int example_connect(const char *program, const char *target, int family, int timeout_ms) {
  char host[256];
  const char *port;
  struct addrinfo hints;
  struct addrinfo *res = NULL;
  struct addrinfo *ai;
  int rc;
  int fd = -1;
  int saved = 0;

  if (node_args_split_host_port(target, host, sizeof host, &port) != 0) {
    fprintf(stderr, "%s: --connect '%s' must be NAME:PORT\n", program, target);
    return -1;
  }
  memset(&hints, 0, sizeof hints);
  hints.ai_family = family;
  hints.ai_socktype = SOCK_STREAM;
  rc = ntm_getaddrinfo(host, port, &hints, &res);
  if (rc != 0) {
    fprintf(stderr, "%s: cannot resolve %s (IPv%d): %s\n", program, host,
            family == AF_INET ? 4 : 6, gai_strerror(rc));
    return -1;
  }
  for (ai = res; ai != NULL; ai = ai->ai_next) {
    fd = ntm_socket(ai->ai_family, ai->ai_socktype, 0);
    if (fd < 0) {
      saved = errno;
      continue;
    }
    if (connect_within(fd, ai->ai_addr, ai->ai_addrlen, timeout_ms) == 0) {
      break;
    }
    saved = errno;
    ntm_close(fd);
    fd = -1;
  }
  ntm_freeaddrinfo(res);
  if (fd < 0) {
    fprintf(stderr, "%s: cannot connect to %s: %s\n", program, target, strerror(saved));
  }
  return fd;
}

void example_print_tunnels(const char *program, FILE *out) {
  static const char *const paths[] = {"none", "direct", "relay"};
  ntm_tunnel_info *rows = NULL;
  size_t count = 0;
  size_t i;
  if (ntm_tunnels_snapshot(&rows, &count) != NTM_OK) {
    fprintf(stderr, "%s: ntm_tunnels_snapshot: %s\n", program, ntm_last_error());
    return;
  }
  for (i = 0; i < count; ++i) {
    const ntm_tunnel_info *t = &rows[i];
    unsigned path = (unsigned)t->path;
    fprintf(out, "tunnel %s vip4=%s vip6=%s path=%s endpoint=%s sent=%llu received=%llu\n",
            t->peer_name, t->virtual_ipv4, t->virtual_ipv6, path < 3 ? paths[path] : "unknown",
            t->endpoint, (unsigned long long)t->bytes_sent,
            (unsigned long long)t->bytes_received);
  }
  fflush(out);
  ntm_tunnels_free(rows);
}

void example_format_address(const struct sockaddr_storage *addr, char *text, size_t size) {
  const void *raw = NULL;
  if (addr->ss_family == AF_INET) {
    raw = &((const struct sockaddr_in *)addr)->sin_addr;
  } else if (addr->ss_family == AF_INET6) {
    raw = &((const struct sockaddr_in6 *)addr)->sin6_addr;
  }
  if (raw == NULL || inet_ntop(addr->ss_family, raw, text, (socklen_t)size) == NULL) {
    snprintf(text, size, "?");
  }
}

double example_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void example_block_stop_signals(sigset_t *signals) {
  sigemptyset(signals);
  sigaddset(signals, SIGINT);
  sigaddset(signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, signals, NULL);
}
