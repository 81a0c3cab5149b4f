/*
 * ntm-file-sender: sends one file to an ntm-file-receiver (any language's) by node name.
 *
 *   ntm-file-sender NODE-OPTIONS --connect NAME:PORT [-6] FILE [--as NAME] [--show-tunnels]
 *
 * It sends "PUT <name> <size>" (name: FILE's base name or --as NAME), then the file in 64 KiB
 * chunks - never the whole file in memory - hashing it (SHA-256) on the way, and compares the
 * receiver's "OK <sha256>" answer with its own digest. Exit 0 when they match, 1 on a mismatch,
 * an ERROR answer or a network failure (message on stderr), 2 on bad arguments.
 */
#include "example_net.h"
#include "example_program.h"
#include "line_io.h"
#include "node_args.h"
#include "sha256_hex.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

static const char *program = "ntm-file-sender";

#define CONNECT_TIMEOUT_MS 30000
/* How long to wait for the receiver's answer once everything is sent. */
#define ANSWER_TIMEOUT_SECONDS 60

static void usage(FILE *out) {
  fprintf(out,
          "usage: %s NODE-OPTIONS --connect NAME:PORT [-6] FILE [--as NAME] [--show-tunnels]\n"
          "Sends FILE to a file receiver over the virtual network (IPv4, or IPv6 with -6) under\n"
          "its base name or NAME, and checks the receiver's SHA-256 against its own.\n\n",
          program);
  fputs(node_args_usage(), out);
}

/* True once the receiver has said something while we are still sending (an early ERROR). */
static int answer_waiting(int fd) {
  struct pollfd pfd;
  pfd.fd = fd;
  pfd.events = POLLIN;
  pfd.revents = 0;
  return ntm_poll(&pfd, 1, 0) > 0;
}

/*
 * Sends the request and the file. Returns 0 when all was sent, 1 when the receiver answered (or
 * the connection broke) before the end - the caller then reads the answer - or -1 on a local
 * read error.
 */
static int send_file(int fd, int file, const char *name, uint64_t size, sha256_hex *hash) {
  char chunk[65536];
  uint64_t done = 0;
  int header_len = snprintf(chunk, sizeof chunk, "PUT %s %" PRIu64 "\n", name, size);
  if (send_all(ntm_send, fd, chunk, (size_t)header_len) != 0) {
    return 1;
  }
  while (done < size) {
    ssize_t n = read(file, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      fprintf(stderr, "%s: reading the file failed after %" PRIu64 " bytes: %s\n", program, done,
              n < 0 ? strerror(errno) : "it got shorter");
      return -1;
    }
    sha256_hex_update(hash, chunk, (size_t)n);
    if (answer_waiting(fd) || send_all(ntm_send, fd, chunk, (size_t)n) != 0) {
      return 1;
    }
    done += (uint64_t)n;
  }
  return 0;
}

/* Reads the receiver's answer and judges it. Returns the exit status. */
static int check_answer(int fd, int complete, const char *name, uint64_t size, const char *hex,
                        double started) {
  line_reader *reader = malloc(sizeof *reader);
  struct timeval timeout = {ANSWER_TIMEOUT_SECONDS, 0};
  line_status status;
  double seconds;
  int result = 1;
  if (reader == NULL) {
    return 1;
  }
  ntm_setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  line_reader_init(reader, fd, ntm_recv);
  status = line_reader_next(reader);
  seconds = example_now() - started;
  if (status != LINE_OK) {
    fprintf(stderr, "%s: no answer from the receiver: %s\n", program,
            status == LINE_EOF ? "the connection closed" : strerror(errno));
  } else if (strncmp(reader->line, "OK ", 3) != 0) {
    fprintf(stderr, "%s: the receiver refused %s: %s\n", program, name, reader->line);
  } else if (!complete) {
    fprintf(stderr, "%s: the receiver answered '%s' before the whole file was sent\n", program,
            reader->line);
  } else if (strcmp(reader->line + 3, hex) != 0) {
    fprintf(stderr, "%s: SHA-256 mismatch for %s: sent %s, the receiver got %s\n", program, name,
            hex, reader->line + 3);
  } else {
    printf("sent %s %" PRIu64 " bytes in %.2fs (%.1f MB/s), sha256 %s verified by the receiver\n",
           name, size, seconds, seconds > 0 ? (double)size / 1e6 / seconds : 0.0, hex);
    fflush(stdout);
    result = 0;
  }
  free(reader);
  return result;
}

static const char *target = NULL;
static const char *path = NULL;
static const char *name = NULL;
static int family = AF_INET;
static int tunnels = 0;

static int parse_option(int argc, char **argv, int *i) {
  if (strcmp(argv[*i], "--connect") == 0 && *i + 1 < argc) {
    target = argv[*i + 1];
    *i += 2;
  } else if (strcmp(argv[*i], "--as") == 0 && *i + 1 < argc) {
    name = argv[*i + 1];
    *i += 2;
  } else if (strcmp(argv[*i], "-6") == 0) {
    family = AF_INET6;
    ++*i;
  } else if (strcmp(argv[*i], "--show-tunnels") == 0) {
    tunnels = 1;
    ++*i;
  } else if (argv[*i][0] != '-' && path == NULL) {
    path = argv[*i];
    ++*i;
  } else {
    return 0;
  }
  return 1;
}

int main(int argc, char **argv) {
  const example_command_line command = {program, usage, parse_option, "unexpected"};
  node_args args;
  int fd;
  int file;
  int status;
  struct stat st;
  sha256_hex hash;
  double started;

  status = example_parse_command_line(&command, argc, argv, &args);
  if (status != 0) {
    return status < 0 ? 0 : status;
  }
  if (target == NULL || path == NULL) {
    fprintf(stderr, "%s: --connect NAME:PORT and FILE are required\n", program);
    return 2;
  }
  file = open(path, O_RDONLY);
  if (file < 0 || fstat(file, &st) != 0 || !S_ISREG(st.st_mode)) {
    fprintf(stderr, "%s: cannot send %s: %s\n", program, path,
            file < 0 ? strerror(errno) : "not a regular file");
    return 2;
  }
  if (name == NULL) {
    name = strrchr(path, '/') != NULL ? strrchr(path, '/') + 1 : path;
  }
  /* The receiver judges the name; only what would break the one-line request is refused here. */
  if (*name == '\0' || strchr(name, '\n') != NULL) {
    fprintf(stderr, "%s: the file name to send must be one non-empty line\n", program);
    return 2;
  }

  if (example_start_node(program, &args.options) != 0) {
    node_args_free(&args);
    return 1;
  }
  status = 1;
  started = example_now();
  fd = example_connect(program, target, family, CONNECT_TIMEOUT_MS);
  if (fd >= 0 && sha256_hex_init(&hash) == 0) {
    int sent = send_file(fd, file, name, (uint64_t)st.st_size, &hash);
    sha256_hex_final(&hash);
    if (sent >= 0) {
      status = check_answer(fd, sent == 0, name, (uint64_t)st.st_size, hash.hex, started);
    }
  }
  example_stop_node(program, tunnels, fd);
  close(file);
  node_args_free(&args);
  return status;
}
