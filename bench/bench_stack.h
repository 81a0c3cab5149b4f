// The socket calls of one stack, as a table: the benchmarks run the same code over ntmobile
// (ntm_* calls) and over the kernel (BSD calls), since ntm's socket API mirrors BSD's.
#pragma once

#include <ntm.h>

#include <sys/socket.h>
#include <unistd.h>

namespace ntm_bench {

struct Stack {
  const char *name;
  int (*socket)(int, int, int);
  int (*bind)(int, const sockaddr *, socklen_t);
  int (*listen)(int, int);
  int (*accept)(int, sockaddr *, socklen_t *);
  int (*connect)(int, const sockaddr *, socklen_t);
  ssize_t (*send)(int, const void *, size_t, int);
  ssize_t (*recv)(int, void *, size_t, int);
  ssize_t (*sendto)(int, const void *, size_t, int, const sockaddr *, socklen_t);
  ssize_t (*recvfrom)(int, void *, size_t, int, sockaddr *, socklen_t *);
  int (*setsockopt)(int, int, int, const void *, socklen_t);
  int (*getsockname)(int, sockaddr *, socklen_t *);
  int (*shutdown)(int, int);
  int (*close)(int);
};

inline const Stack kKernel = {
    "kernel",
    [](int d, int t, int p) { return ::socket(d, t, p); },
    [](int f, const sockaddr *a, socklen_t l) { return ::bind(f, a, l); },
    [](int f, int b) { return ::listen(f, b); },
    [](int f, sockaddr *a, socklen_t *l) { return ::accept(f, a, l); },
    [](int f, const sockaddr *a, socklen_t l) { return ::connect(f, a, l); },
    [](int f, const void *b, size_t n, int fl) { return ::send(f, b, n, fl); },
    [](int f, void *b, size_t n, int fl) { return ::recv(f, b, n, fl); },
    [](int f, const void *b, size_t n, int fl, const sockaddr *a, socklen_t l) {
      return ::sendto(f, b, n, fl, a, l);
    },
    [](int f, void *b, size_t n, int fl, sockaddr *a, socklen_t *l) {
      return ::recvfrom(f, b, n, fl, a, l);
    },
    [](int f, int lv, int o, const void *v, socklen_t l) { return ::setsockopt(f, lv, o, v, l); },
    [](int f, sockaddr *a, socklen_t *l) { return ::getsockname(f, a, l); },
    [](int f, int h) { return ::shutdown(f, h); },
    [](int f) { return ::close(f); },
};

inline const Stack kNtm = {"ntm",       ntm_socket, ntm_bind,       ntm_listen,       ntm_accept,
                           ntm_connect, ntm_send,   ntm_recv,       ntm_sendto,       ntm_recvfrom,
                           ntm_setsockopt, ntm_getsockname, ntm_shutdown, ntm_close};

}  // namespace ntm_bench
