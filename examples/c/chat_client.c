/*
 * ntm-chat-client: joins an ntm-chat-server (any language's) by node name.
 *
 *   ntm-chat-client NODE-OPTIONS --connect NAME:PORT --nick NICK [-6] [--say TEXT]...
 *                   [--wait-for TEXT]... [--timeout SECONDS] [--show-tunnels]
 *
 * It sends "NICK <nick>" and prints every line the server sends. Interactive (no --say): each
 * line of stdin is sent; at the end of stdin it sends /quit and waits for BYE. Scripted: after
 * WELCOME it sends each --say line, waits until every --wait-for text has appeared in a received
 * line (history included), then sends /quit and waits for BYE; --timeout (default 30 s) bounds
 * the whole run. Exit 0 on success, 1 on a network failure, a timeout or an ERROR from the
 * server, 2 on bad arguments.
 *
 * The connection is turned into an OS descriptor with ntm_bridge_socket(), so one poll() loop
 * waits for the server and for stdin together.
 */
#include "example_net.h"
#include "example_program.h"
#include "line_io.h"
#include "node_args.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *program = "ntm-chat-client";

typedef enum phase { WAIT_WELCOME, TALKING, WAIT_BYE, DONE } phase;

typedef struct chat {
  int sock;                  /* bridged OS descriptor of the connection */
  const char *nick;
  const char **says;         /* --say texts, in order */
  size_t say_count;
  const char **waits;        /* --wait-for texts */
  int *found;                /* found[i]: waits[i] was seen */
  size_t wait_count;
  size_t missing;            /* waits not seen yet */
  double timeout;            /* seconds */
  double deadline;           /* example_now() value when the run (or the BYE wait) gives up */
  phase phase;
  int stdin_open;            /* interactive mode and stdin not at its end yet */
  line_reader server;
  line_reader input;
} chat;

static void usage(FILE *out) {
  fprintf(out,
          "usage: %s NODE-OPTIONS --connect NAME:PORT --nick NICK [-6] [--say TEXT]...\n"
          "       [--wait-for TEXT]... [--timeout SECONDS] [--show-tunnels]\n"
          "Chats with a chat server over the virtual network (IPv4, or IPv6 with -6).\n"
          "Without --say, sends each line of stdin; with it, sends the --say lines, waits for\n"
          "a received line containing each --wait-for text, then quits. --timeout (default 30)\n"
          "bounds a scripted run; --show-tunnels prints the tunnel table before exiting.\n\n",
          program);
  fputs(node_args_usage(), out);
}

/* read(2) in the recv(2) shape line_reader wants, for stdin. */
static ssize_t read_stdin(int fd, void *buf, size_t len, int flags) {
  (void)flags;
  return read(fd, buf, len);
}

static int say(chat *c, const char *text) {
  if (send_line(send, c->sock, text) != 0) {
    fprintf(stderr, "%s: sending to the server failed: %s\n", program, strerror(errno));
    return -1;
  }
  return 0;
}

static int quit(chat *c) {
  c->phase = WAIT_BYE;
  if (c->say_count == 0) { /* interactive: the wait for BYE is bounded from now on */
    c->deadline = example_now() + c->timeout;
  }
  return say(c, "/quit");
}

static void note_wanted(chat *c, const char *line) {
  size_t i;
  for (i = 0; i < c->wait_count; ++i) {
    if (!c->found[i] && strstr(line, c->waits[i]) != NULL) {
      c->found[i] = 1;
      --c->missing;
    }
  }
}

/* Acts on one line from the server. Returns 0, or -1 when the run failed. */
static int on_server_line(chat *c, const char *line) {
  size_t i;
  printf("%s\n", line);
  fflush(stdout);
  if (strncmp(line, "ERROR", 5) == 0) {
    fprintf(stderr, "%s: the server refused: %s\n", program, line);
    return -1;
  }
  if (c->phase == WAIT_WELCOME) {
    if (strncmp(line, "WELCOME ", 8) != 0) {
      fprintf(stderr, "%s: expected WELCOME, got '%s'\n", program, line);
      return -1;
    }
    c->phase = TALKING;
    for (i = 0; i < c->say_count; ++i) {
      if (say(c, c->says[i]) != 0) {
        return -1;
      }
    }
  } else if (strcmp(line, "BYE") == 0) {
    c->phase = DONE; /* also when the user typed /quit */
    return 0;
  } else {
    note_wanted(c, line);
  }
  if (c->phase == TALKING && c->say_count > 0 && c->missing == 0) {
    return quit(c);
  }
  return 0;
}

/* Sends the lines of stdin that are complete; at its end, /quit. Returns 0 or -1. */
static int on_stdin(chat *c) {
  line_status status;
  ssize_t n = line_reader_fill(&c->input);
  while ((status = line_reader_try(&c->input)) == LINE_OK) {
    if (say(c, c->input.line) != 0) {
      return -1;
    }
  }
  if (status == LINE_TOO_LONG) {
    fprintf(stderr, "%s: stdin line longer than %d bytes\n", program, LINE_IO_MAX);
    return -1;
  }
  if (n <= 0) {
    c->stdin_open = 0;
    return c->phase == TALKING ? quit(c) : 0;
  }
  return 0;
}

static void report_timeout(const chat *c) {
  size_t i;
  fprintf(stderr, "%s: timed out after %g s waiting for ", program, c->timeout);
  if (c->phase == WAIT_WELCOME) {
    fprintf(stderr, "WELCOME\n");
  } else if (c->phase == WAIT_BYE) {
    fprintf(stderr, "BYE\n");
  } else {
    const char *sep = "";
    for (i = 0; i < c->wait_count; ++i) {
      if (!c->found[i]) {
        fprintf(stderr, "%s\"%s\"", sep, c->waits[i]);
        sep = ", ";
      }
    }
    fprintf(stderr, "\n");
  }
}

/* The poll loop: server lines and (interactive) stdin until BYE. Returns 0 or -1. */
static int run(chat *c) {
  char nick_line[64];
  snprintf(nick_line, sizeof nick_line, "NICK %s", c->nick);
  if (say(c, nick_line) != 0) {
    return -1;
  }
  while (c->phase != DONE) {
    struct pollfd fds[2];
    nfds_t count = 1;
    int timeout_ms = -1;
    int rc;
    line_status status;
    while (c->phase != DONE && (status = line_reader_try(&c->server)) == LINE_OK) {
      if (on_server_line(c, c->server.line) != 0) {
        return -1;
      }
    }
    if (c->phase == DONE) {
      break;
    }
    if (status == LINE_TOO_LONG) {
      fprintf(stderr, "%s: the server sent a line longer than %d bytes\n", program, LINE_IO_MAX);
      return -1;
    }
    /* Interactive chatting may last forever; every other wait is bounded by --timeout. */
    if (!(c->phase == TALKING && c->say_count == 0)) {
      double left = c->deadline - example_now();
      if (left <= 0) {
        report_timeout(c);
        return -1;
      }
      timeout_ms = (int)(left * 1000) + 1;
    }
    fds[0].fd = c->sock;
    fds[0].events = POLLIN;
    if (c->stdin_open && c->phase == TALKING) {
      fds[1].fd = STDIN_FILENO;
      fds[1].events = POLLIN;
      count = 2;
    }
    rc = poll(fds, count, timeout_ms);
    if (rc < 0 && errno != EINTR) {
      fprintf(stderr, "%s: poll: %s\n", program, strerror(errno));
      return -1;
    }
    if (rc <= 0) {
      continue; /* the deadline check above reports a timeout */
    }
    if (fds[0].revents != 0) {
      ssize_t n = line_reader_fill(&c->server);
      if (n == 0) {
        fprintf(stderr, "%s: the server closed the connection\n", program);
        return -1;
      }
      if (n < 0) {
        fprintf(stderr, "%s: receiving failed: %s\n", program, strerror(errno));
        return -1;
      }
    }
    if (count == 2 && fds[1].revents != 0 && on_stdin(c) != 0) {
      return -1;
    }
  }
  return 0;
}

/* Parses the command line into args and c. Returns 0, 2 for bad arguments, -1 after --help. */
static int parse_arguments(int argc, char **argv, node_args *args, chat *c, const char **target,
                           int *family, int *tunnels) {
  int i = 1;
  while (i < argc) {
    int used = node_args_consume(args, program, argc, argv, &i);
    const char *opt = argv[i];
    const char *value = i + 1 < argc ? argv[i + 1] : NULL;
    if (used < 0) {
      return 2;
    }
    if (used > 0) {
      continue;
    }
    if (strcmp(opt, "--help") == 0 || strcmp(opt, "-h") == 0) {
      usage(stdout);
      return -1;
    }
    i += 1;
    if (strcmp(opt, "-6") == 0) {
      *family = AF_INET6;
      continue;
    }
    if (strcmp(opt, "--show-tunnels") == 0) {
      *tunnels = 1;
      continue;
    }
    i += 1; /* every other option takes a value */
    if (value == NULL && strncmp(opt, "--", 2) == 0) {
      fprintf(stderr, "%s: option %s needs a value\n", program, opt);
      return 2;
    }
    if (strcmp(opt, "--connect") == 0) {
      *target = value;
    } else if (strcmp(opt, "--nick") == 0) {
      c->nick = value;
    } else if (strcmp(opt, "--say") == 0) {
      if (strchr(value, '\n') != NULL) {
        fprintf(stderr, "%s: --say text must be one line\n", program);
        return 2;
      }
      c->says[c->say_count++] = value;
    } else if (strcmp(opt, "--wait-for") == 0) {
      c->waits[c->wait_count++] = value;
    } else if (strcmp(opt, "--timeout") == 0) {
      char *end = NULL;
      c->timeout = strtod(value, &end);
      if (end == value || *end != '\0' || !(c->timeout > 0 && c->timeout <= 86400)) {
        fprintf(stderr, "%s: --timeout must be 0-86400 seconds, not '%s'\n", program, value);
        return 2;
      }
    } else {
      fprintf(stderr, "%s: unexpected argument '%s'\n\n", program, opt);
      usage(stderr);
      return 2;
    }
  }
  if (node_args_check(args, program) != 0) {
    return 2;
  }
  if (*target == NULL || c->nick == NULL) {
    fprintf(stderr, "%s: --connect NAME:PORT and --nick NICK are required\n", program);
    return 2;
  }
  if (strlen(c->nick) > 32) {
    fprintf(stderr, "%s: --nick is at most 32 characters\n", program);
    return 2;
  }
  return 0;
}

int main(int argc, char **argv) {
  node_args args;
  chat *c = calloc(1, sizeof *c);
  const char *target = NULL;
  int family = AF_INET;
  int tunnels = 0;
  int rc;
  int fd;
  int status = 1;

  /* --say and --wait-for are at most argc/2 each. */
  if (c == NULL || node_args_init(&args) != 0) {
    return 1;
  }
  c->says = calloc((size_t)argc, sizeof *c->says);
  c->waits = calloc((size_t)argc, sizeof *c->waits);
  c->found = calloc((size_t)argc, sizeof *c->found);
  c->timeout = 30;
  if (c->says == NULL || c->waits == NULL || c->found == NULL) {
    return 1;
  }
  rc = parse_arguments(argc, argv, &args, c, &target, &family, &tunnels);
  if (rc != 0) {
    return rc < 0 ? 0 : rc;
  }
  c->missing = c->wait_count;
  c->deadline = example_now() + c->timeout;
  c->stdin_open = c->say_count == 0;

  if (example_start_node(program, &args.options) != 0) {
    node_args_free(&args);
    return 1;
  }
  fd = example_connect(program, target, family, (int)(c->timeout * 1000));
  if (fd >= 0) {
    c->sock = ntm_bridge_socket(fd); /* takes fd, also on failure */
    if (c->sock < 0) {
      fprintf(stderr, "%s: ntm_bridge_socket: %s\n", program, strerror(errno));
    } else {
      line_reader_init(&c->server, c->sock, recv);
      line_reader_init(&c->input, STDIN_FILENO, read_stdin);
      status = run(c) == 0 ? 0 : 1;
      close(c->sock);
    }
  }
  example_stop_node(program, tunnels, -1); /* the bridged socket is closed already */
  node_args_free(&args);
  free(c->says);
  free(c->waits);
  free(c->found);
  free(c);
  return status;
}
