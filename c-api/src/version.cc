// ntm_version(): the library's version, for run-time compatibility checks.
#include "ntm.h"

#define NTM_STR2(x) #x
#define NTM_STR(x) NTM_STR2(x)

extern "C" NTM_EXTERN(const char *) ntm_version(void) {
  return NTM_STR(NTM_VERSION_MAJOR) "." NTM_STR(NTM_VERSION_MINOR) "." NTM_STR(NTM_VERSION_PATCH);
}
