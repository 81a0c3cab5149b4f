/* ntm-netem: a user-space WAN emulator for UDP (delay, jitter, loss, bursts, reordering, a rate
 * limit with a bounded queue). This kernel has no netem qdisc; benchmarks and fault tests put
 * this program between two endpoints instead. See bench/netem/README.md. */
#include <stdio.h>

#include "forwarder.h"
#include "netem_config.h"

int main(int argc, char **argv)
{
    struct netem_config cfg;
    switch (netem_parse_args(argc, argv, &cfg, stderr)) {
    case NETEM_PARSE_HELP:
        return 0;
    case NETEM_PARSE_ERROR:
        return 2;
    case NETEM_PARSE_OK:
        break;
    }
    return netem_run(&cfg, stdout, stderr);
}
