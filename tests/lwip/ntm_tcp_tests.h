/* ntmobile's tests of its lwIP patches (test_ntm_tcp.c). */
#ifndef NTM_TCP_TESTS_H
#define NTM_TCP_TESTS_H

#include "lwip_check.h"

Suite *ntm_tcp_suite(void);

#endif
