/*
 * example_program.h - the main() skeleton the C examples share: the command line (common node
 * options, --help, the program's own options), starting and stopping the node, and, for the
 * servers, "listen on every virtual address and serve each connection in its own thread until
 * SIGINT/SIGTERM".
 */
#ifndef NTM_EXAMPLES_EXAMPLE_PROGRAM_H
#define NTM_EXAMPLES_EXAMPLE_PROGRAM_H

#include "node_args.h"

#include <ntm.h>

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * A program's own option at argv[*index]: returns 1 after consuming it (advancing *index past it
 * and its value), 0 if it is not one of the program's options, or -1 after printing
 * "PROGRAM: problem" to stderr.
 */
typedef int (*example_option_fn)(int argc, char **argv, int *index);

/** How a program reads its command line. */
typedef struct example_command_line {
  const char *program;        /**< prefixes every message */
  void (*usage)(FILE *out);   /**< the full help text */
  example_option_fn option;   /**< the program's own options */
  const char *rejected;       /**< "unknown" or "unexpected", as in "unknown argument 'X'" */
} example_command_line;

/**
 * Initializes args (node_args_init; the caller node_args_free's it) and parses argv into it: the
 * common node options, -h/--help (usage to stdout), then the program's options; at the end
 * node_args_check. Returns 0 to go on, -1 after --help (exit 0), 1 when args cannot be
 * initialized, or 2 after printing the problem (and, for an argument nobody takes, the usage) to
 * stderr.
 */
int example_parse_command_line(const example_command_line *command, int argc, char **argv,
                               node_args *args);

/** The --port PORT option (1-65535), as an example_option_fn takes options. */
int example_port_option(const char *program, int argc, char **argv, int *index,
                        unsigned short *port);

/** ntm_start(options). Returns 0, or -1 after printing "PROGRAM: ntm_start failed: ...". */
int example_start_node(const char *program, const ntm_options *options);

/** The end of a client: prints the tunnel table if asked, closes fd (when >= 0), ntm_stop(). */
void example_stop_node(const char *program, int show_tunnels, int fd);

/** What example_serve_until_signal serves. */
typedef struct example_service {
  unsigned short port;
  /**
   * Serves one accepted connection, in a thread of its own; fd is closed when it returns. peer is
   * the client's virtual address.
   */
  void (*serve)(int fd, const struct sockaddr_storage *peer);
  /** Prints the ready line once every listener is up (info: this node). */
  void (*ready)(const ntm_node_info *info, unsigned short port);
  /** Called after the stop signal, before the listeners close (NULL: nothing to do). */
  void (*stopping)(void);
  /** After ntm_stop(), how long to wait for connections still being served to finish. */
  int drain_seconds;
} example_service;

/**
 * Runs a server: blocks SIGINT/SIGTERM (so every thread inherits the mask), starts the node,
 * listens on service->port of each virtual address (example_listen_all) with one accept thread
 * each, prints the ready line, then waits for a signal; on it closes the listeners, joins the
 * accept threads and calls ntm_stop(), which ends the connections still open. Returns the exit
 * status: 0 after a signal, 1 when the node did not start or nothing could be listened on.
 */
int example_serve_until_signal(const char *program, const ntm_options *options,
                               const example_service *service);

#ifdef __cplusplus
}
#endif

#endif /* NTM_EXAMPLES_EXAMPLE_PROGRAM_H */
