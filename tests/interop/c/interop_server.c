/*
 * interop_server.c - the server role of the C interop node: TCP request lines (HELLO, ECHO,
 * UPLOAD, DOWNLOAD, QUIT) on both virtual address families, a thread per connection, and UDP
 * PING -> PONG, until SIGTERM, SIGINT or the end of stdin (tests/interop/README.md).
 */
#include "interop.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

/* How long shutdown waits for connection threads after ntm_stop() closed their sockets. */
#define CONNECTIONS_GRACE_S 5

/* Live connection threads, so shutdown can wait for their SERVED records. */
static pthread_mutex_t connections_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t connections_done = PTHREAD_COND_INITIALIZER;
static int active_connections;
static volatile sig_atomic_t stopping;

typedef struct connection {
  interop_conn io; /* first: large, kept off the thread's stack */
  char peer[INET6_ADDRSTRLEN];
  unsigned requests;
  uint64_t bytes_in;
  uint64_t bytes_out;
} connection;

static void address_text(const struct sockaddr_storage *addr, char *text, size_t size) {
  snprintf(text, size, "?");
  if (addr->ss_family == AF_INET) {
    inet_ntop(AF_INET, &((const struct sockaddr_in *)addr)->sin_addr, text, (socklen_t)size);
  } else if (addr->ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)addr)->sin6_addr, text, (socklen_t)size);
  }
}

/* Parses the decimal count of "UPLOAD n" / "DOWNLOAD n". Returns 0, or -1 if it is not one. */
static int parse_count(const char *text, uint64_t *out) {
  char *end = NULL;
  if (*text < '0' || *text > '9') {
    return -1;
  }
  errno = 0;
  *out = strtoull(text, &end, 10);
  return errno == 0 && *end == '\0' ? 0 : -1;
}

static int send_digest(connection *conn, EVP_MD_CTX *sha) {
  char line[8 + 65];
  memcpy(line, "SHA256 ", 7);
  sha256_hex_final(sha, line + 7);
  return conn_send_line(&conn->io, line);
}

static int serve_upload(connection *conn, uint64_t n, EVP_MD_CTX *sha) {
  if (conn_read_hashed(&conn->io, n, sha) != 0) {
    return -1;
  }
  conn->bytes_in += n;
  return send_digest(conn, sha);
}

static int serve_download(connection *conn, uint64_t n, EVP_MD_CTX *sha) {
  unsigned char chunk[INTEROP_CHUNK];
  uint64_t left = n;
  while (left > 0) {
    size_t len = left < sizeof chunk ? (size_t)left : sizeof chunk;
    random_fill(chunk, len);
    EVP_DigestUpdate(sha, chunk, len);
    if (conn_send_all(&conn->io, chunk, len) != 0) {
      return -1;
    }
    left -= len;
    conn->bytes_out += len;
  }
  return send_digest(conn, sha);
}

/* Answers one request line. Returns 1 to go on, 0 when the connection is to be closed, -1 on
 * an I/O error (errno set). */
static int serve_request(connection *conn, const char *line, EVP_MD_CTX *sha) {
  uint64_t n = 0;
  conn->requests += 1;
  if (strncmp(line, "HELLO ", 6) == 0) {
    return conn_send_line(&conn->io, "HELLO " INTEROP_LANG) == 0 ? 1 : -1;
  }
  if (strncmp(line, "ECHO ", 5) == 0) {
    return conn_send_line(&conn->io, line + 5) == 0 ? 1 : -1;
  }
  if (strncmp(line, "UPLOAD ", 7) == 0 && parse_count(line + 7, &n) == 0) {
    EVP_DigestInit_ex(sha, EVP_sha256(), NULL);
    return serve_upload(conn, n, sha) == 0 ? 1 : -1;
  }
  if (strncmp(line, "DOWNLOAD ", 9) == 0 && parse_count(line + 9, &n) == 0) {
    EVP_DigestInit_ex(sha, EVP_sha256(), NULL);
    return serve_download(conn, n, sha) == 0 ? 1 : -1;
  }
  if (strcmp(line, "QUIT") == 0) {
    return conn_send_line(&conn->io, "BYE") == 0 ? 0 : -1;
  }
  return conn_send_line(&conn->io, "ERROR unknown-request") == 0 ? 0 : -1;
}

static void *serve_connection(void *arg) {
  connection *conn = arg;
  char line[INTEROP_MAX_LINE + 1];
  EVP_MD_CTX *sha = EVP_MD_CTX_new();
  struct timeval idle = {INTEROP_IDLE_S, 0};
  int going = sha != NULL;

  ntm_setsockopt(conn->io.fd, SOL_SOCKET, SO_RCVTIMEO, &idle, sizeof idle);
  ntm_setsockopt(conn->io.fd, SOL_SOCKET, SO_SNDTIMEO, &idle, sizeof idle);
  while (going) {
    int rc;
    if (conn_read_line(&conn->io, line, sizeof line) != 0) {
      if (errno != ENODATA && !stopping) {
        char reason[64];
        fprintf(stderr, "ntm-interop-node: connection from %s: %s\n", conn->peer,
                reason_from_errno(errno, reason, sizeof reason));
      }
      break;
    }
    rc = serve_request(conn, line, sha);
    if (rc < 0 && !stopping) {
      char reason[64];
      fprintf(stderr, "ntm-interop-node: connection from %s: answering '%.40s': %s\n", conn->peer,
              line, reason_from_errno(errno, reason, sizeof reason));
    }
    going = rc > 0;
  }
  ntm_close(conn->io.fd);
  interop_record("SERVED peer=%s requests=%u bytes_in=%" PRIu64 " bytes_out=%" PRIu64, conn->peer,
                 conn->requests, conn->bytes_in, conn->bytes_out);
  EVP_MD_CTX_free(sha);
  free(conn);

  pthread_mutex_lock(&connections_lock);
  active_connections -= 1;
  pthread_cond_broadcast(&connections_done);
  pthread_mutex_unlock(&connections_lock);
  return NULL;
}

static void start_connection(int fd, const struct sockaddr_storage *peer) {
  pthread_t thread;
  connection *conn = calloc(1, sizeof *conn);
  if (conn == NULL) {
    fprintf(stderr, "ntm-interop-node: out of memory for a connection\n");
    ntm_close(fd);
    return;
  }
  conn_init(&conn->io, fd, 0);
  address_text(peer, conn->peer, sizeof conn->peer);
  pthread_mutex_lock(&connections_lock);
  active_connections += 1;
  pthread_mutex_unlock(&connections_lock);
  if (pthread_create(&thread, NULL, serve_connection, conn) != 0) {
    fprintf(stderr, "ntm-interop-node: pthread_create failed for a connection\n");
    pthread_mutex_lock(&connections_lock);
    active_connections -= 1;
    pthread_mutex_unlock(&connections_lock);
    ntm_close(fd);
    free(conn);
    return;
  }
  pthread_detach(thread);
}

static void *accept_loop(void *arg) {
  int listen_fd = (int)(intptr_t)arg;
  while (!stopping) {
    struct sockaddr_storage peer;
    socklen_t peer_len = sizeof peer;
    int fd = ntm_accept(listen_fd, (struct sockaddr *)&peer, &peer_len);
    if (fd >= 0) {
      start_connection(fd, &peer);
    } else if (errno == EBADF || stopping) {
      break; /* the listener was closed: shutting down */
    } else if (errno != EINTR && errno != ECONNABORTED) {
      fprintf(stderr, "ntm-interop-node: ntm_accept: %s\n", strerror(errno));
      sleep_s(0.1); /* e.g. out of descriptors: do not spin */
    }
  }
  return NULL;
}

static void *udp_loop(void *arg) {
  int fd = (int)(intptr_t)arg;
  char buf[2048];
  for (;;) {
    struct sockaddr_storage from;
    socklen_t from_len = sizeof from;
    ssize_t n = ntm_recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &from_len);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      break; /* EBADF once the socket was closed: shutting down */
    }
    if (n >= 5 && memcmp(buf, "PING ", 5) == 0) {
      memcpy(buf, "PONG", 4);
      if (ntm_sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, from_len) < 0) {
        fprintf(stderr, "ntm-interop-node: UDP reply: %s\n", strerror(errno));
      }
    }
  }
  return NULL;
}

/* A socket of `type` bound to the wildcard virtual address of `family` on `port` (listening
 * for SOCK_STREAM), or -1 after a message. */
static int open_bound(int family, int type, unsigned short port) {
  struct sockaddr_storage addr;
  socklen_t len;
  int one = 1;
  int fd = ntm_socket(family, type, 0);
  if (fd < 0) {
    fprintf(stderr, "ntm-interop-node: ntm_socket: %s\n", strerror(errno));
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
    ntm_setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  }
  ntm_setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (ntm_bind(fd, (struct sockaddr *)&addr, len) != 0 ||
      (type == SOCK_STREAM && ntm_listen(fd, 64) != 0)) {
    fprintf(stderr, "ntm-interop-node: cannot %s port %u (IPv%d): %s\n",
            type == SOCK_STREAM ? "listen on TCP" : "bind UDP", port, family == AF_INET ? 4 : 6,
            strerror(errno));
    ntm_close(fd);
    return -1;
  }
  return fd;
}

/* Turns the end of stdin into SIGTERM, so the main thread's sigwait() sees one kind of stop. */
static void *stdin_watch(void *arg) {
  char buf[256];
  (void)arg;
  for (;;) {
    ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
    if (n == 0 || (n < 0 && errno != EINTR)) {
      break;
    }
  }
  kill(getpid(), SIGTERM);
  return NULL;
}

/* Waits (bounded) until every connection thread printed its SERVED record. */
static void wait_connections(void) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += CONNECTIONS_GRACE_S;
  pthread_mutex_lock(&connections_lock);
  while (active_connections > 0) {
    if (pthread_cond_timedwait(&connections_done, &connections_lock, &until) != 0) {
      fprintf(stderr, "ntm-interop-node: %d connection(s) still open at exit\n",
              active_connections);
      break;
    }
  }
  pthread_mutex_unlock(&connections_lock);
}

int run_server(const interop_config *config, const ntm_node_info *info) {
  static const int families[2] = {AF_INET, AF_INET6};
  int sockets[4] = {-1, -1, -1, -1}; /* TCP v4, TCP v6, UDP v4, UDP v6 */
  pthread_t threads[4];
  int started = 0;
  int status = 0;
  int i;
  sigset_t signals;
  int signal_number = 0;
  pthread_t watcher;

  for (i = 0; i < 4 && status == 0; ++i) {
    sockets[i] = open_bound(families[i % 2], i < 2 ? SOCK_STREAM : SOCK_DGRAM, config->port);
    if (sockets[i] < 0) {
      status = 1;
    } else if (pthread_create(&threads[i], NULL, i < 2 ? accept_loop : udp_loop,
                              (void *)(intptr_t)sockets[i]) != 0) {
      fprintf(stderr, "ntm-interop-node: pthread_create failed\n");
      status = 1;
    } else {
      started = i + 1;
    }
  }
  if (status == 0) {
    interop_record("READY lang=%s fqdn=%s vip4=%s vip6=%s", INTEROP_LANG, info->name,
                   info->virtual_ipv4, info->virtual_ipv6);
    if (pthread_create(&watcher, NULL, stdin_watch, NULL) == 0) {
      pthread_detach(watcher); /* may stay blocked in read() when a signal ends the run */
    }
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    sigwait(&signals, &signal_number);
    fprintf(stderr, "ntm-interop-node: %s, stopping\n",
            signal_number == SIGINT ? "SIGINT" : "SIGTERM or end of stdin");
  }

  /* Closing the listeners and UDP sockets wakes their threads; ntm_stop() then closes the
   * connections, whose threads print SERVED and end. */
  stopping = 1;
  for (i = 0; i < 4; ++i) {
    if (sockets[i] >= 0) {
      ntm_close(sockets[i]);
    }
  }
  for (i = 0; i < started; ++i) {
    pthread_join(threads[i], NULL);
  }
  ntm_stop();
  wait_connections();
  return status;
}
