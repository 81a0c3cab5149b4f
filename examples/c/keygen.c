/* ntm-keygen: prints a new X25519 key pair as "PRIVATE PUBLIC" (base64), for --key and --peer. */
#include <ntm.h>

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
  char private_key[NTM_KEY_TEXT_SIZE];
  char public_key[NTM_KEY_TEXT_SIZE];
  int rc;

  if (argc > 1) {
    fprintf(stderr,
            "usage: %s\n"
            "Prints a new node key pair as \"PRIVATE PUBLIC\". Give PRIVATE to the node's --key\n"
            "and PUBLIC to its peers' --peer options.\n",
            argv[0]);
    return strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ? 0 : 2;
  }
  rc = ntm_keypair_generate(private_key, public_key);
  if (rc != NTM_OK) {
    fprintf(stderr, "%s: ntm_keypair_generate failed: %s (%s)\n", argv[0], ntm_strerror(rc),
            ntm_last_error());
    return 1;
  }
  printf("%s %s\n", private_key, public_key);
  return 0;
}
