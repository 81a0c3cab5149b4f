/*
 * ntm-interop-node: the C implementation of the interop suite's node (tests/interop/README.md).
 *
 *   ntm-interop-node server|client --server HOST:PORT --server-cert PEM --account NAME
 *                    --password PW [--state DIR] [--port 7000] [--log LEVEL]
 *                    client only: --peer FQDN [--bytes N] [--family 4|6|both] [--udp-count N]
 *                    [--rate-mbps R]
 *
 * This file parses the command line (node options through the C examples' node_args), starts
 * the node in control-plane mode and hands over to run_server() or run_client().
 * Exit status: 0 success, 1 failure, 2 bad arguments.
 */
#include "interop.h"
#include "node_args.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *program = "ntm-interop-node";

static void usage(FILE *out) {
  fprintf(out,
          "usage: %s server|client --server HOST:PORT --server-cert PEM_FILE --account NAME\n"
          "                        --password PW [--state DIR] [--listen HOST:PORT]...\n"
          "                        [--port 7000] [--log LEVEL]\n"
          "  client only:          --peer FQDN [--bytes 8388608] [--family 4|6|both]\n"
          "                        [--udp-count 5] [--rate-mbps R]\n"
          "The interop node of tests/interop/README.md: records on stdout, diagnostics and the\n"
          "library log (--log off|error|warn|info|debug) on stderr.\n",
          program);
}

/* The node options of node_args.c that the interop command line takes (a subset). */
static int is_node_option(const char *opt) {
  static const char *const allowed[] = {"--server", "--server-cert", "--account", "--password",
                                        "--state", "--log", "--listen"};
  size_t i;
  for (i = 0; i < sizeof allowed / sizeof allowed[0]; ++i) {
    if (strcmp(opt, allowed[i]) == 0) {
      return 1;
    }
  }
  return 0;
}

/* Parses a number in [min, max]. Returns 0, or -1 after a message naming the option. */
static int parse_number(const char *opt, const char *text, double min, double max, double *out) {
  char *end = NULL;
  errno = 0;
  *out = strtod(text, &end);
  if (end == text || *end != '\0' || errno != 0 || !isfinite(*out) || *out < min || *out > max) {
    fprintf(stderr, "%s: %s must be a number from %g to %g, not '%s'\n", program, opt, min, max,
            text);
    return -1;
  }
  return 0;
}

static int is_integer(double value) {
  return value == floor(value);
}

/* Consumes one interop option with its value. Returns 1 if it was one, 0 if not, -1 on error. */
static int consume_interop_option(interop_config *config, const char *opt, const char *value,
                                  int *client_only) {
  double number = 0;
  if (strcmp(opt, "--peer") == 0) {
    config->peer = value;
    *client_only = 1;
  } else if (strcmp(opt, "--port") == 0) {
    if (parse_number(opt, value, 1, 65535, &number) != 0 || !is_integer(number)) {
      return -1;
    }
    config->port = (unsigned short)number;
  } else if (strcmp(opt, "--bytes") == 0) {
    if (parse_number(opt, value, 0, 1e12, &number) != 0 || !is_integer(number)) {
      return -1;
    }
    config->bytes = (uint64_t)number;
    *client_only = 1;
  } else if (strcmp(opt, "--udp-count") == 0) {
    if (parse_number(opt, value, 0, 10000, &number) != 0 || !is_integer(number)) {
      return -1;
    }
    config->udp_count = (unsigned)number;
    *client_only = 1;
  } else if (strcmp(opt, "--rate-mbps") == 0) {
    if (parse_number(opt, value, 0.001, 100000, &number) != 0) {
      return -1;
    }
    config->rate_mbps = number;
    *client_only = 1;
  } else if (strcmp(opt, "--family") == 0) {
    config->family_count = 0;
    if (strcmp(value, "4") == 0 || strcmp(value, "both") == 0) {
      config->families[config->family_count++] = AF_INET;
    }
    if (strcmp(value, "6") == 0 || strcmp(value, "both") == 0) {
      config->families[config->family_count++] = AF_INET6;
    }
    if (config->family_count == 0) {
      fprintf(stderr, "%s: --family must be 4, 6 or both, not '%s'\n", program, value);
      return -1;
    }
    *client_only = 1;
  } else {
    return 0;
  }
  return 1;
}

/* Parses argv into config and args. Returns 0, 1 after --help, or 2 after a message. */
static int parse_command_line(int argc, char **argv, interop_config *config, node_args *args) {
  int client_only = 0;
  int i = 2;
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 1;
  }
  if (strcmp(argv[1], "server") != 0 && strcmp(argv[1], "client") != 0) {
    fprintf(stderr, "%s: the first argument must be 'server' or 'client', not '%s'\n", program,
            argv[1]);
    return 2;
  }
  config->is_server = strcmp(argv[1], "server") == 0;
  while (i < argc) {
    const char *opt = argv[i];
    int used;
    if (is_node_option(opt)) {
      if (node_args_consume(args, program, argc, argv, &i) < 0) {
        return 2;
      }
      continue;
    }
    if (i + 1 >= argc) {
      fprintf(stderr, opt[0] == '-' ? "%s: option %s needs a value\n"
                                    : "%s: unexpected argument '%s'\n",
              program, opt);
      return 2;
    }
    used = consume_interop_option(config, opt, argv[i + 1], &client_only);
    if (used < 0) {
      return 2;
    }
    if (used == 0) {
      fprintf(stderr, "%s: unknown option '%s' (see --help)\n", program, opt);
      return 2;
    }
    i += 2;
  }
  if (args->options.server == NULL) {
    fprintf(stderr, "%s: --server HOST:PORT is required (control-plane mode)\n", program);
    return 2;
  }
  if (node_args_check(args, program) != 0) {
    return 2;
  }
  if (config->is_server && client_only) {
    fprintf(stderr, "%s: --peer, --bytes, --family, --udp-count and --rate-mbps are client "
            "options\n", program);
    return 2;
  }
  if (!config->is_server && config->peer == NULL) {
    fprintf(stderr, "%s: client needs --peer FQDN\n", program);
    return 2;
  }
  return 0;
}

int main(int argc, char **argv) {
  interop_config config;
  node_args args;
  ntm_node_info info;
  int status;
  int rc;

  memset(&config, 0, sizeof config);
  config.deadline = now_s() + INTEROP_DEADLINE_S;
  config.port = 7000;
  config.bytes = 8388608;
  config.families[0] = AF_INET;
  config.families[1] = AF_INET6;
  config.family_count = 2;
  config.udp_count = 5;
  if (node_args_init(&args) != 0) {
    return 1;
  }
  status = parse_command_line(argc, argv, &config, &args);
  if (status != 0) {
    node_args_free(&args);
    return status == 1 ? 0 : status;
  }

  if (config.is_server) {
    /* Signals are taken synchronously by the server's main thread (sigwait): block them before
     * ntm_start() creates the library's threads, so every thread inherits the mask. */
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
  }
  rc = ntm_start(&args.options);
  if (rc != NTM_OK) {
    fprintf(stderr, "%s: cannot start the node as account '%s' at %s: %s (%s)\n", program,
            args.options.account, args.options.server, ntm_strerror(rc), ntm_last_error());
    node_args_free(&args);
    return 1;
  }
  memset(&info, 0, sizeof info);
  info.version = NTM_NODE_INFO_VERSION;
  if (ntm_get_node_info(&info) != NTM_OK) {
    fprintf(stderr, "%s: ntm_get_node_info: %s\n", program, ntm_last_error());
    ntm_stop();
    node_args_free(&args);
    return 1;
  }
  fprintf(stderr, "%s: node %s up (virtual %s %s)\n", program, info.name, info.virtual_ipv4,
          info.virtual_ipv6);

  status = config.is_server ? run_server(&config, &info) : run_client(&config);
  if (ntm_is_running()) {
    ntm_stop();
  }
  node_args_free(&args);
  return status;
}
