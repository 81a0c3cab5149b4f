/*
 * ntm-chat-server: a multi-client line chat on a node's virtual addresses (IPv4 and IPv6).
 *
 *   ntm-chat-server NODE-OPTIONS [--port 7100]
 *
 * A client's first line is "NICK <nick>" (1-32 of [A-Za-z0-9_-]); it gets "WELCOME <nick>", the
 * last 50 chat lines, and everyone else sees "* <nick> joined". Each further line is sent to the
 * other clients as "<nick>: <text>"; "/quit" gets "BYE". Every line the server broadcasts is also
 * printed on stdout. One thread per client reads with ntm_recv; all writes happen under the room
 * lock, so lines from different threads never interleave and a newcomer's history replay and
 * join are atomic with respect to other messages. Runs until SIGINT/SIGTERM.
 */
#include "example_net.h"
#include "line_io.h"
#include "node_args.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

static const char *program = "ntm-chat-server";

#define HISTORY_LINES 50
#define NICK_MAX 32
/* A client that stops reading could block the whole room inside ntm_send; after this long it is
 * dropped instead. */
#define SEND_TIMEOUT_SECONDS 5

typedef struct client {
  int fd;
  char nick[NICK_MAX + 1];
  int dead; /* a send to it failed: its own thread will notice and remove it */
  struct client *next;
} client;

/* The shared state: who is connected and the recent history, guarded by one lock. */
static struct {
  pthread_mutex_t lock;
  client *clients;
  char *history[HISTORY_LINES]; /* ring buffer of broadcast chat lines */
  size_t history_next;
  size_t history_count;
  int stopping; /* set on SIGINT/SIGTERM: connections then close without announcements */
} room = {PTHREAD_MUTEX_INITIALIZER, NULL, {NULL}, 0, 0, 0};

static void usage(FILE *out) {
  fprintf(out,
          "usage: %s NODE-OPTIONS [--port PORT]\n"
          "A chat room on TCP port PORT (default 7100) of this node's virtual addresses.\n"
          "Protocol: NICK <nick> first, then lines of text; /quit to leave.\n\n",
          program);
  fputs(node_args_usage(), out);
}

/* Sends one line to a client; on failure marks it dead and wakes its reader. Lock held. */
static void send_to(client *c, const char *line) {
  if (!c->dead && send_line(ntm_send, c->fd, line) != 0) {
    c->dead = 1;
    ntm_shutdown(c->fd, SHUT_RDWR);
  }
}

/* Sends `line` to every client except `from` and prints it. Lock held. */
static void broadcast(const client *from, const char *line) {
  client *c;
  for (c = room.clients; c != NULL; c = c->next) {
    if (c != from) {
      send_to(c, line);
    }
  }
  printf("%s\n", line);
  fflush(stdout);
}

static void remember(const char *line) {
  char *copy = strdup(line);
  if (copy == NULL) {
    return; /* history is best effort */
  }
  free(room.history[room.history_next]);
  room.history[room.history_next] = copy;
  room.history_next = (room.history_next + 1) % HISTORY_LINES;
  if (room.history_count < HISTORY_LINES) {
    ++room.history_count;
  }
}

static int valid_nick(const char *nick) {
  size_t len = strlen(nick);
  size_t i;
  if (len == 0 || len > NICK_MAX) {
    return 0;
  }
  for (i = 0; i < len; ++i) {
    char ch = nick[i];
    int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
             ch == '_' || ch == '-';
    if (!ok) {
      return 0;
    }
  }
  return 1;
}

static int nick_taken(const char *nick) {
  const client *c;
  for (c = room.clients; c != NULL; c = c->next) {
    if (strcmp(c->nick, nick) == 0) {
      return 1;
    }
  }
  return 0;
}

/* Handles the NICK line: on success the client is in the room (WELCOME, history and the join
 * announcement sent) and 0 is returned; otherwise an ERROR was sent and -1 returned. */
static int join(client *self, line_reader *reader) {
  const char *error = NULL;
  char text[NICK_MAX + 32];
  size_t i;
  line_status status = line_reader_next(reader);
  if (status == LINE_TOO_LONG) {
    send_line(ntm_send, self->fd, "ERROR line-too-long");
    return -1;
  }
  if (status != LINE_OK) {
    return -1; /* gone before saying who it is */
  }
  if (strncmp(reader->line, "NICK ", 5) != 0) {
    error = "ERROR expected-nick";
  } else if (!valid_nick(reader->line + 5)) {
    error = "ERROR bad-nick";
  }
  if (error != NULL) {
    send_line(ntm_send, self->fd, error);
    return -1;
  }
  strcpy(self->nick, reader->line + 5);
  pthread_mutex_lock(&room.lock);
  if (room.stopping || nick_taken(self->nick)) {
    pthread_mutex_unlock(&room.lock);
    send_line(ntm_send, self->fd, room.stopping ? "ERROR shutting-down" : "ERROR nick-taken");
    return -1;
  }
  snprintf(text, sizeof text, "WELCOME %s", self->nick);
  send_to(self, text);
  for (i = 0; i < room.history_count; ++i) {
    size_t oldest = (room.history_next + HISTORY_LINES - room.history_count) % HISTORY_LINES;
    send_to(self, room.history[(oldest + i) % HISTORY_LINES]);
  }
  self->next = room.clients;
  room.clients = self;
  snprintf(text, sizeof text, "* %s joined", self->nick);
  broadcast(self, text);
  pthread_mutex_unlock(&room.lock);
  return 0;
}

/* Reads the client's lines until /quit, the end of the stream or an error. */
static void converse(client *self, line_reader *reader) {
  static char message[NICK_MAX + 2 + LINE_IO_MAX + 1]; /* used under the lock only */
  for (;;) {
    line_status status = line_reader_next(reader);
    pthread_mutex_lock(&room.lock);
    if (status == LINE_OK && strcmp(reader->line, "/quit") == 0) {
      send_to(self, "BYE");
    } else if (status == LINE_TOO_LONG) {
      send_to(self, "ERROR line-too-long");
    } else if (status == LINE_OK && !self->dead) {
      snprintf(message, sizeof message, "%s: %s", self->nick, reader->line);
      remember(message);
      broadcast(self, message);
      pthread_mutex_unlock(&room.lock);
      continue;
    }
    pthread_mutex_unlock(&room.lock);
    return;
  }
}

static void leave(client *self) {
  client **link;
  char text[NICK_MAX + 16];
  pthread_mutex_lock(&room.lock);
  for (link = &room.clients; *link != NULL; link = &(*link)->next) {
    if (*link == self) {
      *link = self->next;
      break;
    }
  }
  if (!room.stopping) {
    snprintf(text, sizeof text, "* %s left", self->nick);
    broadcast(NULL, text);
  }
  pthread_mutex_unlock(&room.lock);
}

static void *serve_client(void *arg) {
  client *self = arg;
  line_reader *reader = malloc(sizeof *reader);
  struct timeval send_timeout = {SEND_TIMEOUT_SECONDS, 0};
  ntm_setsockopt(self->fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);
  if (reader != NULL) {
    line_reader_init(reader, self->fd, ntm_recv);
    if (join(self, reader) == 0) {
      converse(self, reader);
      leave(self);
    }
  }
  ntm_close(self->fd);
  free(reader);
  free(self);
  return NULL;
}

static void *accept_loop(void *arg) {
  int listen_fd = (int)(intptr_t)arg;
  for (;;) {
    pthread_t thread;
    client *c;
    int fd = ntm_accept(listen_fd, NULL, NULL);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) {
        continue;
      }
      return NULL; /* EBADF once the listener is closed at shutdown */
    }
    c = calloc(1, sizeof *c);
    if (c == NULL) {
      ntm_close(fd);
      continue;
    }
    c->fd = fd;
    if (pthread_create(&thread, NULL, serve_client, c) != 0) {
      fprintf(stderr, "%s: pthread_create failed\n", program);
      ntm_close(fd);
      free(c);
      continue;
    }
    pthread_detach(thread);
  }
}

int main(int argc, char **argv) {
  node_args args;
  unsigned short port = 7100;
  int i = 1;
  int rc;
  sigset_t signals;
  int signal_number = 0;
  int listeners[2];
  pthread_t threads[2];
  int thread_count = 0;
  ntm_node_info info;

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
    if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
      if (example_parse_port(program, argv[i + 1], &port) != 0) {
        return 2;
      }
      i += 2;
    } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      usage(stdout);
      return 0;
    } else {
      fprintf(stderr, "%s: unknown argument '%s'\n\n", program, argv[i]);
      usage(stderr);
      return 2;
    }
  }
  if (node_args_check(&args, program) != 0) {
    return 2;
  }

  example_block_stop_signals(&signals);
  rc = ntm_start(&args.options);
  if (rc != NTM_OK) {
    fprintf(stderr, "%s: ntm_start failed: %s (%s)\n", program, ntm_strerror(rc), ntm_last_error());
    node_args_free(&args);
    return 1;
  }
  example_listen_all(program, port, listeners);
  for (i = 0; i < 2; ++i) {
    if (listeners[i] >= 0 && pthread_create(&threads[thread_count], NULL, accept_loop,
                                            (void *)(intptr_t)listeners[i]) == 0) {
      ++thread_count;
    }
  }
  if (thread_count == 0) {
    fprintf(stderr, "%s: nothing to listen on\n", program);
    ntm_stop();
    node_args_free(&args);
    return 1;
  }
  memset(&info, 0, sizeof info);
  info.version = NTM_NODE_INFO_VERSION;
  ntm_get_node_info(&info);
  printf("chat server %s listening on port %u (vip4 %s, vip6 %s)\n", info.name, port,
         info.virtual_ipv4[0] ? info.virtual_ipv4 : "-",
         info.virtual_ipv6[0] ? info.virtual_ipv6 : "-");
  fflush(stdout);

  sigwait(&signals, &signal_number);
  fprintf(stderr, "%s: signal %d, stopping\n", program, signal_number);
  pthread_mutex_lock(&room.lock);
  room.stopping = 1;
  pthread_mutex_unlock(&room.lock);
  /* Closing the listeners ends the accept loops; ntm_stop() then closes every connection, which
   * wakes the client threads (their reads fail) - they exit without touching the room. */
  for (i = 0; i < 2; ++i) {
    if (listeners[i] >= 0) {
      ntm_close(listeners[i]);
    }
  }
  for (i = 0; i < thread_count; ++i) {
    pthread_join(threads[i], NULL);
  }
  ntm_stop();
  node_args_free(&args);
  return 0;
}
