/*
 * node_args.h - command-line options shared by the ntmobile C examples (and reused by the
 * integration test node and the bench): they turn
 *
 *   --name NAME --key PRIVATE_KEY --vip4 ADDR --vip6 ADDR --listen HOST:PORT (repeatable)
 *   --peer NAME,PUBLIC_KEY,ENDPOINT,VIP4,VIP6 (repeatable) --cipher aes|chacha --log LEVEL
 *
 * into an ntm_options ready for ntm_start(). Uses only ntm.h and libc (C99 + POSIX).
 */
#ifndef NTM_EXAMPLES_NODE_ARGS_H
#define NTM_EXAMPLES_NODE_ARGS_H

#include <ntm.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Most --peer options one command line takes. */
#define NODE_ARGS_MAX_PEERS 16

/** The parsed common options; `options` points into this struct, so do not copy it. */
typedef struct node_args {
  ntm_options options;                        /**< Pass &options to ntm_start(). */
  ntm_static_peer peers[NODE_ARGS_MAX_PEERS]; /**< options.peers points here. */
  char *peer_specs[NODE_ARGS_MAX_PEERS];      /**< Owned copies the peer fields point into. */
  int listen_given;                           /**< 1 once any --listen was seen. */
} node_args;

/** Fills `args` with the library defaults (ntm_options_init). Returns 0, or -1 with a message. */
int node_args_init(node_args *args);

/**
 * Tries to consume argv[*index] (and its value) as a common option. Returns 1 and advances
 * *index past what it used, 0 if argv[*index] is not a common option (nothing consumed), or -1
 * after printing "PROGRAM: problem" to stderr.
 */
int node_args_consume(node_args *args, const char *program, int argc, char **argv, int *index);

/**
 * Checks that the required options (--name, --key, one of --vip4/--vip6) were given.
 * Returns 0, or -1 after printing what is missing to stderr.
 */
int node_args_check(const node_args *args, const char *program);

/** Releases the copies made while parsing. */
void node_args_free(node_args *args);

/** Help text describing the common options, one option per line, ready for fputs(). */
const char *node_args_usage(void);

/**
 * Splits "host:port", "[v6addr]:port" or "v4addr:port" at the last ':' into host (brackets
 * removed) and port, copying host into host_out (host_size bytes). Returns 0, or -1 if the text
 * has no ":port" or the host does not fit.
 */
int node_args_split_host_port(const char *text, char *host_out, size_t host_size,
                              const char **port_out);

#ifdef __cplusplus
}
#endif

#endif /* NTM_EXAMPLES_NODE_ARGS_H */
