/* example_program.c - command line, node start/stop and the serve-until-a-signal loop. */
#include "example_program.h"

#include "example_net.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int example_parse_command_line(const example_command_line *command, int argc, char **argv,
                               node_args *args) {
  int i = 1;
  if (node_args_init(args) != 0) {
    return 1;
  }
  while (i < argc) {
    int used = node_args_consume(args, command->program, argc, argv, &i);
    if (used == 0) {
      if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
        command->usage(stdout);
        return -1;
      }
      used = command->option(argc, argv, &i);
      if (used == 0) {
        fprintf(stderr, "%s: %s argument '%s'\n\n", command->program, command->rejected, argv[i]);
        command->usage(stderr);
        return 2;
      }
    }
    if (used < 0) {
      return 2;
    }
  }
  return node_args_check(args, command->program) != 0 ? 2 : 0;
}

int example_port_option(const char *program, int argc, char **argv, int *index,
                        unsigned short *port) {
  if (strcmp(argv[*index], "--port") != 0 || *index + 1 >= argc) {
    return 0;
  }
  if (example_parse_port(program, argv[*index + 1], port) != 0) {
    return -1;
  }
  *index += 2;
  return 1;
}

int example_start_node(const char *program, const ntm_options *options) {
  int rc = ntm_start(options);
  if (rc != NTM_OK) {
    fprintf(stderr, "%s: ntm_start failed: %s (%s)\n", program, ntm_strerror(rc), ntm_last_error());
    return -1;
  }
  return 0;
}

void example_stop_node(const char *program, int show_tunnels, int fd) {
  if (show_tunnels) {
    example_print_tunnels(program, stdout);
  }
  if (fd >= 0) {
    ntm_close(fd);
  }
  ntm_stop();
}

/* Connections being served, so that shutdown can give them drain_seconds to finish. */
static struct {
  pthread_mutex_t lock;
  pthread_cond_t changed;
  int count;
} active = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};

static void count_active(int delta) {
  pthread_mutex_lock(&active.lock);
  active.count += delta;
  pthread_cond_broadcast(&active.changed);
  pthread_mutex_unlock(&active.lock);
}

/* Waits up to `seconds` for every connection thread to finish. */
static void wait_for_active(int seconds) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += seconds;
  pthread_mutex_lock(&active.lock);
  while (active.count > 0 &&
         pthread_cond_timedwait(&active.changed, &active.lock, &until) != ETIMEDOUT) {
  }
  pthread_mutex_unlock(&active.lock);
}

typedef struct listener {
  const char *program;
  const example_service *service;
  int fd;
} listener;

typedef struct connection {
  const example_service *service;
  int fd;
  struct sockaddr_storage peer;
} connection;

static void *serve_connection(void *arg) {
  connection *c = arg;
  c->service->serve(c->fd, &c->peer);
  ntm_close(c->fd);
  free(c);
  count_active(-1);
  return NULL;
}

static void *accept_loop(void *arg) {
  const listener *l = arg;
  for (;;) {
    pthread_t thread;
    struct sockaddr_storage peer;
    socklen_t peer_len = sizeof peer;
    connection *c;
    int fd = ntm_accept(l->fd, (struct sockaddr *)&peer, &peer_len);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) {
        continue;
      }
      return NULL; /* EBADF once the listener is closed at shutdown */
    }
    c = malloc(sizeof *c);
    if (c == NULL) {
      ntm_close(fd);
      continue;
    }
    c->service = l->service;
    c->fd = fd;
    c->peer = peer;
    count_active(+1); /* before the thread exists, so a shutdown never misses it */
    if (pthread_create(&thread, NULL, serve_connection, c) != 0) {
      fprintf(stderr, "%s: pthread_create failed\n", l->program);
      ntm_close(fd);
      free(c);
      count_active(-1);
      continue;
    }
    pthread_detach(thread);
  }
}

int example_serve_until_signal(const char *program, const ntm_options *options,
                               const example_service *service) {
  sigset_t signals;
  int signal_number = 0;
  int fds[2];
  listener listeners[2];
  pthread_t threads[2];
  int thread_count = 0;
  ntm_node_info info;
  int i;

  example_block_stop_signals(&signals);
  if (example_start_node(program, options) != 0) {
    return 1;
  }
  /* On the virtual addresses the node has (in control-plane mode the DC assigned them). */
  example_listen_all(program, service->port, fds);
  for (i = 0; i < 2; ++i) {
    listeners[i].program = program;
    listeners[i].service = service;
    listeners[i].fd = fds[i];
    if (fds[i] >= 0 && pthread_create(&threads[thread_count], NULL, accept_loop, &listeners[i]) == 0) {
      ++thread_count;
    }
  }
  if (thread_count == 0) {
    fprintf(stderr, "%s: nothing to listen on\n", program);
    ntm_stop();
    return 1;
  }
  memset(&info, 0, sizeof info);
  info.version = NTM_NODE_INFO_VERSION;
  ntm_get_node_info(&info);
  service->ready(&info, service->port);

  sigwait(&signals, &signal_number);
  fprintf(stderr, "%s: signal %d, stopping\n", program, signal_number);
  if (service->stopping != NULL) {
    service->stopping();
  }
  /* Closing the listeners ends the accept loops; ntm_stop() then closes every connection, which
   * wakes the connection threads (their reads fail). */
  for (i = 0; i < 2; ++i) {
    if (fds[i] >= 0) {
      ntm_close(fds[i]);
    }
  }
  for (i = 0; i < thread_count; ++i) {
    pthread_join(threads[i], NULL);
  }
  ntm_stop();
  if (service->drain_seconds > 0) {
    wait_for_active(service->drain_seconds);
  }
  return 0;
}
