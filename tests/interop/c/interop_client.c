/*
 * interop_client.c - the client role of the C interop node: for each address family, resolve
 * the peer by FQDN, then HELLO, three ECHOs, UPLOAD, DOWNLOAD and QUIT over TCP and PING/PONG
 * over UDP, printing RESULT (or FAIL at the first failure); then one TUNNEL record per tunnel
 * and DONE (tests/interop/README.md). Single-threaded: it may wait in ntm_poll().
 */
#include "interop.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* UDP: each PING is sent again after this long without its PONG, at most this often. */
#define PING_RETRY_S 0.2
#define PING_TRIES 25
/* A paced upload prints PROGRESS at least this often (the README promises 100 ms). */
#define PROGRESS_EVERY_S 0.08
/* Longest wait between pacing decisions. */
#define PACE_SLICE_S 0.02

/* One family's run: what FAIL and RESULT need. */
typedef struct family_run {
  const interop_config *config;
  int family;    /* AF_INET or AF_INET6 */
  int number;    /* 4 or 6, for the records */
  char peer_lang[32];
  char reason[96];
} family_run;

/* Prints FAIL for `step` with run->reason filled in by the caller; returns -1. */
static int fail(family_run *run, const char *step) {
  interop_record("FAIL family=%d step=%s reason=%s", run->number, step, run->reason);
  return -1;
}

static int fail_errno(family_run *run, const char *step, int err) {
  reason_from_errno(err, run->reason, sizeof run->reason);
  return fail(run, step);
}

static int fail_text(family_run *run, const char *step, const char *reason) {
  snprintf(run->reason, sizeof run->reason, "%s", reason);
  return fail(run, step);
}

/* The peer's virtual address of this run's family, with the port set. */
static int resolve_peer(family_run *run, struct sockaddr_storage *addr, socklen_t *len) {
  struct addrinfo hints;
  struct addrinfo *res = NULL;
  char port[8];
  int rc;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = run->family;
  hints.ai_socktype = SOCK_STREAM;
  snprintf(port, sizeof port, "%u", run->config->port);
  rc = ntm_getaddrinfo(run->config->peer, port, &hints, &res);
  if (rc != 0 || res == NULL) {
    if (rc == EAI_NONAME) {
      return fail_text(run, "resolve", "unknown-name");
    }
    snprintf(run->reason, sizeof run->reason, "eai-%d", rc);
    return fail(run, "resolve");
  }
  memcpy(addr, res->ai_addr, res->ai_addrlen);
  *len = res->ai_addrlen;
  ntm_freeaddrinfo(res);
  return 0;
}

/* A non-blocking TCP connection to addr, or -1 with errno. */
static int connect_peer(const struct sockaddr_storage *addr, socklen_t len, double deadline) {
  int err = 0;
  socklen_t err_len = sizeof err;
  int fd = ntm_socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    return -1;
  }
  if (ntm_connect(fd, (const struct sockaddr *)addr, len) == 0) {
    return fd;
  }
  if (errno != EINPROGRESS) {
    err = errno;
  }
  while (err == 0) {
    int ready = wait_ready(fd, POLLOUT, deadline, INTEROP_DEADLINE_S);
    if (ready < 0) {
      err = errno;
    } else if (ready > 0) {
      if (ntm_getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &err_len) != 0) {
        err = errno;
      }
      break;
    }
  }
  if (err != 0) {
    ntm_close(fd);
    errno = err;
    return -1;
  }
  return fd;
}

/* Sends `request` and reads the reply line into `reply`. Returns 0, or -1 with FAIL printed. */
static int exchange(family_run *run, interop_conn *conn, const char *step, const char *request,
                    char *reply, size_t size) {
  if (conn_send_line(conn, request) != 0 || conn_read_line(conn, reply, size) != 0) {
    return fail_errno(run, step, errno);
  }
  return 0;
}

static int say_hello(family_run *run, interop_conn *conn) {
  char reply[INTEROP_MAX_LINE + 1];
  if (exchange(run, conn, "hello", "HELLO " INTEROP_LANG, reply, sizeof reply) != 0) {
    return -1;
  }
  if (strncmp(reply, "HELLO ", 6) != 0 || reply[6] == '\0' ||
      strlen(reply + 6) >= sizeof run->peer_lang || strchr(reply + 6, ' ') != NULL) {
    return fail_text(run, "hello", "unexpected-reply");
  }
  strcpy(run->peer_lang, reply + 6);
  return 0;
}

static int echo_three(family_run *run, interop_conn *conn) {
  char reply[INTEROP_MAX_LINE + 1];
  int i;
  for (i = 1; i <= 3; ++i) {
    char text[64];
    char request[80];
    snprintf(text, sizeof text, "%s-%d-%d", INTEROP_LANG, run->number, i);
    snprintf(request, sizeof request, "ECHO %s", text);
    if (exchange(run, conn, "echo", request, reply, sizeof reply) != 0) {
      return -1;
    }
    if (strcmp(reply, text) != 0) {
      return fail_text(run, "echo", "wrong-echo");
    }
  }
  return 0;
}

/* Reads "SHA256 <hex>" and compares it with the digest of what went through `sha`. */
static int check_digest(family_run *run, interop_conn *conn, const char *step, EVP_MD_CTX *sha) {
  char reply[INTEROP_MAX_LINE + 1];
  char expected[8 + 65] = "SHA256 ";
  sha256_hex_final(sha, expected + 7);
  if (conn_read_line(conn, reply, sizeof reply) != 0) {
    return fail_errno(run, step, errno);
  }
  if (strncmp(reply, "SHA256 ", 7) != 0) {
    return fail_text(run, step, "unexpected-reply");
  }
  if (strcmp(reply, expected) != 0) {
    return fail_text(run, step, "sha256-mismatch");
  }
  return 0;
}

/* Sends len bytes at no more than the configured rate, printing PROGRESS as it goes (also
 * while the connection does not take data). `sent` counts the whole upload so far. */
static int send_paced(family_run *run, interop_conn *conn, const unsigned char *data, size_t len,
                      double started, uint64_t *sent, double *last_progress) {
  const double bytes_per_s = run->config->rate_mbps * 1e6 / 8.0;
  size_t done = 0;
  while (done < len) {
    double now = now_s();
    double allowed = (now - started) * bytes_per_s - (double)*sent;
    ssize_t n;
    int ready;
    if (now - *last_progress >= PROGRESS_EVERY_S) {
      interop_record("PROGRESS family=%d sent=%" PRIu64, run->number, *sent);
      *last_progress = now;
    }
    if (allowed < 1.0) {
      if (now >= conn->deadline) {
        errno = ETIMEDOUT;
        return -1;
      }
      sleep_s(PACE_SLICE_S);
      continue;
    }
    ready = wait_ready(conn->fd, POLLOUT, conn->deadline, PACE_SLICE_S);
    if (ready < 0) {
      return -1;
    }
    if (ready == 0) {
      continue;
    }
    n = ntm_send(conn->fd, data + done,
                 allowed < (double)(len - done) ? (size_t)allowed : len - done,
                 MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      done += (size_t)n;
      *sent += (uint64_t)n;
    } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      return -1;
    }
  }
  return 0;
}

static int upload(family_run *run, interop_conn *conn, EVP_MD_CTX *sha) {
  static unsigned char chunk[INTEROP_CHUNK];
  char request[48];
  uint64_t total = run->config->bytes;
  uint64_t sent = 0;
  double started = now_s();
  double last_progress = started - PROGRESS_EVERY_S; /* a first PROGRESS at once */
  snprintf(request, sizeof request, "UPLOAD %" PRIu64, total);
  if (conn_send_line(conn, request) != 0) {
    return fail_errno(run, "upload", errno);
  }
  EVP_DigestInit_ex(sha, EVP_sha256(), NULL);
  while (sent < total) {
    size_t len = total - sent < sizeof chunk ? (size_t)(total - sent) : sizeof chunk;
    int rc;
    random_fill(chunk, len);
    EVP_DigestUpdate(sha, chunk, len);
    if (run->config->rate_mbps > 0) {
      rc = send_paced(run, conn, chunk, len, started, &sent, &last_progress);
    } else {
      rc = conn_send_all(conn, chunk, len);
      sent += len;
    }
    if (rc != 0) {
      return fail_errno(run, "upload", errno);
    }
  }
  if (run->config->rate_mbps > 0) {
    interop_record("PROGRESS family=%d sent=%" PRIu64, run->number, sent);
  }
  return check_digest(run, conn, "upload", sha);
}

static int download(family_run *run, interop_conn *conn, EVP_MD_CTX *sha) {
  char request[48];
  snprintf(request, sizeof request, "DOWNLOAD %" PRIu64, run->config->bytes);
  EVP_DigestInit_ex(sha, EVP_sha256(), NULL);
  if (conn_send_line(conn, request) != 0 ||
      conn_read_hashed(conn, run->config->bytes, sha) != 0) {
    return fail_errno(run, "download", errno);
  }
  return check_digest(run, conn, "download", sha);
}

static int quit(family_run *run, interop_conn *conn) {
  char reply[INTEROP_MAX_LINE + 1];
  if (exchange(run, conn, "quit", "QUIT", reply, sizeof reply) != 0) {
    return -1;
  }
  return strcmp(reply, "BYE") == 0 ? 0 : fail_text(run, "quit", "unexpected-reply");
}

/* Waits for the PONG of `expected` until `until`. Returns 1 when it came, 0 when not. */
static int await_pong(int fd, const char *expected, double until) {
  size_t want = strlen(expected);
  for (;;) {
    char buf[256];
    ssize_t n;
    int ready = wait_ready(fd, POLLIN, until, PING_RETRY_S);
    if (ready < 0) {
      return 0;
    }
    if (ready == 0) {
      continue;
    }
    n = ntm_recvfrom(fd, buf, sizeof buf, MSG_DONTWAIT, NULL, NULL);
    if (n == (ssize_t)want && memcmp(buf, expected, want) == 0) {
      return 1;
    }
    /* anything else (a late PONG of an earlier try, EAGAIN): keep waiting */
  }
}

static int udp_pings(family_run *run, const struct sockaddr_storage *addr, socklen_t len) {
  unsigned i;
  int fd = ntm_socket(addr->ss_family, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    return fail_errno(run, "udp", errno);
  }
  for (i = 1; i <= run->config->udp_count; ++i) {
    char ping[64];
    char pong[64];
    int tries = 0;
    int answered = 0;
    snprintf(ping, sizeof ping, "PING %s-%d-%u", INTEROP_LANG, run->number, i);
    snprintf(pong, sizeof pong, "PONG %s-%d-%u", INTEROP_LANG, run->number, i);
    while (!answered && tries < PING_TRIES) {
      double until = now_s() + PING_RETRY_S;
      if (until > run->config->deadline) {
        until = run->config->deadline;
      }
      if (now_s() >= run->config->deadline) {
        ntm_close(fd);
        return fail_text(run, "udp", "timeout");
      }
      if (ntm_sendto(fd, ping, strlen(ping), 0, (const struct sockaddr *)addr, len) < 0) {
        int err = errno;
        ntm_close(fd);
        return fail_errno(run, "udp", err);
      }
      tries += 1;
      answered = await_pong(fd, pong, until);
    }
    if (!answered) {
      ntm_close(fd);
      snprintf(run->reason, sizeof run->reason, "no-pong-for-ping-%u", i);
      return fail(run, "udp");
    }
  }
  ntm_close(fd);
  return 0;
}

/* All steps for one family; prints RESULT or FAIL. Returns 0 or -1. */
static int run_family(family_run *run, EVP_MD_CTX *sha) {
  static interop_conn conn; /* 64 KiB buffer: not on the stack */
  struct sockaddr_storage addr;
  socklen_t len = 0;
  double started = now_s();
  int fd;
  int ok;

  if (resolve_peer(run, &addr, &len) != 0) {
    return -1;
  }
  fd = connect_peer(&addr, len, run->config->deadline);
  if (fd < 0) {
    return fail_errno(run, "connect", errno);
  }
  conn_init(&conn, fd, run->config->deadline);
  /* Each step prints FAIL itself; the first failure ends the run. */
  ok = say_hello(run, &conn) == 0 && echo_three(run, &conn) == 0 &&
       upload(run, &conn, sha) == 0 && download(run, &conn, sha) == 0 && quit(run, &conn) == 0;
  ntm_close(fd);
  if (!ok || udp_pings(run, &addr, len) != 0) {
    return -1;
  }
  interop_record("RESULT family=%d peer_lang=%s line=ok upload=ok download=ok udp=%u/%u "
                 "seconds=%.3f",
                 run->number, run->peer_lang, run->config->udp_count, run->config->udp_count,
                 now_s() - started);
  return 0;
}

static void print_tunnels(void) {
  static const char *const paths[] = {"none", "direct", "relay"};
  ntm_tunnel_info *rows = NULL;
  size_t count = 0;
  size_t i;
  if (ntm_tunnels_snapshot(&rows, &count) != NTM_OK) {
    fprintf(stderr, "ntm-interop-node: ntm_tunnels_snapshot: %s\n", ntm_last_error());
    return;
  }
  for (i = 0; i < count; ++i) {
    const ntm_tunnel_info *t = &rows[i];
    interop_record("TUNNEL peer=%s vip4=%s vip6=%s path=%s endpoint=%s bytes_sent=%" PRIu64
                   " bytes_received=%" PRIu64,
                   t->peer_name, t->virtual_ipv4, t->virtual_ipv6,
                   (unsigned)t->path < 3 ? paths[t->path] : "unknown", t->endpoint,
                   t->bytes_sent, t->bytes_received);
  }
  ntm_tunnels_free(rows);
}

int run_client(const interop_config *config) {
  EVP_MD_CTX *sha = EVP_MD_CTX_new();
  int i;
  if (sha == NULL) {
    fprintf(stderr, "ntm-interop-node: out of memory\n");
    return 1;
  }
  for (i = 0; i < config->family_count; ++i) {
    family_run run;
    memset(&run, 0, sizeof run);
    run.config = config;
    run.family = config->families[i];
    run.number = run.family == AF_INET ? 4 : 6;
    if (run_family(&run, sha) != 0) {
      EVP_MD_CTX_free(sha);
      return 1;
    }
  }
  EVP_MD_CTX_free(sha);
  print_tunnels();
  interop_record("DONE lang=%s", INTEROP_LANG);
  return 0;
}
