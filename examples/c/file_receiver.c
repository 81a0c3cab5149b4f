/*
 * ntm-file-receiver: stores files that ntm-file-sender (any language's) sends over the virtual
 * network.
 *
 *   ntm-file-receiver NODE-OPTIONS --dir DIR [--port 7200]
 *
 * Each connection carries one request line "PUT <name> <size>" and then exactly <size> bytes.
 * The name must be a plain file name (no '/', not "." or "..", at most 255 bytes) and the size
 * at most 2^40, else the answer is "ERROR bad-name" / "ERROR bad-size". The bytes go to
 * DIR/<name>.part while being hashed (SHA-256, OpenSSL EVP); when all have arrived the file is
 * renamed to DIR/<name> and the answer is "OK <sha256 hex>". A connection that ends early leaves
 * nothing behind. One thread per connection; runs until SIGINT/SIGTERM.
 */
#include "example_net.h"
#include "example_program.h"
#include "line_io.h"
#include "node_args.h"
#include "sha256_hex.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *program = "ntm-file-receiver";
static const char *directory;

#define MAX_SIZE (UINT64_C(1) << 40)
#define NAME_MAX_BYTES 255
/* A sender that goes silent this long is treated as gone (the .part file is removed). */
#define IDLE_TIMEOUT_SECONDS 30

static void usage(FILE *out) {
  fprintf(out,
          "usage: %s NODE-OPTIONS --dir DIR [--port PORT]\n"
          "Receives files into DIR on TCP port PORT (default 7200) of this node's virtual\n"
          "addresses: per connection \"PUT <name> <size>\", the bytes, answer \"OK <sha256>\".\n\n",
          program);
  fputs(node_args_usage(), out);
}

static int valid_name(const char *name) {
  size_t len = strlen(name);
  return len > 0 && len <= NAME_MAX_BYTES && strchr(name, '/') == NULL &&
         strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

/* Parses a decimal size up to MAX_SIZE (digits only: no sign, no spaces). */
static int parse_size(const char *text, uint64_t *size) {
  uint64_t value = 0;
  if (*text == '\0') {
    return -1;
  }
  for (; *text != '\0'; ++text) {
    if (*text < '0' || *text > '9') {
      return -1;
    }
    value = value * 10 + (uint64_t)(*text - '0');
    if (value > MAX_SIZE) {
      return -1;
    }
  }
  *size = value;
  return 0;
}

/*
 * Parses "PUT <name> <size>" in place: the name is everything between "PUT " and the last space
 * (so names may contain spaces). Returns NULL and sets *name and *size, or the ERROR answer to send.
 */
static const char *parse_request(char *line, size_t length, const char **name, uint64_t *size) {
  char *last_space;
  if (strlen(line) != length) {
    return "ERROR bad-name"; /* a NUL byte: C would silently cut the name there */
  }
  if (strncmp(line, "PUT ", 4) != 0) {
    return "ERROR bad-request";
  }
  last_space = strrchr(line + 4, ' ');
  if (last_space == NULL) {
    return "ERROR bad-request";
  }
  *last_space = '\0';
  *name = line + 4;
  if (!valid_name(*name)) {
    return "ERROR bad-name";
  }
  if (parse_size(last_space + 1, size) != 0) {
    return "ERROR bad-size";
  }
  return NULL;
}

/* Sends a refusal, then lets the sender's bytes drain for a moment before closing: closing with
 * unread data would reset the connection, and a reset can destroy the answer before the sender
 * has read it. */
static void refuse(int fd, const char *answer) {
  char sink[16384];
  struct timeval drain = {2, 0};
  double until = example_now() + 5;
  send_line(ntm_send, fd, answer);
  ntm_shutdown(fd, SHUT_WR);
  ntm_setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &drain, sizeof drain);
  while (example_now() < until && ntm_recv(fd, sink, sizeof sink, 0) > 0) {
  }
}

/*
 * Copies exactly `size` bytes (first those the reader buffered after the request line) into
 * `out`, hashing them. Returns 0, or -1 when the connection ended early or a write failed.
 */
static int receive_body(line_reader *reader, int out, uint64_t size, sha256_hex *hash,
                        const char *name) {
  char chunk[65536];
  uint64_t done = 0;
  while (done < size) {
    size_t want = size - done < sizeof chunk ? (size_t)(size - done) : sizeof chunk;
    ssize_t n = (ssize_t)line_reader_take(reader, chunk, want);
    if (n == 0) {
      n = ntm_recv(reader->fd, chunk, want, 0);
    }
    if (n <= 0) {
      fprintf(stderr, "%s: %s: connection ended after %" PRIu64 " of %" PRIu64 " bytes%s%s\n",
              program, name, done, size, n < 0 ? ": " : "", n < 0 ? strerror(errno) : "");
      return -1;
    }
    sha256_hex_update(hash, chunk, (size_t)n);
    if (write(out, chunk, (size_t)n) != n) {
      fprintf(stderr, "%s: %s: write failed: %s\n", program, name, strerror(errno));
      return -1;
    }
    done += (uint64_t)n;
  }
  return 0;
}

/* Receives one file on an accepted connection, answering OK or ERROR. */
static void receive_file(int fd, const struct sockaddr_storage *from, line_reader *reader) {
  char part[4096];
  char final[4096];
  char peer[64];
  char answer[128];
  const char *name = NULL;
  const char *error;
  uint64_t size = 0;
  sha256_hex hash;
  double started = example_now();
  int out;
  line_status status = line_reader_next(reader);

  example_format_address(from, peer, sizeof peer);
  if (status != LINE_OK) {
    if (status == LINE_TOO_LONG) {
      fprintf(stderr, "%s: refused a request from %s: ERROR bad-request\n", program, peer);
      refuse(fd, "ERROR bad-request");
    }
    return;
  }
  error = parse_request(reader->line, reader->length, &name, &size);
  if (error != NULL) {
    fprintf(stderr, "%s: refused a request from %s: %s\n", program, peer, error);
    refuse(fd, error);
    return;
  }
  snprintf(part, sizeof part, "%s/%s.part", directory, name);
  snprintf(final, sizeof final, "%s/%s", directory, name);
  /* O_EXCL: two uploads of one name at the same time must not write into the same .part. */
  out = open(part, O_WRONLY | O_CREAT | O_EXCL, 0644);
  if (out < 0) {
    fprintf(stderr, "%s: cannot create %s: %s\n", program, part, strerror(errno));
    refuse(fd, errno == EEXIST ? "ERROR busy" : "ERROR cannot-write");
    return;
  }
  if (sha256_hex_init(&hash) != 0) {
    close(out);
    unlink(part);
    refuse(fd, "ERROR internal");
    return;
  }
  if (receive_body(reader, out, size, &hash, name) != 0 || close(out) != 0) {
    sha256_hex_free(&hash);
    unlink(part); /* an incomplete upload leaves no file behind */
    return;
  }
  sha256_hex_final(&hash);
  if (rename(part, final) != 0) {
    fprintf(stderr, "%s: cannot rename %s: %s\n", program, part, strerror(errno));
    unlink(part);
    refuse(fd, "ERROR cannot-write");
    return;
  }
  snprintf(answer, sizeof answer, "OK %s", hash.hex);
  send_line(ntm_send, fd, answer);
  printf("received %s %" PRIu64 " bytes sha256=%s from %s in %.2fs\n", name, size, hash.hex, peer,
         example_now() - started);
  fflush(stdout);
}

/* One upload, in its own thread. */
static void serve_upload(int fd, const struct sockaddr_storage *peer) {
  line_reader *reader = malloc(sizeof *reader);
  struct timeval idle = {IDLE_TIMEOUT_SECONDS, 0};
  ntm_setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &idle, sizeof idle);
  if (reader != NULL) {
    line_reader_init(reader, fd, ntm_recv);
    receive_file(fd, peer, reader);
  }
  free(reader);
}

static unsigned short port = 7200;

static int parse_option(int argc, char **argv, int *i) {
  int used = example_port_option(program, argc, argv, i, &port);
  if (used == 0 && strcmp(argv[*i], "--dir") == 0 && *i + 1 < argc) {
    directory = argv[*i + 1];
    *i += 2;
    used = 1;
  }
  return used;
}

static void print_ready(const ntm_node_info *info, unsigned short listen_port) {
  printf("file receiver %s listening on port %u (vip4 %s, vip6 %s), saving to %s\n", info->name,
         listen_port, info->virtual_ipv4[0] ? info->virtual_ipv4 : "-",
         info->virtual_ipv6[0] ? info->virtual_ipv6 : "-", directory);
  fflush(stdout);
}

int main(int argc, char **argv) {
  const example_command_line command = {program, usage, parse_option, "unknown"};
  /* Uploads still running at shutdown see their connection close and remove their .part file;
   * drain_seconds gives them the time to. */
  example_service service = {0, serve_upload, print_ready, NULL, 5};
  node_args args;
  struct stat st;
  int status;

  status = example_parse_command_line(&command, argc, argv, &args);
  if (status != 0) {
    return status < 0 ? 0 : status;
  }
  if (directory == NULL) {
    fprintf(stderr, "%s: --dir DIR is required\n", program);
    return 2;
  }
  if (stat(directory, &st) != 0 || !S_ISDIR(st.st_mode)) {
    fprintf(stderr, "%s: --dir %s is not a directory\n", program, directory);
    return 2;
  }
  service.port = port;
  status = example_serve_until_signal(program, &args.options, &service);
  node_args_free(&args);
  return status;
}
