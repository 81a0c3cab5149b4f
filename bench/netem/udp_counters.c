#define _POSIX_C_SOURCE 200809L
#include "udp_counters.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool netem_read_udp_counters(struct netem_udp_counters *c)
{
    memset(c, 0, sizeof *c);
    FILE *f = fopen("/proc/net/snmp", "r");
    if (!f)
        return false;
    /* Two "Udp:" lines: the names, then the values in the same order. */
    char names[1024] = "", values[1024] = "", line[1024];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "Udp: ", 5) != 0)
            continue;
        if (names[0] == '\0') {
            strcpy(names, line);
        } else {
            strcpy(values, line);
            break;
        }
    }
    fclose(f);
    if (values[0] == '\0')
        return false;
    char *ns = NULL, *vs = NULL;
    char *name = strtok_r(names + 5, " \n", &ns);
    char *value = strtok_r(values + 5, " \n", &vs);
    for (; name && value; name = strtok_r(NULL, " \n", &ns), value = strtok_r(NULL, " \n", &vs)) {
        uint64_t v = strtoull(value, NULL, 10);
        if (strcmp(name, "InDatagrams") == 0)
            c->in_datagrams = v;
        else if (strcmp(name, "InErrors") == 0)
            c->in_errors = v;
        else if (strcmp(name, "RcvbufErrors") == 0)
            c->rcvbuf_errors = v;
        else if (strcmp(name, "SndbufErrors") == 0)
            c->sndbuf_errors = v;
    }
    c->valid = true;
    return true;
}
