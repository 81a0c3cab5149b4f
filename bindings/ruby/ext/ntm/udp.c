/*
 * udp.c - UDP for Ruby: a datagram bridge so NTMUDPSocket is a real IO.
 *
 * Ruby's IO needs an OS descriptor, and the C ABI bridges only stream sockets, so each
 * NTMUDPSocket owns a SOCK_SEQPACKET socketpair (message boundaries kept). Ruby holds one end;
 * a pump thread here receives from the ntm datagram socket and writes each datagram to the other
 * end prefixed by a 20-byte source record (the same layout as NTM_BRIDGE_HELLO: family u8 (4 or
 * 6), reserved u8, port u16 big-endian, address[16]). So readability of the Ruby descriptor
 * means "a datagram is waiting": IO.select, wait_readable and recvfrom_nonblock work. Sending
 * does not go through the pair: ntm_sendto() is called directly, without the GVL.
 *
 * The pump is the only thread that closes the ntm descriptor (closing it from another thread
 * could close a number a new socket has just been given). close() asks it to stop and wakes it
 * with an empty datagram to the socket's own address; a receive timeout is the fallback (a
 * connected socket does not accept datagrams from itself, and a socket Ruby garbage-collected
 * without close).
 */
#include "ntm_ext.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HEADER_SIZE 20
#define MAX_DATAGRAM 65535
#define PUMP_TIMEOUT_MS 500

typedef struct datagram {
  pthread_mutex_t mutex;
  int refs;     /* the Ruby object, and the pump while it runs */
  int family;   /* 4 or 6 */
  int ntm_fd;   /* -1 once closed */
  int app_fd;   /* Ruby's end of the pair (Ruby's IO closes it) */
  int pump_fd;  /* the pump's end */
  int bound;    /* has a local port (bind, connect or first send) */
  int pump_running;
  int closing;  /* close() was called (or the object was collected) */
  int dead;     /* the ntm descriptor is gone */
  int dead_errno;
} datagram;

static VALUE cDatagram;

static void release(datagram *d) {
  int last;
  pthread_mutex_lock(&d->mutex);
  last = --d->refs == 0;
  pthread_mutex_unlock(&d->mutex);
  if (!last) return;
  if (d->pump_fd >= 0) close(d->pump_fd);
  pthread_mutex_destroy(&d->mutex);
  free(d);
}

static void encode_header(unsigned char *h, const struct sockaddr_storage *from) {
  memset(h, 0, HEADER_SIZE);
  if (from->ss_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)from;
    h[0] = 6;
    memcpy(h + 2, &in6->sin6_port, 2);
    memcpy(h + 4, &in6->sin6_addr, 16);
  } else {
    const struct sockaddr_in *in = (const struct sockaddr_in *)from;
    h[0] = 4;
    memcpy(h + 2, &in->sin_port, 2);
    memcpy(h + 4, &in->sin_addr, 4);
  }
}

static int app_side_gone(int pump_fd) {
  struct pollfd p = {pump_fd, 0, 0};
  return poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR | POLLNVAL));
}

/* Called with the mutex held by the thread that owns closing: the pump. */
static void close_ntm_locked(datagram *d) {
  if (d->ntm_fd >= 0) ntm_close(d->ntm_fd);
  d->ntm_fd = -1;
  d->dead = 1;
}

static void *pump(void *arg) {
  datagram *d = arg;
  unsigned char *buf = malloc(HEADER_SIZE + MAX_DATAGRAM);
  int fd = d->ntm_fd; /* stable while the pump runs: only the pump closes it */
  struct timeval tv = {0, PUMP_TIMEOUT_MS * 1000};
  ntm_setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  while (buf != NULL) {
    struct sockaddr_storage from;
    socklen_t from_len = sizeof from;
    ssize_t n;
    int err;
    memset(&from, 0, sizeof from);
    n = ntm_recvfrom(fd, buf + HEADER_SIZE, MAX_DATAGRAM, 0, (struct sockaddr *)&from, &from_len);
    err = errno;
    pthread_mutex_lock(&d->mutex);
    if (d->closing) {
      close_ntm_locked(d);
      pthread_mutex_unlock(&d->mutex);
      break;
    }
    if (n < 0 && err != EAGAIN && err != EWOULDBLOCK && err != EINTR && err != ETIMEDOUT) {
      /* EBADF: ntm_stop() closed it (do not close again); anything else: give up. */
      if (err != EBADF) ntm_close(fd);
      d->ntm_fd = -1;
      d->dead = 1;
      d->dead_errno = err;
      pthread_mutex_unlock(&d->mutex);
      break;
    }
    pthread_mutex_unlock(&d->mutex);
    if (n < 0) {
      if (app_side_gone(d->pump_fd)) {
        pthread_mutex_lock(&d->mutex);
        d->closing = 1;
        close_ntm_locked(d);
        pthread_mutex_unlock(&d->mutex);
        break;
      }
      continue;
    }
    encode_header(buf, &from);
    if (send(d->pump_fd, buf, HEADER_SIZE + (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) continue; /* drop it */
      pthread_mutex_lock(&d->mutex); /* Ruby's end is gone */
      d->closing = 1;
      close_ntm_locked(d);
      pthread_mutex_unlock(&d->mutex);
      break;
    }
  }
  free(buf);
  /* Ruby's reads now see end-of-file: the socket is closed or the node stopped. */
  shutdown(d->pump_fd, SHUT_RDWR);
  pthread_mutex_lock(&d->mutex);
  d->pump_running = 0;
  pthread_mutex_unlock(&d->mutex);
  release(d);
  return NULL;
}

/* Sends an empty datagram to the socket's own address so a pump blocked in recvfrom wakes up.
 * Mutex held; the ntm descriptor is open. Best effort: the receive timeout is the fallback. */
static void wake_pump_locked(datagram *d) {
  struct sockaddr_storage self;
  socklen_t len = sizeof self;
  memset(&self, 0, sizeof self);
  if (ntm_getsockname(d->ntm_fd, (struct sockaddr *)&self, &len) != 0) return;
  if (self.ss_family == AF_INET) {
    struct sockaddr_in *in = (struct sockaddr_in *)&self;
    if (in->sin_addr.s_addr == htonl(INADDR_ANY)) {
      ntm_node_info info;
      memset(&info, 0, sizeof info);
      info.version = NTM_NODE_INFO_VERSION;
      if (ntm_get_node_info(&info) != NTM_OK ||
          inet_pton(AF_INET, info.virtual_ipv4, &in->sin_addr) != 1) {
        return;
      }
    }
  } else if (self.ss_family == AF_INET6) {
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&self;
    if (IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr)) {
      ntm_node_info info;
      memset(&info, 0, sizeof info);
      info.version = NTM_NODE_INFO_VERSION;
      if (ntm_get_node_info(&info) != NTM_OK ||
          inet_pton(AF_INET6, info.virtual_ipv6, &in6->sin6_addr) != 1) {
        return;
      }
    }
  }
  ntm_sendto(d->ntm_fd, "", 0, MSG_DONTWAIT, (struct sockaddr *)&self, len);
}

/* Requests the close. Safe to call more than once, from Ruby or from the GC. */
static void request_close(datagram *d) {
  pthread_mutex_lock(&d->mutex);
  if (!d->closing) {
    d->closing = 1;
    if (d->pump_running) {
      if (!d->dead) wake_pump_locked(d);
    } else {
      close_ntm_locked(d);
    }
  }
  pthread_mutex_unlock(&d->mutex);
}

static void datagram_free(void *data) {
  datagram *d = data;
  request_close(d);
  release(d);
}

static size_t datagram_size(const void *data) {
  (void)data;
  return sizeof(datagram);
}

static const rb_data_type_t datagram_type = {
    .wrap_struct_name = "NTM::Native::Datagram",
    .function = {.dfree = datagram_free, .dsize = datagram_size},
    .flags = RUBY_TYPED_FREE_IMMEDIATELY};

static datagram *get_datagram(VALUE self) { return rb_check_typeddata(self, &datagram_type); }

/* Raises IOError if closed, ENETDOWN if the node stopped underneath. Mutex held: unlocks. */
static void check_usable_locked(datagram *d) {
  if (d->closing) {
    pthread_mutex_unlock(&d->mutex);
    rb_raise(rb_eIOError, "closed stream");
  }
  if (d->dead) {
    pthread_mutex_unlock(&d->mutex);
    ntm_rb_raise_errno(ENETDOWN, "ntm node stopped");
  }
}

static void start_pump_locked(datagram *d) {
  pthread_t thread;
  pthread_attr_t attr;
  int rc;
  if (d->pump_running) return;
  d->refs++;
  d->pump_running = 1;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  rc = pthread_create(&thread, &attr, pump, d);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    d->refs--;
    d->pump_running = 0;
    pthread_mutex_unlock(&d->mutex);
    ntm_rb_raise_errno(rc, "pthread_create");
  }
}

/* Binds to the wildcard address and an ephemeral port unless already bound. Mutex held. */
static void ensure_bound_locked(datagram *d) {
  struct sockaddr_storage any;
  socklen_t len;
  if (d->bound) return;
  memset(&any, 0, sizeof any);
  if (d->family == 6) {
    ((struct sockaddr_in6 *)&any)->sin6_family = AF_INET6;
    len = sizeof(struct sockaddr_in6);
  } else {
    ((struct sockaddr_in *)&any)->sin_family = AF_INET;
    len = sizeof(struct sockaddr_in);
  }
  if (ntm_bind(d->ntm_fd, (struct sockaddr *)&any, len) != 0) {
    int err = errno;
    pthread_mutex_unlock(&d->mutex);
    ntm_rb_raise_errno(err, "bind(2)");
  }
  d->bound = 1;
  start_pump_locked(d);
}

/* NTM::Native::Datagram.new(family) -> a datagram socket with its descriptor pair. */
static VALUE datagram_s_new(VALUE klass, VALUE family) {
  int fam = NUM2INT(family);
  int pair[2];
  int fd;
  datagram *d;
  VALUE obj;
  if (fam != 4 && fam != 6) rb_raise(rb_eArgError, "address family must be 4 or 6");
  fd = ntm_socket(fam == 6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) {
    ntm_rb_raise_errno(errno, errno == ENETDOWN ? "ntm node is not running (NTM.start)"
                                                : "socket(2)");
  }
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
    int err = errno;
    ntm_close(fd);
    ntm_rb_raise_errno(err, "socketpair(2)");
  }
  if (ntm_rb_prepare_os_fd(pair[0]) != 0) {
    int err = errno;
    ntm_close(fd);
    close(pair[0]);
    close(pair[1]);
    ntm_rb_raise_errno(err, "fcntl(2)");
  }
  /* calloc, not ruby_xmalloc: the pump thread may be the one that frees it. */
  d = calloc(1, sizeof *d);
  if (d == NULL) {
    ntm_close(fd);
    close(pair[0]);
    close(pair[1]);
    rb_raise(rb_eNoMemError, "out of memory");
  }
  pthread_mutex_init(&d->mutex, NULL);
  d->refs = 1;
  d->family = fam;
  d->ntm_fd = fd;
  d->app_fd = pair[0];
  d->pump_fd = pair[1];
  obj = TypedData_Wrap_Struct(klass, &datagram_type, d);
  return obj;
}

/* Datagram#app_fd -> Ruby's descriptor (wrap it in the IO). */
static VALUE datagram_app_fd(VALUE self) { return INT2NUM(get_datagram(self)->app_fd); }

/* Datagram#family -> 4 or 6 */
static VALUE datagram_family(VALUE self) { return INT2FIX(get_datagram(self)->family); }

/* Datagram#bind(ip, port) -> 0 */
static VALUE datagram_bind(VALUE self, VALUE ip, VALUE port) {
  datagram *d = get_datagram(self);
  struct sockaddr_storage addr;
  socklen_t len = ntm_rb_to_sockaddr(d->family, ip, port, &addr);
  pthread_mutex_lock(&d->mutex);
  check_usable_locked(d);
  if (d->bound) {
    pthread_mutex_unlock(&d->mutex);
    ntm_rb_raise_errno(EINVAL, "bind(2): already bound");
  }
  if (ntm_bind(d->ntm_fd, (struct sockaddr *)&addr, len) != 0) {
    int err = errno;
    VALUE what;
    pthread_mutex_unlock(&d->mutex);
    what = rb_sprintf("bind(2) for %" PRIsVALUE " port %" PRIsVALUE, rb_inspect(ip), port);
    rb_syserr_fail_str(err, what);
  }
  d->bound = 1;
  start_pump_locked(d);
  pthread_mutex_unlock(&d->mutex);
  return INT2FIX(0);
}

/* Datagram#connect(ip, port) -> 0 */
static VALUE datagram_connect(VALUE self, VALUE ip, VALUE port) {
  datagram *d = get_datagram(self);
  struct sockaddr_storage addr;
  socklen_t len = ntm_rb_to_sockaddr(d->family, ip, port, &addr);
  pthread_mutex_lock(&d->mutex);
  check_usable_locked(d);
  ensure_bound_locked(d);
  if (ntm_connect(d->ntm_fd, (struct sockaddr *)&addr, len) != 0) {
    int err = errno;
    pthread_mutex_unlock(&d->mutex);
    ntm_rb_raise_errno(err, "connect(2)");
  }
  pthread_mutex_unlock(&d->mutex);
  return INT2FIX(0);
}

typedef struct send_args {
  datagram *d;
  const char *data;
  size_t size;
  struct sockaddr_storage to;
  socklen_t to_len; /* 0: connected */
  ssize_t sent;
  int err;
  int unusable; /* closed or dead by the time the mutex was taken */
} send_args;

/* Takes the socket's mutex itself: never hold it while waiting for the GVL. */
static void *send_without_gvl(void *arg) {
  send_args *a = arg;
  datagram *d = a->d;
  pthread_mutex_lock(&d->mutex);
  if (d->closing || d->dead) {
    a->unusable = 1;
  } else {
    a->sent = ntm_sendto(d->ntm_fd, a->data, a->size, MSG_NOSIGNAL,
                         a->to_len ? (struct sockaddr *)&a->to : NULL, a->to_len);
    a->err = a->sent < 0 ? errno : 0;
    if (a->sent < 0 && a->err == EBADF) d->dead = 1; /* the node stopped */
  }
  pthread_mutex_unlock(&d->mutex);
  return NULL;
}

/*
 * Datagram#send(data, ip_or_nil, port_or_nil) -> bytes sent. nil ip: the connected peer.
 * Sends one datagram (the GVL is released; the socket's mutex keeps one writer at a time).
 */
static VALUE datagram_send(VALUE self, VALUE data, VALUE ip, VALUE port) {
  datagram *d = get_datagram(self);
  send_args a;
  VALUE copy;
  memset(&a, 0, sizeof a);
  a.d = d;
  StringValue(data);
  if (!NIL_P(ip)) a.to_len = ntm_rb_to_sockaddr(d->family, ip, port, &a.to);
  /* A private frozen copy: the caller's string may change while the GVL is released. */
  copy = rb_str_new_frozen(data);
  a.data = RSTRING_PTR(copy);
  a.size = (size_t)RSTRING_LEN(copy);
  pthread_mutex_lock(&d->mutex);
  check_usable_locked(d);
  ensure_bound_locked(d);
  pthread_mutex_unlock(&d->mutex);
  rb_str_locktmp(copy);
  rb_thread_call_without_gvl(send_without_gvl, &a, NULL, NULL);
  rb_str_unlocktmp(copy);
  RB_GC_GUARD(copy);
  if (a.unusable) {
    pthread_mutex_lock(&d->mutex);
    check_usable_locked(d);
    pthread_mutex_unlock(&d->mutex);
  }
  if (a.sent < 0) {
    if (a.err == EBADF) ntm_rb_raise_errno(ENETDOWN, "ntm node stopped");
    ntm_rb_raise_errno(a.err, "sendto(2)");
  }
  return SSIZET2NUM(a.sent);
}

static VALUE address_of(VALUE self, int peer) {
  datagram *d = get_datagram(self);
  struct sockaddr_storage addr;
  socklen_t len = sizeof addr;
  int rc;
  pthread_mutex_lock(&d->mutex);
  check_usable_locked(d);
  memset(&addr, 0, sizeof addr);
  rc = peer ? ntm_getpeername(d->ntm_fd, (struct sockaddr *)&addr, &len)
            : ntm_getsockname(d->ntm_fd, (struct sockaddr *)&addr, &len);
  if (rc != 0) {
    int err = errno;
    pthread_mutex_unlock(&d->mutex);
    ntm_rb_raise_errno(err, peer ? "getpeername(2)" : "getsockname(2)");
  }
  pthread_mutex_unlock(&d->mutex);
  return ntm_rb_from_sockaddr((struct sockaddr *)&addr);
}

/* Datagram#local_address -> [family, ip, port] */
static VALUE datagram_local_address(VALUE self) { return address_of(self, 0); }

/* Datagram#peer_address -> [family, ip, port]; Errno::ENOTCONN if not connected. */
static VALUE datagram_peer_address(VALUE self) { return address_of(self, 1); }

/* Datagram#close -> nil. The pump closes the ntm socket; Ruby closes its IO itself. */
static VALUE datagram_close(VALUE self) {
  request_close(get_datagram(self));
  return Qnil;
}

/* Datagram#closed? */
static VALUE datagram_closed_p(VALUE self) {
  datagram *d = get_datagram(self);
  int closing;
  pthread_mutex_lock(&d->mutex);
  closing = d->closing;
  pthread_mutex_unlock(&d->mutex);
  return closing ? Qtrue : Qfalse;
}

void ntm_rb_init_udp(void) {
  cDatagram = rb_define_class_under(ntm_rb_mNative, "Datagram", rb_cObject);
  rb_gc_register_mark_object(cDatagram);
  rb_undef_alloc_func(cDatagram);
  rb_define_singleton_method(cDatagram, "new", datagram_s_new, 1);
  rb_define_method(cDatagram, "app_fd", datagram_app_fd, 0);
  rb_define_method(cDatagram, "family", datagram_family, 0);
  rb_define_method(cDatagram, "bind", datagram_bind, 2);
  rb_define_method(cDatagram, "connect", datagram_connect, 2);
  rb_define_method(cDatagram, "send", datagram_send, 3);
  rb_define_method(cDatagram, "local_address", datagram_local_address, 0);
  rb_define_method(cDatagram, "peer_address", datagram_peer_address, 0);
  rb_define_method(cDatagram, "close", datagram_close, 0);
  rb_define_method(cDatagram, "closed?", datagram_closed_p, 0);
  rb_define_const(cDatagram, "HEADER_SIZE", INT2FIX(HEADER_SIZE));
}
