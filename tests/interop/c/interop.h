/*
 * interop.h - the pieces of the C interop node (ntm-interop-node) shared by its files:
 * the parsed command line, stdout records, deadlines and stream I/O over ntm sockets.
 * The protocol and the records are specified in tests/interop/README.md.
 */
#ifndef NTM_INTEROP_H
#define NTM_INTEROP_H

#include <ntm.h>
#include <openssl/evp.h>

#include <stddef.h>
#include <stdint.h>

/** The language this node reports in HELLO, READY, RESULT and DONE. */
#define INTEROP_LANG "c"
/** Every blocking step of a client run ends by this many seconds after the program started. */
#define INTEROP_DEADLINE_S 60.0
/** A server connection idle (nothing read or written) this long is dropped. */
#define INTEROP_IDLE_S 60
/** Longest request or response line, without its '\n'. */
#define INTEROP_MAX_LINE 1024
/** Size of the chunks uploaded, downloaded and hashed. */
#define INTEROP_CHUNK 65536

/** The command line, parsed (node options live in interop_node.c). */
typedef struct interop_config {
  int is_server;       /**< 1 for "server", 0 for "client". */
  const char *peer;    /**< Client: the server node's FQDN. */
  unsigned short port; /**< TCP and UDP port on the virtual addresses. */
  uint64_t bytes;      /**< Client: bytes to upload and to download. */
  int families[2];     /**< Client: AF_INET and/or AF_INET6, in order. */
  int family_count;
  unsigned udp_count;  /**< Client: PING datagrams per family. */
  double rate_mbps;    /**< Client: upload pacing in megabits per second; 0 for none. */
  double deadline;     /**< Client: now_s() value by which everything must be done. */
} interop_config;

/* ---- records and time (interop_io.c) ---- */

/** Prints one stdout record (the format must not end in '\n') and flushes; thread-safe. */
void interop_record(const char *format, ...) __attribute__((format(printf, 1, 2)));

/** Seconds on a monotonic clock. */
double now_s(void);

/** Sleeps `seconds` (no-op for <= 0). */
void sleep_s(double seconds);

/**
 * A short reason without spaces for an errno value: "timeout" for ETIMEDOUT/EAGAIN,
 * "connection-closed" for ENODATA (our code for an early end of stream), else strerror() in
 * lower case with '-' for spaces. Returns `buf`.
 */
const char *reason_from_errno(int err, char *buf, size_t size);

/** Fills `buf` with random bytes. */
void random_fill(unsigned char *buf, size_t len);

/** Finishes `ctx` (SHA-256) into 64 lowercase hex digits plus NUL, and frees nothing. */
void sha256_hex_final(EVP_MD_CTX *ctx, char hex[65]);

/* ---- stream connections (interop_io.c) ---- */

/**
 * An ntm stream socket with a read buffer. Two ways of bounding the calls:
 * - deadline > 0 (client): the socket is non-blocking and every call waits in ntm_poll() at most
 *   until `deadline` (then fails with ETIMEDOUT);
 * - deadline == 0 (server): the socket blocks, bounded by SO_RCVTIMEO/SO_SNDTIMEO. Server
 *   connection threads must not sit in ntm_poll(): ntm_stop() closes their sockets, which is
 *   only safe for threads inside recv/send (see ntm_close() in ntm.h).
 */
typedef struct interop_conn {
  int fd;
  double deadline;
  unsigned char buf[INTEROP_CHUNK];
  size_t head; /* first unread byte in buf */
  size_t tail; /* end of the buffered bytes */
} interop_conn;

/** Attaches `fd` with the given deadline (0: blocking with socket timeouts). */
void conn_init(interop_conn *c, int fd, double deadline);

/**
 * Reads one '\n'-terminated line into `line` (without the '\n', NUL-terminated).
 * Returns 0, or -1 with errno: ENODATA at end of stream, EMSGSIZE for a line longer than
 * size - 1, ETIMEDOUT, or the socket's error.
 */
int conn_read_line(interop_conn *c, char *line, size_t size);

/** Reads exactly `n` bytes and feeds them to `sha` (may be NULL). Returns 0 or -1 as above. */
int conn_read_hashed(interop_conn *c, uint64_t n, EVP_MD_CTX *sha);

/** Sends all `len` bytes. Returns 0, or -1 with errno (ETIMEDOUT at the deadline). */
int conn_send_all(interop_conn *c, const void *data, size_t len);

/** Sends `text` followed by '\n'. Returns 0 or -1 as conn_send_all(). */
int conn_send_line(interop_conn *c, const char *text);

/**
 * Waits until `fd` is ready for `events` (POLLIN/POLLOUT) or `deadline` passes, in slices of at
 * most `slice_s` seconds. Returns 1 when ready, 0 when the slice ended first, -1 with errno
 * (ETIMEDOUT at the deadline).
 */
int wait_ready(int fd, short events, double deadline, double slice_s);

/* ---- the two roles ---- */

/** interop_server.c: serves until SIGTERM/SIGINT/end of stdin; returns the exit status. */
int run_server(const interop_config *config, const ntm_node_info *info);

/** interop_client.c: runs the client steps against config->peer; returns the exit status. */
int run_client(const interop_config *config);

#endif /* NTM_INTEROP_H */
