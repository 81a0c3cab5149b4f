/*
 * ntm-echo-server: a node that echoes every TCP connection on its virtual addresses, one thread
 * per connection, until SIGINT or SIGTERM (then ntm_stop() and exit 0).
 */
#include "example_net.h"
#include "node_args.h"

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

static const char *program = "ntm-echo-server";

static void usage(FILE *out) {
  fprintf(out,
          "usage: %s NODE-OPTIONS [--port PORT]\n"
          "Echoes every TCP connection to PORT (default 7000) on this node's virtual addresses\n"
          "until interrupted.\n\n",
          program);
  fputs(node_args_usage(), out);
}

static void *echo_connection(void *arg) {
  int fd = (int)(intptr_t)arg;
  char buf[16384];
  for (;;) {
    ssize_t n = ntm_recv(fd, buf, sizeof buf, 0);
    ssize_t off = 0;
    if (n <= 0) {
      break; /* end of stream, or the node stopped */
    }
    while (off < n) {
      ssize_t w = ntm_send(fd, buf + off, (size_t)(n - off), MSG_NOSIGNAL);
      if (w < 0) {
        ntm_close(fd);
        return NULL;
      }
      off += w;
    }
  }
  ntm_close(fd);
  return NULL;
}

static void *accept_loop(void *arg) {
  int listen_fd = (int)(intptr_t)arg;
  for (;;) {
    struct sockaddr_storage peer;
    socklen_t peer_len = sizeof peer;
    char text[INET6_ADDRSTRLEN] = "?";
    pthread_t thread;
    int fd = ntm_accept(listen_fd, (struct sockaddr *)&peer, &peer_len);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) {
        continue;
      }
      return NULL; /* EBADF once ntm_stop() closed the socket */
    }
    if (peer.ss_family == AF_INET) {
      inet_ntop(AF_INET, &((struct sockaddr_in *)&peer)->sin_addr, text, sizeof text);
    } else if (peer.ss_family == AF_INET6) {
      inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&peer)->sin6_addr, text, sizeof text);
    }
    fprintf(stderr, "%s: connection from %s\n", program, text);
    if (pthread_create(&thread, NULL, echo_connection, (void *)(intptr_t)fd) != 0) {
      fprintf(stderr, "%s: pthread_create failed\n", program);
      ntm_close(fd);
      continue;
    }
    pthread_detach(thread);
  }
}

int main(int argc, char **argv) {
  node_args args;
  unsigned long port = 7000;
  int i = 1;
  int rc;
  sigset_t signals;
  int signal_number = 0;
  int listeners[2] = {-1, -1};
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
      char *end = NULL;
      port = strtoul(argv[i + 1], &end, 10);
      if (end == argv[i + 1] || *end != '\0' || port == 0 || port > 65535) {
        fprintf(stderr, "%s: --port must be 1-65535, not '%s'\n", program, argv[i + 1]);
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

  /* Signals are taken synchronously by the main thread (ntm_stop() is not async-signal-safe);
   * block them before any thread exists so every thread inherits the mask. */
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, NULL);

  rc = ntm_start(&args.options);
  if (rc != NTM_OK) {
    fprintf(stderr, "%s: ntm_start failed: %s (%s)\n", program, ntm_strerror(rc), ntm_last_error());
    node_args_free(&args);
    return 1;
  }
  /* On the virtual addresses the node has (in control-plane mode the DC assigned them). */
  example_listen_all(program, (unsigned short)port, listeners);
  for (i = 0; i < 2; ++i) {
    if (listeners[i] >= 0 &&
        pthread_create(&threads[thread_count], NULL, accept_loop, (void *)(intptr_t)listeners[i]) == 0) {
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
  if (ntm_get_node_info(&info) == NTM_OK) {
    printf("%s listening on port %lu: virtual %s %s, real UDP %s %s\n", info.name, port,
           info.virtual_ipv4, info.virtual_ipv6, info.endpoint_ipv4, info.endpoint_ipv6);
    fflush(stdout);
  }

  sigwait(&signals, &signal_number);
  fprintf(stderr, "%s: signal %d, stopping\n", program, signal_number);
  /* Closing the listeners wakes the accept loops; ntm_stop() then closes the connections. */
  for (i = 0; i < 2; ++i) {
    if (listeners[i] >= 0) {
      ntm_close(listeners[i]);
    }
  }
  ntm_stop();
  for (i = 0; i < thread_count; ++i) {
    pthread_join(threads[i], NULL);
  }
  node_args_free(&args);
  return 0;
}
