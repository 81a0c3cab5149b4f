/*
 * ntm-echo-client: starts a node, connects to NAME:PORT on a peer's virtual address (resolved
 * with ntm_getaddrinfo), sends a message (or each line of stdin) and prints what comes back.
 */
#include "node_args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *program = "ntm-echo-client";

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

/* Resolves and connects. Returns the ntm descriptor or -1 with a message. */
static int connect_to(const char *target, int family) {
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
    if (ntm_connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
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

/* Prints this node's tunnel table: peer, virtual addresses, path, real endpoint, bytes. */
static void show_tunnels(void) {
  static const char *const states[] = {"idle", "handshake", "up"};
  static const char *const paths[] = {"none", "direct", "relay"};
  ntm_tunnel_info *rows = NULL;
  size_t count = 0;
  size_t i;
  if (ntm_tunnels_snapshot(&rows, &count) != NTM_OK) {
    fprintf(stderr, "%s: ntm_tunnels_snapshot: %s\n", program, ntm_last_error());
    return;
  }
  printf("%-16s %-12s %-18s %-9s %-7s %-22s %10s %10s\n", "peer", "vIPv4", "vIPv6", "state",
         "path", "endpoint", "sent", "received");
  for (i = 0; i < count; ++i) {
    const ntm_tunnel_info *t = &rows[i];
    printf("%-16s %-12s %-18s %-9s %-7s %-22s %10llu %10llu\n", t->peer_name, t->virtual_ipv4,
           t->virtual_ipv6, states[t->state], paths[t->path], t->endpoint,
           (unsigned long long)t->bytes_sent, (unsigned long long)t->bytes_received);
  }
  ntm_tunnels_free(rows);
}

int main(int argc, char **argv) {
  node_args args;
  int tunnels = 0;
  const char *target = NULL;
  const char *message = NULL;
  int family = AF_INET;
  int i = 1;
  int rc;
  int fd;
  int status = 0;

  if (node_args_init(&args) != 0) {
    return 1;
  }
  while (i < argc) {
    int used = node_args_consume(&args, program, argc, argv, &i);
    if (used < 0) {
      return 2;
    }
    if (used > 0) {
      continue;
    }
    if (strcmp(argv[i], "--connect") == 0 && i + 1 < argc) {
      target = argv[i + 1];
      i += 2;
    } else if (strcmp(argv[i], "--show-tunnels") == 0) {
      tunnels = 1;
      ++i;
    } else if (strcmp(argv[i], "-6") == 0) {
      family = AF_INET6;
      ++i;
    } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      usage(stdout);
      return 0;
    } else if (argv[i][0] != '-' && message == NULL) {
      message = argv[i];
      ++i;
    } else {
      fprintf(stderr, "%s: unexpected argument '%s'\n\n", program, argv[i]);
      usage(stderr);
      return 2;
    }
  }
  if (node_args_check(&args, program) != 0) {
    return 2;
  }
  if (target == NULL) {
    fprintf(stderr, "%s: --connect NAME:PORT is required\n", program);
    return 2;
  }

  rc = ntm_start(&args.options);
  if (rc != NTM_OK) {
    fprintf(stderr, "%s: ntm_start failed: %s (%s)\n", program, ntm_strerror(rc), ntm_last_error());
    node_args_free(&args);
    return 1;
  }
  fd = connect_to(target, family);
  if (fd < 0) {
    status = 1;
  } else if (message != NULL) {
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
    while (status == 0 && fgets(line, sizeof line, stdin) != NULL) {
      size_t len = strlen(line);
      if (exchange(fd, line, len, echo) != 0) {
        status = 1;
        break;
      }
      fwrite(echo, 1, len, stdout);
      fflush(stdout);
    }
  }
  if (tunnels && status == 0) {
    show_tunnels();
  }
  if (fd >= 0) {
    ntm_close(fd);
  }
  ntm_stop();
  node_args_free(&args);
  return status;
}
