/*
 * ntm-echo-server: a node that echoes every TCP connection on its virtual addresses, one thread
 * per connection, until SIGINT or SIGTERM (then ntm_stop() and exit 0).
 */
#include "example_net.h"
#include "example_program.h"
#include "node_args.h"

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

static const char *program = "ntm-echo-server";

static void usage(FILE *out) {
  fprintf(out,
          "usage: %s NODE-OPTIONS [--port PORT]\n"
          "Echoes every TCP connection to PORT (default 7000) on this node's virtual addresses\n"
          "until interrupted.\n\n",
          program);
  fputs(node_args_usage(), out);
}

static unsigned short port = 7000;

static int parse_option(int argc, char **argv, int *i) {
  return example_port_option(program, argc, argv, i, &port);
}

/* Sends back every byte received until the client closes (or the node stops). */
static void echo_connection(int fd, const struct sockaddr_storage *peer) {
  char buf[16384];
  char text[INET6_ADDRSTRLEN];
  example_format_address(peer, text, sizeof text);
  fprintf(stderr, "%s: connection from %s\n", program, text);
  for (;;) {
    ssize_t n = ntm_recv(fd, buf, sizeof buf, 0);
    ssize_t off = 0;
    if (n <= 0) {
      return; /* end of stream, or the node stopped */
    }
    while (off < n) {
      ssize_t w = ntm_send(fd, buf + off, (size_t)(n - off), MSG_NOSIGNAL);
      if (w < 0) {
        return;
      }
      off += w;
    }
  }
}

static void print_ready(const ntm_node_info *info, unsigned short listen_port) {
  printf("%s listening on port %u: virtual %s %s, real UDP %s %s\n", info->name, listen_port,
         info->virtual_ipv4, info->virtual_ipv6, info->endpoint_ipv4, info->endpoint_ipv6);
  fflush(stdout);
}

int main(int argc, char **argv) {
  const example_command_line command = {program, usage, parse_option, "unknown"};
  example_service service = {0, echo_connection, print_ready, NULL, 0};
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
