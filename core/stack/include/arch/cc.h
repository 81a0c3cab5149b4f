/* lwIP compiler/platform glue for ntmobile (Linux and other POSIX systems, gcc/clang). */
#ifndef NTM_LWIP_ARCH_CC_H
#define NTM_LWIP_ARCH_CC_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/time.h>

#define LWIP_NO_CTYPE_H 0
/* htons() and friends come from the system (<arpa/inet.h>), not as lwIP's macros for
 * lwip_htons(): with the macros, a glibc header included after an lwIP one redeclares
 * lwip_htons() with another exception specification, which clang rejects (the fuzz build). */
#define LWIP_DONT_PROVIDE_BYTEORDER_FUNCTIONS 1
#define LWIP_TIMEVAL_PRIVATE 0
#define BYTE_ORDER LITTLE_ENDIAN

#ifdef __cplusplus
extern "C" {
#endif
void ntm_lwip_platform_assert(const char *message, const char *file, int line);
void ntm_lwip_platform_diag(const char *format, ...);
#ifdef __cplusplus
}
#endif

#define LWIP_PLATFORM_ASSERT(x) ntm_lwip_platform_assert((x), __FILE__, __LINE__)
#define LWIP_PLATFORM_DIAG(x) \
  do {                        \
    ntm_lwip_platform_diag x; \
  } while (0)

#endif
