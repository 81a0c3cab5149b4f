/* The emulator's command line, parsed into a configuration (see usage() in netem_config.c). */
#ifndef NTM_NETEM_CONFIG_H
#define NTM_NETEM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "shaper.h"

#define NETEM_MAX_LINKS 8

struct netem_address {
    struct sockaddr_storage addr;
    socklen_t len; /* 0: not given (a peer that is learned from traffic) */
};

/* A link is two UDP sockets ("sides" A and B). What arrives on side A leaves from side B's
 * socket to B's peer, and the other way round. A side's peer is fixed, or learned: the source
 * of the latest datagram that arrived on that side. */
struct netem_link_config {
    struct netem_address a_bind, b_bind;
    struct netem_address a_peer, b_peer;
};

struct netem_config {
    struct netem_impairment a2b, b2a;
    struct netem_link_config links[NETEM_MAX_LINKS];
    size_t nlinks;
    uint64_t seed;
    size_t max_size;    /* largest datagram forwarded; larger ones are counted and dropped */
    size_t max_packets; /* datagrams held at once (queue + delay line), all links together */
    double duration_s;  /* 0: run until SIGINT/SIGTERM */
};

enum netem_parse_result { NETEM_PARSE_OK, NETEM_PARSE_HELP, NETEM_PARSE_ERROR };

/* Fills `cfg` from argv; on error writes a message naming the bad argument to `err`. */
enum netem_parse_result netem_parse_args(int argc, char **argv, struct netem_config *cfg,
                                         FILE *err);

/* "ip:port" or "[ipv6]:port" -> address; false if it is not one. */
bool netem_parse_address(const char *text, struct netem_address *out);
/* The same notation back, into buf (at least 64 bytes). */
const char *netem_format_address(const struct sockaddr *sa, char *buf, size_t size);

#endif
