/* node_args.c - parsing of the command-line options shared by the ntmobile C examples. */
#include "node_args.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int node_args_init(node_args *args) {
  int rc;
  memset(args, 0, sizeof *args);
  rc = ntm_options_init(&args->options, NTM_OPTIONS_VERSION);
  if (rc != NTM_OK) {
    fprintf(stderr, "ntm_options_init failed: %s (%s)\n", ntm_strerror(rc), ntm_last_error());
    return -1;
  }
  return 0;
}

/* Returns the value of option argv[*index], or NULL after printing a message. */
static const char *option_value(const char *program, int argc, char **argv, int *index) {
  if (*index + 1 >= argc) {
    fprintf(stderr, "%s: option %s needs a value\n", program, argv[*index]);
    return NULL;
  }
  *index += 1;
  return argv[*index];
}

/* Cuts `*cursor` at the next ',' and returns the field, or NULL for an empty field. */
static const char *next_field(char **cursor) {
  char *start = *cursor;
  char *comma;
  if (start == NULL) {
    return NULL;
  }
  comma = strchr(start, ',');
  if (comma != NULL) {
    *comma = '\0';
    *cursor = comma + 1;
  } else {
    *cursor = NULL;
  }
  return *start != '\0' ? start : NULL;
}

static int add_peer(node_args *args, const char *program, const char *spec) {
  size_t n = args->options.peer_count;
  ntm_static_peer *peer;
  char *copy;
  char *cursor;
  int commas = 0;
  const char *p;

  if (n >= NODE_ARGS_MAX_PEERS) {
    fprintf(stderr, "%s: at most %d --peer options\n", program, NODE_ARGS_MAX_PEERS);
    return -1;
  }
  for (p = spec; *p != '\0'; ++p) {
    commas += *p == ',';
  }
  if (commas != 4) {
    fprintf(stderr, "%s: --peer '%s' must be NAME,PUBLIC_KEY,ENDPOINT,VIP4,VIP6 (empty fields allowed)\n",
            program, spec);
    return -1;
  }
  copy = strdup(spec);
  if (copy == NULL) {
    fprintf(stderr, "%s: out of memory\n", program);
    return -1;
  }
  peer = &args->peers[n];
  if (ntm_static_peer_init(peer, NTM_STATIC_PEER_VERSION) != NTM_OK) {
    fprintf(stderr, "%s: ntm_static_peer_init: %s\n", program, ntm_last_error());
    free(copy);
    return -1;
  }
  cursor = copy;
  peer->name = next_field(&cursor);
  peer->public_key = next_field(&cursor);
  peer->endpoint = next_field(&cursor);
  peer->virtual_ipv4 = next_field(&cursor);
  peer->virtual_ipv6 = next_field(&cursor);
  if (peer->name == NULL || peer->public_key == NULL) {
    fprintf(stderr, "%s: --peer '%s' needs a name and a public key\n", program, spec);
    free(copy);
    return -1;
  }
  args->peer_specs[n] = copy;
  args->options.peers = args->peers;
  args->options.peer_count = n + 1;
  return 0;
}

static int parse_log_level(const char *text, ntm_log_level *out) {
  static const char *const names[] = {"off", "error", "warn", "info", "debug"};
  int i;
  for (i = 0; i < 5; ++i) {
    if (strcmp(text, names[i]) == 0) {
      *out = (ntm_log_level)i;
      return 0;
    }
  }
  return -1;
}

int node_args_consume(node_args *args, const char *program, int argc, char **argv, int *index) {
  const char *opt = argv[*index];
  const char *value;
  ntm_options *o = &args->options;

  static const char *const known[] = {"--name",   "--key",         "--vip4",     "--vip6",
                                      "--listen", "--peer",        "--cipher",   "--log",
                                      "--mtu",    "--server",      "--server-cert", "--account",
                                      "--password", "--state",     "--direct-timeout", "--idle-timeout"};
  size_t k;
  int is_known = 0;
  for (k = 0; k < sizeof known / sizeof known[0]; ++k) {
    if (strcmp(opt, known[k]) == 0) {
      is_known = 1;
    }
  }
  if (!is_known) {
    return 0;
  }
  value = option_value(program, argc, argv, index);
  if (value == NULL) {
    return -1;
  }
  *index += 1;
  if (strcmp(opt, "--name") == 0) {
    o->name = value;
  } else if (strcmp(opt, "--key") == 0) {
    o->private_key = value;
  } else if (strcmp(opt, "--vip4") == 0) {
    o->virtual_ipv4 = value;
  } else if (strcmp(opt, "--vip6") == 0) {
    o->virtual_ipv6 = value;
  } else if (strcmp(opt, "--listen") == 0) {
    /* The first --listen disables the families not listed (no wildcard binds by surprise). */
    if (!args->listen_given) {
      o->listen_ipv4 = "";
      o->listen_ipv6 = "";
      args->listen_given = 1;
    }
    if (value[0] == '[') {
      o->listen_ipv6 = value;
    } else {
      o->listen_ipv4 = value;
    }
  } else if (strcmp(opt, "--peer") == 0) {
    return add_peer(args, program, value) == 0 ? 1 : -1;
  } else if (strcmp(opt, "--cipher") == 0) {
    if (strcmp(value, "aes") == 0) {
      o->cipher = NTM_CIPHER_AES_256_GCM;
    } else if (strcmp(value, "chacha") == 0) {
      o->cipher = NTM_CIPHER_CHACHA20_POLY1305;
    } else {
      fprintf(stderr, "%s: --cipher must be aes or chacha, not '%s'\n", program, value);
      return -1;
    }
  } else if (strcmp(opt, "--log") == 0) {
    if (parse_log_level(value, &o->log_level) != 0) {
      fprintf(stderr, "%s: --log must be off, error, warn, info or debug, not '%s'\n", program,
              value);
      return -1;
    }
  } else if (strcmp(opt, "--server") == 0) {
    o->server = value;
  } else if (strcmp(opt, "--server-cert") == 0) {
    o->server_certificate = value;
  } else if (strcmp(opt, "--account") == 0) {
    o->account = value;
  } else if (strcmp(opt, "--password") == 0) {
    o->password = value;
  } else if (strcmp(opt, "--state") == 0) {
    o->state_dir = value;
  } else if (strcmp(opt, "--direct-timeout") == 0) {
    char *end = NULL;
    unsigned long ms = strtoul(value, &end, 10);
    if (end == value || *end != '\0' || ms == 0 || ms > 60000) {
      fprintf(stderr, "%s: --direct-timeout must be 1-60000 ms, not '%s'\n", program, value);
      return -1;
    }
    o->direct_timeout_ms = (unsigned int)ms;
  } else if (strcmp(opt, "--idle-timeout") == 0) {
    char *end = NULL;
    unsigned long ms = strtoul(value, &end, 10);
    if (end == value || *end != '\0' || ms == 0 || ms > 86400000UL) {
      fprintf(stderr, "%s: --idle-timeout must be 1-86400000 ms, not '%s'\n", program, value);
      return -1;
    }
    o->idle_timeout_ms = (unsigned int)ms;
  } else { /* --mtu */
    char *end = NULL;
    unsigned long mtu = strtoul(value, &end, 10);
    if (end == value || *end != '\0' || mtu > 65535) {
      fprintf(stderr, "%s: --mtu must be a number up to 65535, not '%s'\n", program, value);
      return -1;
    }
    o->mtu = (unsigned int)mtu;
  }
  return 1;
}

int node_args_check(const node_args *args, const char *program) {
  const ntm_options *o = &args->options;
  if (o->server != NULL) {
    /* Control-plane mode: the AS names the node and the DC gives its virtual addresses. */
    if (o->server_certificate == NULL || o->account == NULL || o->password == NULL) {
      fprintf(stderr, "%s: --server needs --server-cert, --account and --password\n", program);
      return -1;
    }
    return 0;
  }
  if (o->name == NULL) {
    fprintf(stderr, "%s: --name is required\n", program);
    return -1;
  }
  if (o->private_key == NULL) {
    fprintf(stderr, "%s: --key is required (make one with ntm-keygen)\n", program);
    return -1;
  }
  if (o->virtual_ipv4 == NULL && o->virtual_ipv6 == NULL) {
    fprintf(stderr, "%s: at least one of --vip4 and --vip6 is required\n", program);
    return -1;
  }
  return 0;
}

void node_args_free(node_args *args) {
  size_t i;
  for (i = 0; i < NODE_ARGS_MAX_PEERS; ++i) {
    free(args->peer_specs[i]);
    args->peer_specs[i] = NULL;
  }
  args->options.peer_count = 0;
}

const char *node_args_usage(void) {
  return "Node options:\n"
         "  --name NAME          this node's name, e.g. alice.example (required)\n"
         "  --key PRIVATE_KEY    this node's private key from ntm-keygen (required)\n"
         "  --vip4 ADDR          this node's virtual IPv4 address, e.g. 100.64.0.1\n"
         "  --vip6 ADDR          this node's virtual IPv6 address, e.g. fd00:6e74:6d::1\n"
         "                       (at least one of --vip4/--vip6)\n"
         "  --listen HOST:PORT   real UDP address to bind, e.g. 127.0.0.1:47001 or [::1]:0;\n"
         "                       repeat for both families; once given, unlisted families are\n"
         "                       off (default: 0.0.0.0:0 and [::]:0)\n"
         "  --peer NAME,PUBLIC_KEY,ENDPOINT,VIP4,VIP6\n"
         "                       a static peer (repeatable); leave ENDPOINT empty when only the\n"
         "                       peer starts tunnels, e.g. bob.example,KEY,,100.64.0.2,fd00::2\n"
         "  --cipher aes|chacha  tunnel AEAD (default aes)\n"
         "  --mtu N              virtual MTU (default 1420)\n"
         "  --log LEVEL          off, error, warn (default), info or debug\n"
         "Control-plane mode (instead of --name/--key/--vip4/--vip6):\n"
         "  --server HOST:PORT   the Account Server, e.g. 127.0.0.1:7800\n"
         "  --server-cert FILE   the AS certificate to trust (as-tls.pem in the server's state)\n"
         "  --account NAME --password SECRET   the account to log in with\n"
         "  --state DIR          keep this node's key in DIR across restarts\n"
         "  --direct-timeout MS  hole-punching time before the relay is used (default 1000)\n"
         "  --idle-timeout MS    idle tunnels drop their keys after this (default 180000)\n";
}

int node_args_split_host_port(const char *text, char *host_out, size_t host_size,
                              const char **port_out) {
  const char *colon = strrchr(text, ':');
  const char *host = text;
  size_t host_len;
  if (colon == NULL || colon[1] == '\0') {
    return -1;
  }
  host_len = (size_t)(colon - text);
  if (host_len >= 2 && text[0] == '[' && text[host_len - 1] == ']') {
    host += 1;
    host_len -= 2;
  }
  if (host_len == 0 || host_len >= host_size) {
    return -1;
  }
  memcpy(host_out, host, host_len);
  host_out[host_len] = '\0';
  *port_out = colon + 1;
  return 0;
}
