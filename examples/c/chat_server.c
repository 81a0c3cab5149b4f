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
#include "example_program.h"
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

/* One client, in its own thread: NICK, then its lines until /quit, the end or shutdown. */
static void serve_client(int fd, const struct sockaddr_storage *peer) {
  client *self = calloc(1, sizeof *self);
  line_reader *reader = malloc(sizeof *reader);
  struct timeval send_timeout = {SEND_TIMEOUT_SECONDS, 0};
  (void)peer;
  ntm_setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);
  if (self != NULL && reader != NULL) {
    self->fd = fd;
    line_reader_init(reader, fd, ntm_recv);
    if (join(self, reader) == 0) {
      converse(self, reader);
      leave(self);
    }
  }
  free(reader);
  free(self);
}

static unsigned short port = 7100;

static int parse_option(int argc, char **argv, int *i) {
  return example_port_option(program, argc, argv, i, &port);
}

static void print_ready(const ntm_node_info *info, unsigned short listen_port) {
  printf("chat server %s listening on port %u (vip4 %s, vip6 %s)\n", info->name, listen_port,
         info->virtual_ipv4[0] ? info->virtual_ipv4 : "-",
         info->virtual_ipv6[0] ? info->virtual_ipv6 : "-");
  fflush(stdout);
}

/* From now on connections close without "left" announcements (see leave). */
static void stop_room(void) {
  pthread_mutex_lock(&room.lock);
  room.stopping = 1;
  pthread_mutex_unlock(&room.lock);
}

int main(int argc, char **argv) {
  const example_command_line command = {program, usage, parse_option, "unknown"};
  example_service service = {0, serve_client, print_ready, stop_room, 0};
  node_args args;
  int status;

  status = example_parse_command_line(&command, argc, argv, &args);
  if (status != 0) {
    return status < 0 ? 0 : status;
  }
  service.port = port;
  status = example_serve_until_signal(program, &args.options, &service);
  node_args_free(&args);
  return status;
}
