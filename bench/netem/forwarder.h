/* The emulator's I/O: the links' UDP sockets, one epoll loop, batched receive and send
 * (recvmmsg/sendmmsg), and the counters it prints. Single-threaded by design: one core does
 * well over 150k datagrams/s, and one thread keeps every decision in arrival order. */
#ifndef NTM_NETEM_FORWARDER_H
#define NTM_NETEM_FORWARDER_H

#include <stdio.h>

#include "netem_config.h"

/* Binds every link, prints the 'ready' lines to `out` and forwards until a terminating signal
 * or the configured duration; then prints the final 'stats' line. Returns the exit status. */
int netem_run(const struct netem_config *cfg, FILE *out, FILE *err);

#endif
