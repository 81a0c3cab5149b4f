#define _POSIX_C_SOURCE 200809L
#include "netem_config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fputs(
        "usage: ntm-netem [IMPAIRMENT...] --link A_BIND,B_BIND[,A_PEER[,B_PEER]] [--link ...]\n"
        "\n"
        "Forwards UDP between the two sides of each link and impairs it like a WAN path.\n"
        "A datagram arriving on side A leaves from side B's socket to B_PEER, and the other way\n"
        "round. Addresses are IP:PORT or [IPV6]:PORT; a bind port of 0 picks a free port. A peer\n"
        "given as '-' or left out is learned: the source of the latest datagram on that side.\n"
        "\n"
        "Impairment (both directions; prefix with a2b- or b2a- for one direction only,\n"
        "e.g. --a2b-rate 10):\n"
        "  --delay MS          one-way delay (the round trip gets twice this)\n"
        "  --jitter MS         +- uniform jitter on the delay (keeps order)\n"
        "  --loss PCT          datagrams lost, in percent\n"
        "  --loss-burst N      mean loss burst length in datagrams (Gilbert model; default 1 =\n"
        "                      independent losses)\n"
        "  --reorder PCT       datagrams held back so that later ones overtake them, in percent\n"
        "  --reorder-gap MS    how long a held-back datagram waits (default 1)\n"
        "  --rate MBIT         bottleneck rate in Mbit/s (IP + UDP headers counted; 0 = none)\n"
        "  --queue BYTES       bottleneck queue (k/m suffixes = KiB/MiB; default: 100 ms at the\n"
        "                      rate, at least 64k); datagrams that do not fit are dropped\n"
        "Other:\n"
        "  --seed N            seed of the random decisions (default 1: runs repeat)\n"
        "  --max-size BYTES    largest datagram forwarded (default 2048; larger are dropped)\n"
        "  --max-packets N     datagrams held at once, all links (default 65536)\n"
        "  --duration S        exit after S seconds (default: run until SIGINT/SIGTERM)\n"
        "\n"
        "Prints 'ready link=N a=ADDR b=ADDR' per link once its sockets are bound, a 'stats {json}'\n"
        "line on SIGUSR1 and at exit (SIGINT, SIGTERM, --duration). Exit status 2: bad usage.\n",
        out);
}

bool netem_parse_address(const char *text, struct netem_address *out)
{
    char host[INET6_ADDRSTRLEN + 2];
    const char *port;
    if (text[0] == '[') {
        const char *end = strchr(text, ']');
        if (!end || end[1] != ':' || (size_t)(end - text - 1) >= sizeof host)
            return false;
        memcpy(host, text + 1, (size_t)(end - text - 1));
        host[end - text - 1] = '\0';
        port = end + 2;
    } else {
        const char *colon = strrchr(text, ':');
        if (!colon || (size_t)(colon - text) >= sizeof host || strchr(text, ':') != colon)
            return false;
        memcpy(host, text, (size_t)(colon - text));
        host[colon - text] = '\0';
        port = colon + 1;
    }
    char *end;
    errno = 0;
    unsigned long p = strtoul(port, &end, 10);
    if (*port == '\0' || *end != '\0' || errno || p > 65535)
        return false;
    memset(out, 0, sizeof *out);
    struct sockaddr_in *v4 = (struct sockaddr_in *)&out->addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&out->addr;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)p);
        out->len = sizeof *v4;
        return true;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)p);
        out->len = sizeof *v6;
        return true;
    }
    return false;
}

const char *netem_format_address(const struct sockaddr *sa, char *buf, size_t size)
{
    char host[INET6_ADDRSTRLEN];
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)(const void *)sa;
        inet_ntop(AF_INET, &v4->sin_addr, host, sizeof host);
        snprintf(buf, size, "%s:%u", host, ntohs(v4->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)(const void *)sa;
        inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof host);
        snprintf(buf, size, "[%s]:%u", host, ntohs(v6->sin6_port));
    } else {
        snprintf(buf, size, "-");
    }
    return buf;
}

/* A finite number in [lo, hi]. */
static bool parse_number(const char *text, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (*text == '\0' || *end != '\0' || errno || !isfinite(v) || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

/* A byte count with an optional k/m/g suffix (powers of 1024). */
static bool parse_bytes(const char *text, uint64_t *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    double scale = 1;
    if (*end == 'k' || *end == 'K')
        scale = 1024, end++;
    else if (*end == 'm' || *end == 'M')
        scale = 1024.0 * 1024, end++;
    else if (*end == 'g' || *end == 'G')
        scale = 1024.0 * 1024 * 1024, end++;
    if (*text == '\0' || *end != '\0' || errno || !isfinite(v) || v < 0 || v * scale > 1e12)
        return false;
    *out = (uint64_t)(v * scale);
    return true;
}

static uint64_t ms_to_ns(double ms)
{
    return (uint64_t)llround(ms * 1e6);
}

static bool parse_link(const char *text, struct netem_link_config *link)
{
    char buf[512];
    if (strlen(text) >= sizeof buf)
        return false;
    strcpy(buf, text);
    struct netem_address *parts[] = {&link->a_bind, &link->b_bind, &link->a_peer, &link->b_peer};
    memset(link, 0, sizeof *link);
    size_t n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (n == 4)
            return false;
        if (n >= 2 && strcmp(tok, "-") == 0) {
            n++;
            continue;
        }
        if (!netem_parse_address(tok, parts[n]))
            return false;
        n++;
    }
    return n >= 2;
}

/* Applies one impairment option to the directions in `dirs`; false if the value is bad. */
static bool apply_impairment(const char *name, const char *value, struct netem_impairment **dirs,
                             size_t ndirs, bool *queue_given)
{
    double v;
    uint64_t bytes;
    for (size_t i = 0; i < ndirs; i++) {
        struct netem_impairment *d = dirs[i];
        if (strcmp(name, "delay") == 0 && parse_number(value, 0, 60000, &v))
            d->delay_ns = ms_to_ns(v);
        else if (strcmp(name, "jitter") == 0 && parse_number(value, 0, 60000, &v))
            d->jitter_ns = ms_to_ns(v);
        else if (strcmp(name, "loss") == 0 && parse_number(value, 0, 100, &v))
            d->loss = v / 100.0;
        else if (strcmp(name, "loss-burst") == 0 && parse_number(value, 1, 1e6, &v))
            d->loss_burst = v;
        else if (strcmp(name, "reorder") == 0 && parse_number(value, 0, 100, &v))
            d->reorder = v / 100.0;
        else if (strcmp(name, "reorder-gap") == 0 && parse_number(value, 0, 60000, &v))
            d->reorder_gap_ns = ms_to_ns(v);
        else if (strcmp(name, "rate") == 0 && parse_number(value, 0, 1e6, &v))
            d->rate_bps = (uint64_t)llround(v * 1e6);
        else if (strcmp(name, "queue") == 0 && parse_bytes(value, &bytes) && bytes >= 1)
            d->queue_bytes = bytes, queue_given[i] = true;
        else
            return false;
    }
    return true;
}

static bool is_impairment(const char *name)
{
    static const char *const names[] = {"delay", "jitter",      "loss", "loss-burst",
                                        "reorder", "reorder-gap", "rate", "queue"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i]) == 0)
            return true;
    return false;
}

enum netem_parse_result netem_parse_args(int argc, char **argv, struct netem_config *cfg,
                                         FILE *err)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->seed = 1;
    cfg->max_size = 2048;
    cfg->max_packets = 65536;
    cfg->a2b.reorder_gap_ns = cfg->b2a.reorder_gap_ns = 1000000;
    bool queue_given[2] = {false, false};

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            usage(stdout);
            return NETEM_PARSE_HELP;
        }
        if (strncmp(arg, "--", 2) != 0) {
            fprintf(err, "ntm-netem: unexpected argument '%s' (see --help)\n", arg);
            return NETEM_PARSE_ERROR;
        }
        if (i + 1 >= argc) {
            fprintf(err, "ntm-netem: %s needs a value (see --help)\n", arg);
            return NETEM_PARSE_ERROR;
        }
        const char *name = arg + 2;
        const char *value = argv[++i];
        struct netem_impairment *both[] = {&cfg->a2b, &cfg->b2a};
        struct netem_impairment **dirs = both;
        size_t ndirs = 2;
        bool *given = queue_given;
        if (strncmp(name, "a2b-", 4) == 0 && is_impairment(name + 4)) {
            name += 4, dirs = &both[0], ndirs = 1;
        } else if (strncmp(name, "b2a-", 4) == 0 && is_impairment(name + 4)) {
            name += 4, dirs = &both[1], ndirs = 1, given = &queue_given[1];
        }
        double v;
        bool ok;
        if (is_impairment(name)) {
            ok = apply_impairment(name, value, dirs, ndirs, given);
        } else if (strcmp(name, "link") == 0) {
            ok = cfg->nlinks < NETEM_MAX_LINKS && parse_link(value, &cfg->links[cfg->nlinks]);
            if (ok)
                cfg->nlinks++;
        } else if (strcmp(name, "seed") == 0) {
            ok = parse_number(value, 0, 9007199254740992.0, &v);
            cfg->seed = (uint64_t)v;
        } else if (strcmp(name, "max-size") == 0) {
            ok = parse_number(value, 64, 65535, &v);
            cfg->max_size = (size_t)v;
        } else if (strcmp(name, "max-packets") == 0) {
            ok = parse_number(value, 64, 1 << 24, &v);
            cfg->max_packets = (size_t)v;
        } else if (strcmp(name, "duration") == 0) {
            ok = parse_number(value, 0, 1e7, &v);
            cfg->duration_s = v;
        } else {
            fprintf(err, "ntm-netem: unknown option %s (see --help)\n", arg);
            return NETEM_PARSE_ERROR;
        }
        if (!ok) {
            fprintf(err, "ntm-netem: bad value '%s' for %s%s\n", value, arg,
                    strcmp(name, "link") == 0 && cfg->nlinks == NETEM_MAX_LINKS
                        ? " (too many links)"
                        : "");
            return NETEM_PARSE_ERROR;
        }
    }
    if (cfg->nlinks == 0) {
        fprintf(err, "ntm-netem: no --link given (see --help)\n");
        return NETEM_PARSE_ERROR;
    }
    struct netem_impairment *dirs[] = {&cfg->a2b, &cfg->b2a};
    for (size_t d = 0; d < 2; d++) {
        if (dirs[d]->rate_bps && !queue_given[d]) {
            uint64_t q = dirs[d]->rate_bps / 8 / 10; /* 100 ms at the rate */
            dirs[d]->queue_bytes = q < 65536 ? 65536 : q;
        }
    }
    return NETEM_PARSE_OK;
}
