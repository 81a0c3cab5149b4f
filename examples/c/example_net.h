/*
 * example_net.h - the node-side plumbing the C examples share: listening on both virtual
 * families, connecting by node name within a deadline, the tunnel table in the examples' common
 * one-line format, and small parsing/formatting helpers.
 */
#ifndef NTM_EXAMPLES_EXAMPLE_NET_H
#define NTM_EXAMPLES_EXAMPLE_NET_H

#include <ntm.h>

#include <signal.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Parses a TCP port 1-65535. Returns 0, or -1 after printing "PROGRAM: --port ..." to stderr. */
int example_parse_port(const char *program, const char *text, unsigned short *port);

/**
 * Opens listeners on `port` for each virtual family this node has (IPv4 and/or IPv6, from
 * ntm_get_node_info, so it works in static-peer and control-plane mode alike). listeners[0] is
 * the IPv4 one, listeners[1] the IPv6 one, -1 where absent. Returns how many were opened, after
 * printing a message for each failure.
 */
int example_listen_all(const char *program, unsigned short port, int listeners[2]);

/**
 * Resolves NAME of "NAME:PORT" through the node (ntm_getaddrinfo, family AF_INET or AF_INET6)
 * and connects, giving up after timeout_ms. Returns a blocking ntm descriptor, or -1 after
 * printing why to stderr.
 */
int example_connect(const char *program, const char *target, int family, int timeout_ms);

/**
 * Prints the tunnel table to `out`, one line per tunnel:
 *   tunnel <peer> vip4=<a> vip6=<a> path=<direct|relay|none> endpoint=<host:port> sent=<n> received=<n>
 */
void example_print_tunnels(const char *program, FILE *out);

/** Writes the address part of a virtual socket address ("100.64.0.1", "fd00::1") into text. */
void example_format_address(const struct sockaddr_storage *addr, char *text, size_t size);

/** Seconds on the monotonic clock, for durations and deadlines. */
double example_now(void);

/**
 * Blocks SIGINT and SIGTERM in the calling thread (call before any thread starts, so every
 * thread inherits the mask) and fills `signals` for a later sigwait(): the node is then
 * stopped from the main thread, never from a signal handler (ntm_stop is not signal-safe).
 */
void example_block_stop_signals(sigset_t *signals);

#ifdef __cplusplus
}
#endif

#endif /* NTM_EXAMPLES_EXAMPLE_NET_H */
