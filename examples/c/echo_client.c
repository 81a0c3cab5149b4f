/*
 * ntm-echo-client: starts a node, connects to NAME:PORT on a peer's virtual address (resolved
 * with ntm_getaddrinfo), sends a message (or each line of stdin) and prints what comes back.
 */
#include "example_net.h"
#include "example_program.h"
#include "node_args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *program = "ntm-echo-client";

/* A peer that never answers costs this long, not lwIP's full SYN retry schedule. */
#define CONNECT_TIMEOUT_MS 30000

static void usage(FILE *out) {
  fprintf(out,
          "usage: %s NODE-OPTIONS --connect NAME:PORT [-6] [--show-tunnels] [MESSAGE]\n"
          "Connects to NAME:PORT over the virtual network (IPv4, or IPv6 with -6), sends MESSAGE\n"
          "(or every line of standard input) and prints the echo; --show-tunnels then prints\n"
          "the tunnel table.\n\n",
          program);
  fputs(node_args_usage(), out);
}

/* Sends len bytes and reads the same number back into echo. Returns 0, or -1 with a message. */
static int exchange(int fd, const char *data, size_t len, char *echo) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = ntm_send(fd, data + done, len - done, MSG_NOSIGNAL);
    if (n < 0) {
      fprintf(stderr, "%s: ntm_send: %s\n", program, strerror(errno));
      return -1;
    }
    done += (size_t)n;
  }
  done = 0;
  while (done < len) {
    ssize_t n = ntm_recv(fd, echo + done, len - done, 0);
    if (n < 0) {
      fprintf(stderr, "%s: ntm_recv: %s\n", program, strerror(errno));
      return -1;
    }
    if (n == 0) {
      fprintf(stderr, "%s: the server closed the connection after %zu of %zu bytes\n", program,
              done, len);
      return -1;
    }
    done += (size_t)n;
  }
  return 0;
}

static const char *target = NULL;
static const char *message = NULL;
static int family = AF_INET;
static int tunnels = 0;

static int parse_option(int argc, char **argv, int *i) {
  if (strcmp(argv[*i], "--connect") == 0 && *i + 1 < argc) {
    target = argv[*i + 1];
    *i += 2;
  } else if (strcmp(argv[*i], "--show-tunnels") == 0) {
    tunnels = 1;
    ++*i;
  } else if (strcmp(argv[*i], "-6") == 0) {
    family = AF_INET6;
    ++*i;
  } else if (argv[*i][0] != '-' && message == NULL) {
    message = argv[*i];
    ++*i;
  } else {
    return 0;
  }
  return 1;
}

/* Echoes MESSAGE, or every line of stdin. Returns the exit status. */
static int echo_all(int fd) {
  int status = 0;
  if (message != NULL) {
    size_t len = strlen(message);
    char *echo = malloc(len + 1);
    if (echo == NULL || exchange(fd, message, len, echo) != 0) {
      status = 1;
    } else {
      echo[len] = '\0';
      printf("%s\n", echo);
    }
    free(echo);
  } else {
    char line[4096];
    char echo[sizeof line];
    while (fgets(line, sizeof line, stdin) != NULL) {
      size_t len = strlen(line);
      if (exchange(fd, line, len, echo) != 0) {
        status = 1;
        break;
      }
      fwrite(echo, 1, len, stdout);
      fflush(stdout);
    }
  }
  return status;
}

int main(int argc, char **argv) {
  const example_command_line command = {program, usage, parse_option, "unexpected"};
  node_args args;
  int fd;
  int status;

  status = example_parse_command_line(&command, argc, argv, &args);
  if (status != 0) {
    return status < 0 ? 0 : status;
  }
  if (target == NULL) {
    fprintf(stderr, "%s: --connect NAME:PORT is required\n", program);
    return 2;
  }

  if (example_start_node(program, &args.options) != 0) {
    node_args_free(&args);
    return 1;
  }
  fd = example_connect(program, target, family, CONNECT_TIMEOUT_MS);
  status = fd < 0 ? 1 : echo_all(fd);
  /* The tunnel table only after a successful exchange. */
  example_stop_node(program, tunnels && status == 0, fd);
  node_args_free(&args);
  return status;
}
