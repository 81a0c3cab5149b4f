/*
 * ntm_ext.c - the extension's entry point: NTM::Native's small helpers (version, keys, name
 * resolution), error conversion and address conversion. The node, TCP and UDP parts live in
 * node.c, tcp.c and udp.c.
 */
#include "ntm_ext.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>

VALUE ntm_rb_mNTM;
VALUE ntm_rb_mNative;
VALUE ntm_rb_eError;

/* NTM::Error's subclass for each ntm_error_code (NTM::Error itself for the rest). */
static VALUE g_error_classes[12];

static VALUE error_class(int code) {
  if (code < 0 && -code < (int)(sizeof g_error_classes / sizeof g_error_classes[0]) &&
      g_error_classes[-code] != 0) {
    return g_error_classes[-code];
  }
  return ntm_rb_eError;
}

/* Defines NTM::<name> < NTM::Error for code (registered with the GC: defined constants). */
static void define_error(int code, const char *name) {
  g_error_classes[-code] = rb_define_class_under(ntm_rb_mNTM, name, ntm_rb_eError);
}

static VALUE code_symbol(int code) {
  switch (code) {
    case NTM_EINVAL: return ID2SYM(rb_intern("einval"));
    case NTM_ESTATE: return ID2SYM(rb_intern("estate"));
    case NTM_ENOMEM: return ID2SYM(rb_intern("enomem"));
    case NTM_EIO: return ID2SYM(rb_intern("eio"));
    case NTM_ENOTFOUND: return ID2SYM(rb_intern("enotfound"));
    case NTM_EVERSION: return ID2SYM(rb_intern("eversion"));
    case NTM_EBUFS: return ID2SYM(rb_intern("ebufs"));
    case NTM_EUNSUPPORTED: return ID2SYM(rb_intern("eunsupported"));
    case NTM_EAUTH: return ID2SYM(rb_intern("eauth"));
    case NTM_EUNREACHABLE: return ID2SYM(rb_intern("eunreachable"));
    default: return ID2SYM(rb_intern("error"));
  }
}

/* NTM::Native.error_symbol(code) -> the Symbol NTM::Error#code reports for an ntm_error_code. */
static VALUE native_error_symbol(VALUE self, VALUE code) {
  (void)self;
  return code_symbol(NUM2INT(code));
}

void ntm_rb_raise_code(int code, const char *what) {
  const char *detail = ntm_last_error();
  VALUE message;
  VALUE exc;
  if (detail != NULL && detail[0] != '\0') {
    message = rb_sprintf("%s: %s (%s)", what, detail, ntm_strerror(code));
  } else {
    message = rb_sprintf("%s: %s", what, ntm_strerror(code));
  }
  exc = rb_exc_new_str(error_class(code), message);
  rb_ivar_set(exc, rb_intern("@code"), code_symbol(code));
  rb_exc_raise(exc);
}

void ntm_rb_raise_code_message(int code, const char *message) {
  VALUE exc = rb_exc_new_cstr(error_class(code), message);
  rb_ivar_set(exc, rb_intern("@code"), code_symbol(code));
  rb_exc_raise(exc);
}

void ntm_rb_raise_errno(int err, const char *what) { rb_syserr_fail(err, what); }

socklen_t ntm_rb_to_sockaddr(int family, VALUE ip, VALUE port, struct sockaddr_storage *out) {
  const char *text = StringValueCStr(ip);
  long p = NUM2LONG(port);
  if (p < 0 || p > 65535) rb_raise(rb_eArgError, "port %ld out of range", p);
  memset(out, 0, sizeof *out);
  if (family == 4) {
    struct sockaddr_in *in = (struct sockaddr_in *)out;
    in->sin_family = AF_INET;
    in->sin_port = htons((uint16_t)p);
    if (inet_pton(AF_INET, text, &in->sin_addr) != 1) {
      rb_raise(rb_eArgError, "not an IPv4 address: %s", text);
    }
    return sizeof *in;
  }
  if (family == 6) {
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)out;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)p);
    if (inet_pton(AF_INET6, text, &in6->sin6_addr) != 1) {
      rb_raise(rb_eArgError, "not an IPv6 address: %s", text);
    }
    return sizeof *in6;
  }
  rb_raise(rb_eArgError, "address family must be 4 or 6, not %d", family);
}

VALUE ntm_rb_from_sockaddr(const struct sockaddr *addr) {
  char text[INET6_ADDRSTRLEN] = "";
  if (addr->sa_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)addr;
    inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
    return rb_ary_new_from_args(3, INT2FIX(6), rb_str_new_cstr(text),
                                INT2FIX(ntohs(in6->sin6_port)));
  }
  if (addr->sa_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)addr;
    inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
    return rb_ary_new_from_args(3, INT2FIX(4), rb_str_new_cstr(text),
                                INT2FIX(ntohs(in->sin_port)));
  }
  return Qnil;
}

int ntm_rb_prepare_os_fd(int fd) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) return -1;
  flags = fcntl(fd, F_GETFD);
  if (flags < 0 || fcntl(fd, F_SETFD, flags | FD_CLOEXEC) != 0) return -1;
  return 0;
}

/* NTM::Native.version -> "MAJOR.MINOR.PATCH" of the loaded libntm. */
static VALUE native_version(VALUE self) {
  (void)self;
  return rb_str_new_cstr(ntm_version());
}

/* NTM::Native.header_version -> the ntm.h version this extension was compiled against. */
static VALUE native_header_version(VALUE self) {
  (void)self;
  return rb_sprintf("%d.%d.%d", NTM_VERSION_MAJOR, NTM_VERSION_MINOR, NTM_VERSION_PATCH);
}

/* NTM::Native.keypair_generate -> [private_key, public_key] (base64). */
static VALUE native_keypair_generate(VALUE self) {
  char private_key[NTM_KEY_TEXT_SIZE];
  char public_key[NTM_KEY_TEXT_SIZE];
  int rc = ntm_keypair_generate(private_key, public_key);
  (void)self;
  if (rc != NTM_OK) ntm_rb_raise_code(rc, "ntm_keypair_generate");
  return rb_ary_new_from_args(2, rb_str_new_cstr(private_key), rb_str_new_cstr(public_key));
}

/* NTM::Native.public_key(private_key) -> public_key. */
static VALUE native_public_key(VALUE self, VALUE private_key) {
  char public_key[NTM_KEY_TEXT_SIZE];
  int rc = ntm_public_key_from_private(StringValueCStr(private_key), public_key);
  (void)self;
  if (rc != NTM_OK) ntm_rb_raise_code(rc, "ntm_public_key_from_private");
  return rb_str_new_cstr(public_key);
}

/*
 * NTM::Native.getaddrinfo(host_or_nil, port, family, passive) -> [[family, ip, port], ...]
 * family 0 (any), 4 or 6. One entry per address (stream sockets). Raises SocketError.
 */
static VALUE native_getaddrinfo(VALUE self, VALUE host, VALUE port, VALUE family, VALUE passive) {
  struct addrinfo hints;
  struct addrinfo *res = NULL;
  struct addrinfo *ai;
  char service[16];
  int fam = NUM2INT(family);
  int rc;
  VALUE list;
  (void)self;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = fam == 4 ? AF_INET : fam == 6 ? AF_INET6 : AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = RTEST(passive) ? AI_PASSIVE : 0;
  snprintf(service, sizeof service, "%d", NUM2INT(port));
  rc = ntm_getaddrinfo(NIL_P(host) ? NULL : StringValueCStr(host), service, &hints, &res);
  if (rc != 0) {
    VALUE socket_error = rb_const_get(rb_cObject, rb_intern("SocketError"));
    if (NIL_P(host)) rb_raise(socket_error, "getaddrinfo: %s", gai_strerror(rc));
    rb_raise(socket_error, "getaddrinfo(%" PRIsVALUE "): %s", host, gai_strerror(rc));
  }
  list = rb_ary_new();
  for (ai = res; ai != NULL; ai = ai->ai_next) {
    VALUE entry = ntm_rb_from_sockaddr(ai->ai_addr);
    if (!NIL_P(entry)) rb_ary_push(list, entry);
  }
  ntm_freeaddrinfo(res);
  return list;
}

void Init_ntm_ext(void) {
  rb_require("socket");
  ntm_rb_mNTM = rb_define_module("NTM");
  ntm_rb_mNative = rb_define_module_under(ntm_rb_mNTM, "Native");
  ntm_rb_eError = rb_define_class_under(ntm_rb_mNTM, "Error", rb_eStandardError);
  define_error(NTM_EINVAL, "InvalidArgumentError");
  define_error(NTM_EVERSION, "VersionError");
  define_error(NTM_ESTATE, "StateError");
  define_error(NTM_EIO, "NodeIOError");
  define_error(NTM_ENOTFOUND, "NotFoundError");
  define_error(NTM_EUNSUPPORTED, "UnsupportedError");
  define_error(NTM_EAUTH, "AuthenticationError");
  define_error(NTM_EUNREACHABLE, "ServerUnreachableError");

  rb_define_module_function(ntm_rb_mNative, "version", native_version, 0);
  rb_define_module_function(ntm_rb_mNative, "header_version", native_header_version, 0);
  rb_define_module_function(ntm_rb_mNative, "keypair_generate", native_keypair_generate, 0);
  rb_define_module_function(ntm_rb_mNative, "public_key", native_public_key, 1);
  rb_define_module_function(ntm_rb_mNative, "getaddrinfo", native_getaddrinfo, 4);
  rb_define_module_function(ntm_rb_mNative, "error_symbol", native_error_symbol, 1);

  ntm_rb_init_node();
  ntm_rb_init_tcp();
  ntm_rb_init_udp();
  ntm_rb_init_log();
}
