/* Run by the abi tests: the library's ntm_version() must match the header it was built with. */
#include <ntm.h>

#include <stdio.h>
#include <string.h>

int main(void) {
  char expected[32];
  const char *actual = ntm_version();
  snprintf(expected, sizeof expected, "%d.%d.%d", NTM_VERSION_MAJOR, NTM_VERSION_MINOR,
           NTM_VERSION_PATCH);
  if (actual == NULL || strcmp(actual, expected) != 0) {
    fprintf(stderr, "ntm_version() is \"%s\", the header says \"%s\"\n",
            actual != NULL ? actual : "(null)", expected);
    return 1;
  }
  if (strcmp(ntm_strerror(NTM_OK), ntm_strerror(NTM_EINVAL)) == 0 || ntm_last_error() == NULL) {
    fprintf(stderr, "ntm_strerror/ntm_last_error do not describe errors\n");
    return 1;
  }
  printf("ntm %s\n", actual);
  return 0;
}
