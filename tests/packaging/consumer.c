/* A program outside the ntmobile tree, built against an installed libntm (the packaging suite
 * copies it into a temporary folder with one of the two build files beside it). It checks that
 * the installed header and library agree, then starts a static-peer node on loopback, reads its
 * virtual address back and stops it. Prints "consumer ok VERSION" and exits 0 on success. */
#include <ntm.h>

#include <stdio.h>
#include <string.h>

int main(void) {
  char expected[32];
  snprintf(expected, sizeof expected, "%d.%d.%d", NTM_VERSION_MAJOR, NTM_VERSION_MINOR,
           NTM_VERSION_PATCH);
  if (strcmp(ntm_version(), expected) != 0) {
    fprintf(stderr, "installed libntm is %s, installed ntm.h says %s\n", ntm_version(), expected);
    return 1;
  }
  char private_key[NTM_KEY_TEXT_SIZE], public_key[NTM_KEY_TEXT_SIZE];
  if (ntm_keypair_generate(private_key, public_key) != NTM_OK) {
    fprintf(stderr, "ntm_keypair_generate: %s\n", ntm_last_error());
    return 1;
  }
  ntm_options options;
  ntm_options_init(&options, NTM_OPTIONS_VERSION);
  options.name = "consumer.example";
  options.private_key = private_key;
  options.virtual_ipv4 = "100.64.0.9";
  options.listen_ipv4 = "127.0.0.1:0";
  options.listen_ipv6 = "";
  if (ntm_start(&options) != NTM_OK) {
    fprintf(stderr, "ntm_start: %s\n", ntm_last_error());
    return 1;
  }
  ntm_node_info info;
  memset(&info, 0, sizeof info);
  info.version = NTM_NODE_INFO_VERSION;
  int rc = ntm_get_node_info(&info);
  ntm_stop();
  if (rc != NTM_OK || strcmp(info.virtual_ipv4, "100.64.0.9") != 0) {
    fprintf(stderr, "ntm_get_node_info: rc %d, virtual address '%s'\n", rc, info.virtual_ipv4);
    return 1;
  }
  printf("consumer ok %s\n", ntm_version());
  return 0;
}
