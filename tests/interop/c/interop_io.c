/* interop_io.c - records, time, reasons, hashing and buffered stream I/O of the C interop node. */
#include "interop.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Records come from several threads on the server; one line must never interleave another. */
static pthread_mutex_t record_lock = PTHREAD_MUTEX_INITIALIZER;

void interop_record(const char *format, ...) {
  va_list args;
  pthread_mutex_lock(&record_lock);
  va_start(args, format);
  vprintf(format, args);
  va_end(args);
  putchar('\n');
  fflush(stdout);
  pthread_mutex_unlock(&record_lock);
}

double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void sleep_s(double seconds) {
  struct timespec ts;
  if (seconds <= 0) {
    return;
  }
  ts.tv_sec = (time_t)seconds;
  ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

const char *reason_from_errno(int err, char *buf, size_t size) {
  char text[128];
  size_t i;
  if (err == ETIMEDOUT || err == EAGAIN || err == EWOULDBLOCK) {
    snprintf(buf, size, "timeout");
    return buf;
  }
  if (err == ENODATA) {
    snprintf(buf, size, "connection-closed");
    return buf;
  }
  if (strerror_r(err, text, sizeof text) != 0) {
    snprintf(text, sizeof text, "errno-%d", err);
  }
  for (i = 0; text[i] != '\0' && i + 1 < size; ++i) {
    buf[i] = text[i] == ' ' ? '-' : (char)tolower((unsigned char)text[i]);
  }
  buf[i] = '\0';
  return buf;
}

void random_fill(unsigned char *buf, size_t len) {
  if (RAND_bytes(buf, (int)len) != 1) {
    fprintf(stderr, "ntm-interop-node: RAND_bytes failed\n");
    abort();
  }
}

void sha256_hex_final(EVP_MD_CTX *ctx, char hex[65]) {
  unsigned char digest[32];
  unsigned int len = 0;
  unsigned int i;
  EVP_DigestFinal_ex(ctx, digest, &len);
  for (i = 0; i < 32; ++i) {
    snprintf(hex + 2 * i, 3, "%02x", digest[i]);
  }
  hex[64] = '\0';
}

int wait_ready(int fd, short events, double deadline, double slice_s) {
  struct pollfd entry;
  double left = deadline - now_s();
  double wait;
  int rc;
  if (left <= 0) {
    errno = ETIMEDOUT;
    return -1;
  }
  wait = left < slice_s ? left : slice_s;
  entry.fd = fd;
  entry.events = events;
  entry.revents = 0;
  rc = ntm_poll(&entry, 1, (int)(wait * 1000.0) + 1);
  if (rc < 0) {
    return errno == EINTR ? 0 : -1;
  }
  if (rc == 0) {
    if (now_s() >= deadline) {
      errno = ETIMEDOUT;
      return -1;
    }
    return 0;
  }
  /* POLLERR/POLLHUP count as ready: the recv or send that follows reports the error. */
  return 1;
}

void conn_init(interop_conn *c, int fd, double deadline) {
  c->fd = fd;
  c->deadline = deadline;
  c->head = 0;
  c->tail = 0;
}

/* Flags for a call that must not block when the connection waits in ntm_poll() instead. */
static int io_flags(const interop_conn *c) {
  return c->deadline > 0 ? MSG_DONTWAIT : 0;
}

/* Refills the empty read buffer. Returns 0, or -1 with errno (ENODATA at end of stream). */
static int conn_fill(interop_conn *c) {
  for (;;) {
    ssize_t n;
    if (c->deadline > 0) {
      int ready = wait_ready(c->fd, POLLIN, c->deadline, INTEROP_DEADLINE_S);
      if (ready < 0) {
        return -1;
      }
      if (ready == 0) {
        continue;
      }
    }
    n = ntm_recv(c->fd, c->buf, sizeof c->buf, io_flags(c));
    if (n > 0) {
      c->head = 0;
      c->tail = (size_t)n;
      return 0;
    }
    if (n == 0) {
      errno = ENODATA;
      return -1;
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (c->deadline > 0) {
        continue; /* readiness was spurious: wait again */
      }
      errno = ETIMEDOUT; /* SO_RCVTIMEO expired */
    }
    return -1;
  }
}

int conn_read_line(interop_conn *c, char *line, size_t size) {
  size_t len = 0;
  for (;;) {
    while (c->head < c->tail) {
      char byte = (char)c->buf[c->head++];
      if (byte == '\n') {
        line[len] = '\0';
        return 0;
      }
      if (len + 1 >= size) {
        errno = EMSGSIZE;
        return -1;
      }
      line[len++] = byte;
    }
    if (conn_fill(c) != 0) {
      return -1;
    }
  }
}

int conn_read_hashed(interop_conn *c, uint64_t n, EVP_MD_CTX *sha) {
  while (n > 0) {
    size_t take;
    if (c->head == c->tail && conn_fill(c) != 0) {
      return -1;
    }
    take = c->tail - c->head;
    if ((uint64_t)take > n) {
      take = (size_t)n;
    }
    if (sha != NULL) {
      EVP_DigestUpdate(sha, c->buf + c->head, take);
    }
    c->head += take;
    n -= take;
  }
  return 0;
}

int conn_send_all(interop_conn *c, const void *data, size_t len) {
  const unsigned char *bytes = data;
  size_t done = 0;
  while (done < len) {
    ssize_t n;
    if (c->deadline > 0) {
      int ready = wait_ready(c->fd, POLLOUT, c->deadline, INTEROP_DEADLINE_S);
      if (ready < 0) {
        return -1;
      }
      if (ready == 0) {
        continue;
      }
    }
    n = ntm_send(c->fd, bytes + done, len - done, MSG_NOSIGNAL | io_flags(c));
    if (n > 0) {
      done += (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (c->deadline > 0) {
        continue;
      }
      errno = ETIMEDOUT; /* SO_SNDTIMEO expired */
    }
    if (n == 0) {
      errno = EPIPE;
    }
    return -1;
  }
  return 0;
}

int conn_send_line(interop_conn *c, const char *text) {
  char line[INTEROP_MAX_LINE + 2];
  int len = snprintf(line, sizeof line, "%s\n", text);
  if (len < 0 || (size_t)len >= sizeof line) {
    errno = EMSGSIZE;
    return -1;
  }
  return conn_send_all(c, line, (size_t)len);
}
