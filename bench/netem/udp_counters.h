/* The network namespace's UDP counters from /proc/net/snmp: how the emulator (and the probe)
 * learn about datagrams the kernel dropped before they could read them. Per-socket drop counts
 * (SO_RXQ_OVFL) are deliberately not used: on this kernel they triggered a BUG in put_cmsg. */
#ifndef NTM_NETEM_UDP_COUNTERS_H
#define NTM_NETEM_UDP_COUNTERS_H

#include <stdbool.h>
#include <stdint.h>

struct netem_udp_counters {
    bool valid;
    uint64_t in_datagrams, in_errors, rcvbuf_errors, sndbuf_errors;
};

/* Reads the "Udp:" lines; false (and valid = false) if they cannot be read. */
bool netem_read_udp_counters(struct netem_udp_counters *c);

#endif
