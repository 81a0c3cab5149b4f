/*
 * udp.c - UDP for Ruby: NTMUDPSocket is a real IO through libntm's datagram bridge.
 *
 * Ruby's IO needs an OS descriptor: ntm_bridge_datagram() gives the ntm datagram socket one, a
 * SOCK_SEQPACKET socketpair end on which libntm writes each arriving datagram (on the thread that
 * feeds the virtual stack, no thread in between) as one message, prefixed by a
 * NTM_BRIDGE_DGRAM_HEADER_SIZE-byte source record (family u8 4 or 6, reserved u8, port u16
 * big-endian, address[16]). So readability of the Ruby descriptor means "a datagram is waiting":
 * IO.select, wait_readable and recvfrom_nonblock work, and lib/ntm/udp_socket.rb decodes the
 * record. Sending does not go through the pair: ntm_sendto() is called directly, without the GVL.
 *
 * ntm_close() ends the bridge (the descriptor then reads end-of-file) and closes the socket; the
 * mutex keeps it from running while a send uses the ntm descriptor.
 */
#include "ntm_ext.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct datagram {
  pthread_mutex_t mutex;
  int family;   /* 4 or 6 */
  int ntm_fd;   /* -1 once closed */
  int app_fd;   /* the bridge's descriptor (Ruby's IO closes it) */
  int bound;    /* has a local port (bind, connect or first send) */
  int closing;  /* close() was called (or the object was collected) */
  int dead;     /* the node stopped underneath: the ntm descriptor is gone */
  unsigned long generation; /* ntm_rb_node_generation when created */
} datagram;

static VALUE cDatagram;

/* Closes the ntm socket (and so ends the bridge) unless NTM.stop closed it already. Safe to
 * call more than once, from Ruby or the GC (both hold the GVL). */
static void request_close(datagram *d) {
  pthread_mutex_lock(&d->mutex);
  if (d->generation != ntm_rb_node_generation) d->dead = 1;
  if (!d->closing) {
    d->closing = 1;
    if (d->ntm_fd >= 0 && !d->dead) ntm_close(d->ntm_fd);
    d->ntm_fd = -1;
  }
  pthread_mutex_unlock(&d->mutex);
}

static void datagram_free(void *data) {
  datagram *d = data;
  request_close(d);
  pthread_mutex_destroy(&d->mutex);
  free(d);
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
  if (d->generation != ntm_rb_node_generation) d->dead = 1; /* NTM.stop closed it */
  if (d->closing) {
    pthread_mutex_unlock(&d->mutex);
    rb_raise(rb_eIOError, "closed stream");
  }
  if (d->dead) {
    pthread_mutex_unlock(&d->mutex);
    ntm_rb_raise_errno(ENETDOWN, "ntm node stopped");
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
}

/* NTM::Native::Datagram.new(family) -> a datagram socket with its bridged descriptor. */
static VALUE datagram_s_new(VALUE klass, VALUE family) {
  int fam = NUM2INT(family);
  int fd, app_fd;
  datagram *d;
  if (fam != 4 && fam != 6) rb_raise(rb_eArgError, "address family must be 4 or 6");
  fd = ntm_socket(fam == 6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) {
    ntm_rb_raise_errno(errno, errno == ENETDOWN ? "ntm node is not running (NTM.start)"
                                                : "socket(2)");
  }
  app_fd = ntm_bridge_datagram(fd);
  if (app_fd < 0 || ntm_rb_prepare_os_fd(app_fd) != 0) {
    int err = errno;
    ntm_close(fd); /* ends the bridge too */
    if (app_fd >= 0) close(app_fd);
    ntm_rb_raise_errno(err, app_fd < 0 ? "ntm_bridge_datagram" : "fcntl(2)");
  }
  d = calloc(1, sizeof *d);
  if (d == NULL) {
    ntm_close(fd);
    close(app_fd);
    rb_raise(rb_eNoMemError, "out of memory");
  }
  pthread_mutex_init(&d->mutex, NULL);
  d->family = fam;
  d->ntm_fd = fd;
  d->app_fd = app_fd;
  d->generation = ntm_rb_node_generation;
  return TypedData_Wrap_Struct(klass, &datagram_type, d);
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

/* Datagram#close -> nil. Closes the ntm socket (the bridge ends); Ruby closes its IO itself. */
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
  rb_define_const(cDatagram, "HEADER_SIZE", INT2FIX(NTM_BRIDGE_DGRAM_HEADER_SIZE));
}
