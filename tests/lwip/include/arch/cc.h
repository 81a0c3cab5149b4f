/* The platform of lwIP's unit-test build (tests/lwip): a C library and abort() on assertions. */
#ifndef NTM_LWIP_TEST_ARCH_CC_H
#define NTM_LWIP_TEST_ARCH_CC_H

#include <stdio.h>
#include <stdlib.h>

#define LWIP_PLATFORM_DIAG(x) do { printf x; } while (0)
#define LWIP_PLATFORM_ASSERT(x) \
  do { fprintf(stderr, "lwIP assertion \"%s\" failed at %s:%d\n", x, __FILE__, __LINE__); \
       fflush(stderr); abort(); } while (0)
#define LWIP_RAND() ((u32_t)rand())

#endif
