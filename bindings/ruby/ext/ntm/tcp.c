/*
 * tcp.c - TCP for Ruby over the real-descriptor bridge: connect, listen and accept.
 *
 * Connecting may take long (a tunnel handshake, or ETIMEDOUT for an unreachable peer), and a
 * blocked ntm_connect() cannot be woken safely from Ruby's unblocking function (closing the
 * descriptor there could close a number another thread has just been given). So the connect runs
 * on a short-lived native thread that owns the ntm descriptor; it reports through a socketpair
 * that the Ruby thread waits on with IO#wait_readable - an ordinary Ruby wait, so the GVL is
 * released and Thread#kill, Timeout and Ctrl-C interrupt it at once. An abandoned request is
 * finished by the worker, which closes what it made.
 *
 * Listening uses ntm_bridge_listen(): the listener Ruby sees is a real (Unix) listening
 * descriptor, non-blocking, whose readiness means "a connection is pending"; accept calls
 * ntm_bridge_accept_listener() on it.
 */
#include "ntm_ext.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---------------------------------------------------------------------------------------- */
/* Connect                                                                                   */
/* ---------------------------------------------------------------------------------------- */

typedef struct connect_request {
  pthread_mutex_t mutex;
  int refs;      /* the Ruby object and the worker */
  int done;      /* the worker finished */
  int abandoned; /* the Ruby side gave up (or was collected) */
  int taken;     /* Ruby took the descriptor */
  struct sockaddr_storage target;
  socklen_t target_len;
  struct sockaddr_storage local_bind;
  socklen_t local_bind_len; /* 0: no explicit local address */
  int wait_fd;              /* Ruby waits for this to become readable */
  int notify_fd;            /* the worker writes one byte here when done */
  /* results */
  int fd;
  int err;
  const char *failed_call;
  struct sockaddr_storage local;
  struct sockaddr_storage peer;
} connect_request;

static void release_request(connect_request *r) {
  int last;
  pthread_mutex_lock(&r->mutex);
  last = --r->refs == 0;
  pthread_mutex_unlock(&r->mutex);
  if (!last) return;
  if (r->wait_fd >= 0) close(r->wait_fd);
  if (r->notify_fd >= 0) close(r->notify_fd);
  if (r->fd >= 0 && !r->taken) close(r->fd);
  pthread_mutex_destroy(&r->mutex);
  free(r);
}

static void finish_request(connect_request *r, int fd, int err, const char *failed_call) {
  pthread_mutex_lock(&r->mutex);
  r->done = 1;
  r->fd = fd;
  r->err = err;
  r->failed_call = failed_call;
  if (r->abandoned) {
    if (r->fd >= 0) close(r->fd);
    r->fd = -1;
  } else if (send(r->notify_fd, "c", 1, MSG_NOSIGNAL) < 0) {
    /* cannot happen while the Ruby side holds wait_fd; it would see the result anyway */
  }
  close(r->notify_fd);
  r->notify_fd = -1;
  pthread_mutex_unlock(&r->mutex);
  release_request(r);
}

/*
 * Connect workers and ntm_stop(). lwIP 2.1.3 cannot close a socket while another thread waits
 * on it in a blocking connect ("blocking connect in progress" assertion) or, now and then, in
 * poll ("sock->fd_used != 0") - and ntm_stop() closes every socket. So workers connect
 * non-blocking and poll in short slices, and NTM.stop first raises g_stopping and waits until no
 * worker is inside ntm_poll(); each one closes its own socket and reports ENETDOWN.
 */
#define CONNECT_POLL_SLICE_MS 50

static pthread_mutex_t g_connects_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_connects_idle = PTHREAD_COND_INITIALIZER;
static int g_connects_waiting; /* workers between ntm_connect() and the outcome */
static int g_stopping;

void ntm_rb_tcp_before_stop(void) {
  pthread_mutex_lock(&g_connects_mutex);
  g_stopping = 1;
  while (g_connects_waiting > 0) pthread_cond_wait(&g_connects_idle, &g_connects_mutex);
  pthread_mutex_unlock(&g_connects_mutex);
}

void ntm_rb_tcp_after_stop(void) {
  pthread_mutex_lock(&g_connects_mutex);
  g_stopping = 0;
  pthread_mutex_unlock(&g_connects_mutex);
}

static int stopping(void) {
  int value;
  pthread_mutex_lock(&g_connects_mutex);
  value = g_stopping;
  pthread_mutex_unlock(&g_connects_mutex);
  return value;
}

/* Connects fd (non-blocking) and waits for the outcome. Returns 0 or an errno value; ENETDOWN
 * when NTM.stop is stopping the node (fd is still open then). */
static int connect_and_wait(int fd, const struct sockaddr *target, socklen_t target_len) {
  struct pollfd p;
  int err = 0;
  socklen_t len = sizeof err;
  if (ntm_connect(fd, target, target_len) == 0) return 0;
  if (errno != EINPROGRESS && errno != EALREADY) return errno;
  for (;;) {
    int n;
    p.fd = fd;
    p.events = POLLOUT;
    p.revents = 0;
    n = ntm_poll(&p, 1, CONNECT_POLL_SLICE_MS);
    if (stopping()) return ENETDOWN;
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (p.revents & POLLNVAL) return EBADF;
    if (p.revents & (POLLOUT | POLLERR | POLLHUP)) {
      if (ntm_getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
      if (err != EINPROGRESS && err != EALREADY) return err;
    }
  }
}

/* As connect_and_wait, counted so ntm_rb_tcp_before_stop() can wait for it; closes fd on
 * failure. */
static int connect_counted(int fd, const struct sockaddr *target, socklen_t target_len) {
  int err;
  pthread_mutex_lock(&g_connects_mutex);
  if (g_stopping) {
    pthread_mutex_unlock(&g_connects_mutex);
    ntm_close(fd);
    return ENETDOWN;
  }
  g_connects_waiting++;
  pthread_mutex_unlock(&g_connects_mutex);
  err = connect_and_wait(fd, target, target_len);
  if (err != 0) ntm_close(fd); /* before ntm_stop() may run: nothing waits on it any more */
  pthread_mutex_lock(&g_connects_mutex);
  if (--g_connects_waiting == 0) pthread_cond_broadcast(&g_connects_idle);
  pthread_mutex_unlock(&g_connects_mutex);
  return err;
}

static void *connect_worker(void *arg) {
  connect_request *r = arg;
  int one = 1;
  int fd;
  int os_fd;
  int err;
  socklen_t len;
  fd = ntm_socket(r->target.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    finish_request(r, -1, errno, "socket(2)");
    return NULL;
  }
  /* The bridge's pump already batches writes; Nagle would only add delay on top. */
  ntm_setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (r->local_bind_len > 0) {
    ntm_setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ntm_bind(fd, (struct sockaddr *)&r->local_bind, r->local_bind_len) != 0) {
      err = errno;
      ntm_close(fd);
      finish_request(r, -1, err, "bind(2)");
      return NULL;
    }
  }
  err = connect_counted(fd, (struct sockaddr *)&r->target, r->target_len);
  if (err != 0) {
    /* libntm gives BSD errnos (ECONNREFUSED, ETIMEDOUT); a descriptor closed by NTM.stop
     * means the network went away. */
    if (err == EBADF) err = ENETDOWN;
    finish_request(r, -1, err, "connect(2)");
    return NULL;
  }
  len = sizeof r->local;
  ntm_getsockname(fd, (struct sockaddr *)&r->local, &len);
  len = sizeof r->peer;
  if (ntm_getpeername(fd, (struct sockaddr *)&r->peer, &len) != 0) r->peer = r->target;
  os_fd = ntm_bridge_socket(fd); /* owns fd from here, even on failure */
  if (os_fd < 0) {
    finish_request(r, -1, errno, "ntm_bridge_socket");
    return NULL;
  }
  if (ntm_rb_prepare_os_fd(os_fd) != 0) {
    err = errno;
    close(os_fd);
    finish_request(r, -1, err, "fcntl(2)");
    return NULL;
  }
  finish_request(r, os_fd, 0, NULL);
  return NULL;
}

/* Marks the request abandoned and closes what the Ruby side owns. Idempotent. */
static void abandon_request(connect_request *r) {
  pthread_mutex_lock(&r->mutex);
  if (!r->abandoned) {
    r->abandoned = 1;
    if (r->done && !r->taken && r->fd >= 0) {
      close(r->fd);
      r->fd = -1;
    }
  }
  pthread_mutex_unlock(&r->mutex);
}

static void request_free(void *data) {
  connect_request *r = data;
  abandon_request(r);
  release_request(r);
}

static size_t request_size(const void *data) {
  (void)data;
  return sizeof(connect_request);
}

static VALUE cConnectRequest;

static const rb_data_type_t request_type = {
    .wrap_struct_name = "NTM::Native::ConnectRequest",
    .function = {.dfree = request_free, .dsize = request_size},
    .flags = RUBY_TYPED_FREE_IMMEDIATELY};

static connect_request *get_request(VALUE self) {
  return rb_check_typeddata(self, &request_type);
}

/*
 * NTM::Native.connect_start(family, ip, port, local_ip_or_nil, local_port_or_nil)
 *   -> ConnectRequest
 * Starts connecting on a worker thread and returns at once.
 */
static VALUE native_connect_start(VALUE self, VALUE family, VALUE ip, VALUE port, VALUE local_ip,
                                  VALUE local_port) {
  struct sockaddr_storage target;
  struct sockaddr_storage local_bind;
  socklen_t target_len;
  socklen_t local_bind_len = 0;
  int pair[2];
  int rc;
  pthread_t thread;
  pthread_attr_t attr;
  connect_request *r;
  VALUE obj;
  (void)self;
  target_len = ntm_rb_to_sockaddr(NUM2INT(family), ip, port, &target);
  if (!NIL_P(local_ip) || !NIL_P(local_port)) {
    VALUE any = rb_str_new_cstr(NUM2INT(family) == 6 ? "::" : "0.0.0.0");
    local_bind_len = ntm_rb_to_sockaddr(NUM2INT(family), NIL_P(local_ip) ? any : local_ip,
                                        NIL_P(local_port) ? INT2FIX(0) : local_port, &local_bind);
  }
  if (!ntm_is_running()) ntm_rb_raise_errno(ENETDOWN, "ntm node is not running (NTM.start)");

  /* calloc, not ruby_xmalloc: the worker thread may be the one that frees it. */
  r = calloc(1, sizeof *r);
  if (r == NULL) rb_raise(rb_eNoMemError, "out of memory");
  pthread_mutex_init(&r->mutex, NULL);
  r->refs = 1;
  r->fd = -1;
  r->wait_fd = -1;
  r->notify_fd = -1;
  r->target = target;
  r->target_len = target_len;
  r->local_bind = local_bind;
  r->local_bind_len = local_bind_len;
  obj = TypedData_Wrap_Struct(cConnectRequest, &request_type, r); /* frees r from here on */
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    ntm_rb_raise_errno(errno, "socketpair(2)");
  }
  r->wait_fd = pair[0];
  r->notify_fd = pair[1];
  r->refs = 2;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  rc = pthread_create(&thread, &attr, connect_worker, r);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    r->refs = 1;
    ntm_rb_raise_errno(rc, "pthread_create");
  }
  return obj;
}

/* ConnectRequest#wait_fd -> the descriptor that becomes readable when the result is ready. */
static VALUE request_wait_fd(VALUE self) { return INT2NUM(get_request(self)->wait_fd); }

/* ConnectRequest#done? */
static VALUE request_done_p(VALUE self) {
  connect_request *r = get_request(self);
  int done;
  pthread_mutex_lock(&r->mutex);
  done = r->done;
  pthread_mutex_unlock(&r->mutex);
  return done ? Qtrue : Qfalse;
}

/*
 * ConnectRequest#take -> [os_fd, local_address, peer_address], or raises the connect error
 * (Errno::ECONNREFUSED, ...). nil if not finished yet. The descriptor then belongs to Ruby.
 */
static VALUE request_take(VALUE self, VALUE description) {
  connect_request *r = get_request(self);
  int done, fd, err;
  const char *failed;
  pthread_mutex_lock(&r->mutex);
  done = r->done;
  fd = r->fd;
  err = r->err;
  failed = r->failed_call;
  if (done && fd >= 0 && !r->abandoned) r->taken = 1;
  pthread_mutex_unlock(&r->mutex);
  if (!done) return Qnil;
  if (r->abandoned) rb_raise(rb_eIOError, "connect request already abandoned");
  if (fd < 0) {
    VALUE what = rb_sprintf("%s for %" PRIsVALUE, failed ? failed : "connect(2)", description);
    rb_syserr_fail_str(err, what);
  }
  return rb_ary_new_from_args(3, INT2NUM(fd), ntm_rb_from_sockaddr((struct sockaddr *)&r->local),
                              ntm_rb_from_sockaddr((struct sockaddr *)&r->peer));
}

/* ConnectRequest#abandon -> nil. Gives up; the worker closes the connection if it succeeds. */
static VALUE request_abandon(VALUE self) {
  abandon_request(get_request(self));
  return Qnil;
}

/* ---------------------------------------------------------------------------------------- */
/* Listen / accept                                                                           */
/* ---------------------------------------------------------------------------------------- */

/*
 * NTM::Native.tcp_listen(family, ip, port, backlog) -> [os_listen_fd, local_address]
 * "::" listens on both families (like Linux's default for in6addr_any).
 */
static VALUE native_tcp_listen(VALUE self, VALUE family, VALUE ip, VALUE port, VALUE backlog) {
  struct sockaddr_storage addr;
  struct sockaddr_storage bound;
  socklen_t len = ntm_rb_to_sockaddr(NUM2INT(family), ip, port, &addr);
  socklen_t bound_len = sizeof bound;
  int one = 1;
  int zero = 0;
  int fd;
  int os_fd;
  (void)self;
  fd = ntm_socket(addr.ss_family, SOCK_STREAM, 0);
  if (fd < 0) ntm_rb_raise_errno(errno, "socket(2)");
  ntm_setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (addr.ss_family == AF_INET6) ntm_setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  if (ntm_bind(fd, (struct sockaddr *)&addr, len) != 0) {
    int err = errno;
    VALUE what = rb_sprintf("bind(2) for %" PRIsVALUE " port %" PRIsVALUE, rb_inspect(ip), port);
    ntm_close(fd);
    rb_syserr_fail_str(err, what);
  }
  if (ntm_listen(fd, NUM2INT(backlog)) != 0) {
    int err = errno;
    ntm_close(fd);
    ntm_rb_raise_errno(err, "listen(2)");
  }
  if (ntm_getsockname(fd, (struct sockaddr *)&bound, &bound_len) != 0) bound = addr;
  os_fd = ntm_bridge_listen(fd); /* owns fd from here */
  if (os_fd < 0) ntm_rb_raise_errno(errno, "ntm_bridge_listen");
  if (ntm_rb_prepare_os_fd(os_fd) != 0) {
    int err = errno;
    close(os_fd);
    ntm_rb_raise_errno(err, "fcntl(2)");
  }
  return rb_ary_new_from_args(2, INT2NUM(os_fd), ntm_rb_from_sockaddr((struct sockaddr *)&bound));
}

typedef struct accept_args {
  int listen_fd;
  int fd;
  int err;
  struct sockaddr_storage peer;
} accept_args;

static void *accept_without_gvl(void *data) {
  accept_args *a = data;
  socklen_t len = sizeof a->peer;
  a->fd = ntm_bridge_accept_listener(a->listen_fd, (struct sockaddr *)&a->peer, &len);
  a->err = a->fd < 0 ? errno : 0;
  return NULL;
}

/*
 * NTM::Native.bridge_accept(os_listen_fd) -> [os_fd, peer_address], or nil when no connection
 * is pending. The listener is non-blocking, so this never waits for a connection (the GVL is
 * released because reading the connection's address record may take a moment).
 */
static VALUE native_bridge_accept(VALUE self, VALUE listen_fd) {
  accept_args a;
  (void)self;
  memset(&a, 0, sizeof a);
  a.listen_fd = NUM2INT(listen_fd);
  rb_thread_call_without_gvl(accept_without_gvl, &a, NULL, NULL);
  if (a.fd < 0) {
    if (a.err == EAGAIN || a.err == EWOULDBLOCK || a.err == ECONNABORTED || a.err == EPROTO ||
        a.err == EINTR) {
      return Qnil;
    }
    /* A listener shut down by native_shutdown_listener (NTM.stop) fails accept with EINVAL. */
    if (a.err == EINVAL) ntm_rb_raise_errno(ENETDOWN, "accept(2): the ntm node stopped");
    ntm_rb_raise_errno(a.err, "accept(2)");
  }
  if (ntm_rb_prepare_os_fd(a.fd) != 0) {
    int err = errno;
    close(a.fd);
    ntm_rb_raise_errno(err, "fcntl(2)");
  }
  return rb_ary_new_from_args(2, INT2NUM(a.fd), ntm_rb_from_sockaddr((struct sockaddr *)&a.peer));
}

/*
 * NTM::Native.shutdown_listener(os_listen_fd) -> nil. After ntm_stop() the library no longer
 * feeds a bridged listener, but nothing tells the threads waiting on it. shutdown(2) makes the
 * listener readable and accept fail (EINVAL), which wakes them.
 */
static VALUE native_shutdown_listener(VALUE self, VALUE fd) {
  (void)self;
  shutdown(NUM2INT(fd), SHUT_RDWR);
  return Qnil;
}

/*
 * NTM::Native.bridge_setsockopt(os_fd, level, optname, int_value) -> nil and
 * NTM::Native.bridge_getsockopt(os_fd, level, optname) -> Integer: TCP_NODELAY, SO_KEEPALIVE and
 * the keepalive timers of the virtual connection behind a bridged descriptor (a Unix socket, so
 * setsockopt(2) cannot reach them).
 */
static VALUE native_bridge_setsockopt(VALUE self, VALUE fd, VALUE level, VALUE optname, VALUE value) {
  int v = NUM2INT(value);
  (void)self;
  if (ntm_bridge_setsockopt(NUM2INT(fd), NUM2INT(level), NUM2INT(optname), &v, sizeof v) != 0) {
    ntm_rb_raise_errno(errno, "setsockopt(2)");
  }
  return Qnil;
}

static VALUE native_bridge_getsockopt(VALUE self, VALUE fd, VALUE level, VALUE optname) {
  int v = 0;
  socklen_t len = sizeof v;
  (void)self;
  if (ntm_bridge_getsockopt(NUM2INT(fd), NUM2INT(level), NUM2INT(optname), &v, &len) != 0) {
    ntm_rb_raise_errno(errno, "getsockopt(2)");
  }
  return INT2NUM(v);
}

void ntm_rb_init_tcp(void) {
  VALUE request = rb_define_class_under(ntm_rb_mNative, "ConnectRequest", rb_cObject);
  cConnectRequest = request;
  rb_gc_register_mark_object(request);
  rb_undef_alloc_func(request);
  rb_define_method(request, "wait_fd", request_wait_fd, 0);
  rb_define_method(request, "done?", request_done_p, 0);
  rb_define_method(request, "take", request_take, 1);
  rb_define_method(request, "abandon", request_abandon, 0);
  rb_define_module_function(ntm_rb_mNative, "connect_start", native_connect_start, 5);
  rb_define_module_function(ntm_rb_mNative, "tcp_listen", native_tcp_listen, 4);
  rb_define_module_function(ntm_rb_mNative, "bridge_accept", native_bridge_accept, 1);
  rb_define_module_function(ntm_rb_mNative, "shutdown_listener", native_shutdown_listener, 1);
  rb_define_module_function(ntm_rb_mNative, "bridge_setsockopt", native_bridge_setsockopt, 4);
  rb_define_module_function(ntm_rb_mNative, "bridge_getsockopt", native_bridge_getsockopt, 3);
}
