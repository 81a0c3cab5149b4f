/*
 * ntm-start-node: the lightest node there is, for start-up bursts (hundreds of processes at
 * once against one AS and DC; lwIP is a process singleton, so one node per process). In plain C
 * against ntm.h only.
 *
 *   ntm-start-node NODE-OPTIONS [--start-timeout MS] [--hold]
 *
 * Calls ntm_start() once (control-plane mode: the node logs in and registers, retrying a busy
 * AS or DC within --start-timeout) and prints one line:
 *   "READY t=<CLOCK_MONOTONIC seconds> ms=<time ntm_start took> name=<FQDN>"  or
 *   "FAILED t=... ms=... code=<ntm error code> msg=<message>"
 * With --hold it then stays up until its standard input closes (so a driver can keep hundreds
 * registered at once), and stops the node. Exit status 0 when the node started.
 */
#include <ntm.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "node_args.h"

static double mono_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  node_args args;
  int hold = 0;
  if (node_args_init(&args) != 0) return 2;
  for (int i = 1; i < argc;) {
    const int used = node_args_consume(&args, argv[0], argc, argv, &i);
    if (used < 0) return 2;
    if (used > 0) continue;
    if (strcmp(argv[i], "--start-timeout") == 0 && i + 1 < argc) {
      args.options.start_timeout_ms = (unsigned)strtoul(argv[i + 1], NULL, 10);
      i += 2;
    } else if (strcmp(argv[i], "--hold") == 0) {
      hold = 1;
      i += 1;
    } else {
      fprintf(stderr, "%s: unknown argument '%s'\n%s", argv[0], argv[i], node_args_usage());
      return 2;
    }
  }
  if (node_args_check(&args, argv[0]) != 0) return 2;

  const double t0 = mono_now();
  const int rc = ntm_start(&args.options);
  const double t1 = mono_now();
  if (rc != NTM_OK) {
    printf("FAILED t=%.3f ms=%.0f code=%d msg=%s\n", t1, (t1 - t0) * 1000, rc, ntm_last_error());
    fflush(stdout);
    node_args_free(&args);
    return 1;
  }
  char name[256] = "";
  ntm_node_info info;
  memset(&info, 0, sizeof(info));
  info.version = NTM_NODE_INFO_VERSION;
  if (ntm_get_node_info(&info) == NTM_OK) snprintf(name, sizeof(name), "%s", info.name);
  printf("READY t=%.3f ms=%.0f name=%s\n", t1, (t1 - t0) * 1000, name);
  fflush(stdout);
  if (hold) {
    char buf[64];
    while (read(0, buf, sizeof(buf)) > 0) {
    }
  }
  ntm_stop();
  node_args_free(&args);
  return 0;
}
