/*
 * node.c - the node's lifecycle and state for Ruby: start/stop (without the GVL), events,
 * node info, tunnel snapshot and counters.
 *
 * Events: the library calls on_event() on its own thread, where Ruby must not run. It copies the
 * event into a queue and writes a byte to a pipe. NTM.start's event thread (a Ruby thread) waits
 * on the pipe's read end like any IO, then takes the queue with NTM::Native.drain_events and
 * calls the user's block. ntm_stop() closes the write end after the last event (STOPPING), so
 * the Ruby thread sees end-of-file and finishes.
 */
#include "ntm_ext.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---------------------------------------------------------------------------------------- */
/* Event queue                                                                               */
/* ---------------------------------------------------------------------------------------- */

typedef struct event_item {
  struct event_item *next;
  int type;
  int path;
  char *peer_name;
  char *peer_node_id;
  char *endpoint;
  char *message;
} event_item;

static pthread_mutex_t g_events_mutex = PTHREAD_MUTEX_INITIALIZER;
static event_item *g_events_head;
static event_item *g_events_tail;
static int g_events_write_fd = -1;

static char *copy_text(const char *text) { return strdup(text != NULL ? text : ""); }

static void free_item(event_item *item) {
  free(item->peer_name);
  free(item->peer_node_id);
  free(item->endpoint);
  free(item->message);
  free(item);
}

static void free_items(event_item *item) {
  while (item != NULL) {
    event_item *next = item->next;
    free_item(item);
    item = next;
  }
}

/* Library thread: no Ruby calls here. */
static void on_event(const ntm_event *event, void *user_data) {
  event_item *item = calloc(1, sizeof *item);
  (void)user_data;
  if (item == NULL) return;
  item->type = (int)event->type;
  item->path = (int)event->path;
  item->peer_name = copy_text(event->peer_name);
  item->peer_node_id = copy_text(event->peer_node_id);
  item->endpoint = copy_text(event->endpoint);
  item->message = copy_text(event->message);
  if (!item->peer_name || !item->peer_node_id || !item->endpoint || !item->message) {
    free_item(item);
    return;
  }
  pthread_mutex_lock(&g_events_mutex);
  if (g_events_write_fd < 0) {
    pthread_mutex_unlock(&g_events_mutex);
    free_item(item);
    return;
  }
  if (g_events_tail != NULL) {
    g_events_tail->next = item;
  } else {
    g_events_head = item;
  }
  g_events_tail = item;
  /* One byte per event; a full pipe is fine (the reader drains the whole queue when it wakes). */
  if (write(g_events_write_fd, "e", 1) < 0) { /* EAGAIN: a wake-up is already pending */ }
  pthread_mutex_unlock(&g_events_mutex);
}

/* NTM::Native.drain_events -> [[type, path, peer_name, peer_node_id, endpoint, message], ...] */
static VALUE native_drain_events(VALUE self) {
  event_item *items;
  event_item *item;
  VALUE list = rb_ary_new();
  (void)self;
  pthread_mutex_lock(&g_events_mutex);
  items = g_events_head;
  g_events_head = g_events_tail = NULL;
  pthread_mutex_unlock(&g_events_mutex);
  for (item = items; item != NULL; item = item->next) {
    rb_ary_push(list, rb_ary_new_from_args(6, INT2FIX(item->type), INT2FIX(item->path),
                                           rb_utf8_str_new_cstr(item->peer_name),
                                           rb_utf8_str_new_cstr(item->peer_node_id),
                                           rb_utf8_str_new_cstr(item->endpoint),
                                           rb_utf8_str_new_cstr(item->message)));
  }
  free_items(items);
  return list;
}

/* ---------------------------------------------------------------------------------------- */
/* Start / stop                                                                              */
/* ---------------------------------------------------------------------------------------- */

/* Everything ntm_start() reads, copied out of Ruby objects so the GVL can be released. */
typedef struct start_args {
  ntm_options options;
  ntm_static_peer *peers;
  char **strings;
  size_t string_count;
  int rc;
} start_args;

static void free_start_args(start_args *args) {
  size_t i;
  for (i = 0; i < args->string_count; ++i) free(args->strings[i]);
  free(args->strings);
  free(args->peers);
}

static VALUE hash_get(VALUE hash, const char *key) {
  return rb_hash_aref(hash, ID2SYM(rb_intern(key)));
}

/* Copies an optional String option (nil -> NULL). Keeps the copy for free_start_args. */
static const char *keep_string(start_args *args, VALUE value) {
  char *copy;
  if (NIL_P(value)) return NULL;
  copy = strdup(StringValueCStr(value));
  if (copy == NULL) rb_raise(rb_eNoMemError, "out of memory");
  args->strings[args->string_count++] = copy;
  return copy;
}

static void *start_without_gvl(void *data) {
  start_args *args = data;
  args->rc = ntm_start(&args->options);
  return NULL;
}

/* Fills args from the option hash; raises on bad values (the caller frees args either way). */
static VALUE fill_start_args(VALUE arg) {
  start_args *args = (start_args *)((VALUE *)arg)[0];
  VALUE options = ((VALUE *)arg)[1];
  VALUE peers = hash_get(options, "peers");
  VALUE value;
  long peer_count = 0;
  long i;

  if (!NIL_P(peers)) {
    Check_Type(peers, T_ARRAY);
    peer_count = RARRAY_LEN(peers);
  }

  args->strings = calloc((size_t)(16 + 5 * peer_count), sizeof(char *));
  args->peers = peer_count > 0 ? calloc((size_t)peer_count, sizeof(ntm_static_peer)) : NULL;
  if (args->strings == NULL || (peer_count > 0 && args->peers == NULL)) {
    rb_raise(rb_eNoMemError, "out of memory");
  }
  args->options.name = keep_string(args, hash_get(options, "name"));
  args->options.private_key = keep_string(args, hash_get(options, "private_key"));
  args->options.virtual_ipv4 = keep_string(args, hash_get(options, "virtual_ipv4"));
  args->options.virtual_ipv6 = keep_string(args, hash_get(options, "virtual_ipv6"));
  if (!NIL_P(value = hash_get(options, "listen_ipv4"))) {
    args->options.listen_ipv4 = keep_string(args, value);
  }
  if (!NIL_P(value = hash_get(options, "listen_ipv6"))) {
    args->options.listen_ipv6 = keep_string(args, value);
  }
  if (!NIL_P(value = hash_get(options, "cipher"))) args->options.cipher = NUM2INT(value);
  if (!NIL_P(value = hash_get(options, "mtu"))) args->options.mtu = NUM2UINT(value);
  if (!NIL_P(value = hash_get(options, "idle_timeout_ms"))) {
    args->options.idle_timeout_ms = NUM2UINT(value);
  }
  if (!NIL_P(value = hash_get(options, "log_level"))) args->options.log_level = NUM2INT(value);
#if NTM_OPTIONS_VERSION >= 2
  /* Control-plane mode (Account Server / Direction Coordinator). */
  args->options.server = keep_string(args, hash_get(options, "server"));
  args->options.server_certificate = keep_string(args, hash_get(options, "server_certificate"));
  args->options.account = keep_string(args, hash_get(options, "account"));
  args->options.password = keep_string(args, hash_get(options, "password"));
  args->options.state_dir = keep_string(args, hash_get(options, "state_dir"));
  if (!NIL_P(value = hash_get(options, "direct_timeout_ms"))) {
    args->options.direct_timeout_ms = NUM2UINT(value);
  }
#endif
  /* Version 3: limits, timers, the local control API. */
  if (!NIL_P(value = hash_get(options, "memory_limit"))) {
    args->options.memory_limit = (size_t)NUM2ULL(value);
  }
  if (!NIL_P(value = hash_get(options, "max_sockets"))) {
    args->options.max_sockets = NUM2UINT(value);
  }
  if (!NIL_P(value = hash_get(options, "max_connections_per_peer"))) {
    args->options.max_connections_per_peer = NUM2UINT(value);
  }
  if (!NIL_P(value = hash_get(options, "max_socket_buffer"))) {
    args->options.max_socket_buffer = (size_t)NUM2ULL(value);
  }
  if (!NIL_P(value = hash_get(options, "keepalive_interval_ms"))) {
    args->options.keepalive_interval_ms = NUM2UINT(value);
  }
  if (!NIL_P(value = hash_get(options, "start_timeout_ms"))) {
    args->options.start_timeout_ms = NUM2UINT(value);
  }
  args->options.control_socket = keep_string(args, hash_get(options, "control_socket"));
  for (i = 0; i < peer_count; ++i) {
    VALUE peer = rb_ary_entry(peers, i);
    ntm_static_peer *p = &args->peers[i];
    Check_Type(peer, T_HASH);
    ntm_static_peer_init(p, NTM_STATIC_PEER_VERSION);
    p->name = keep_string(args, hash_get(peer, "name"));
    p->public_key = keep_string(args, hash_get(peer, "public_key"));
    p->endpoint = keep_string(args, hash_get(peer, "endpoint"));
    p->virtual_ipv4 = keep_string(args, hash_get(peer, "virtual_ipv4"));
    p->virtual_ipv6 = keep_string(args, hash_get(peer, "virtual_ipv6"));
  }
  args->options.peers = args->peers;
  args->options.peer_count = (size_t)peer_count;
  return Qnil;
}

/*
 * NTM::Native.start(options_hash) -> event_fd
 * Starts the node. Returns the read end of the event pipe (the caller wraps it in an IO).
 */
static VALUE native_start(VALUE self, VALUE options) {
  start_args args;
  VALUE fill_arg[2];
  int pipe_fds[2];
  int state = 0;
  (void)self;
  Check_Type(options, T_HASH);
  /* The event pipe belongs to the running node: leave it alone (NTM.start serializes starts). */
  if (ntm_is_running()) {
    ntm_rb_raise_code_message(NTM_ESTATE, "ntm_start: the node is already running (NTM.stop first)");
  }
  memset(&args, 0, sizeof args);
  state = ntm_options_init(&args.options, NTM_OPTIONS_VERSION);
  if (state != NTM_OK) ntm_rb_raise_code(state, "ntm_options_init (is libntm older than ntm.h?)");
  fill_arg[0] = (VALUE)&args;
  fill_arg[1] = options;
  rb_protect(fill_start_args, (VALUE)fill_arg, &state);
  if (state != 0) {
    free_start_args(&args);
    rb_jump_tag(state);
  }
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    int err = errno;
    free_start_args(&args);
    ntm_rb_raise_errno(err, "pipe2 (event pipe)");
  }
  fcntl(pipe_fds[1], F_SETFL, O_NONBLOCK);
  pthread_mutex_lock(&g_events_mutex);
  free_items(g_events_head); /* left over from a run whose events nobody read */
  g_events_head = g_events_tail = NULL;
  g_events_write_fd = pipe_fds[1];
  pthread_mutex_unlock(&g_events_mutex);

  args.options.event_cb = on_event;
  rb_thread_call_without_gvl(start_without_gvl, &args, NULL, NULL);
  free_start_args(&args);
  if (args.rc != NTM_OK) {
    pthread_mutex_lock(&g_events_mutex);
    g_events_write_fd = -1;
    free_items(g_events_head);
    g_events_head = g_events_tail = NULL;
    pthread_mutex_unlock(&g_events_mutex);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    ntm_rb_raise_code(args.rc, "ntm_start");
  }
  return INT2NUM(pipe_fds[0]);
}

unsigned long ntm_rb_node_generation;

static void *stop_without_gvl(void *data) {
  ntm_rb_tcp_before_stop();
  *(int *)data = ntm_stop();
  ntm_rb_tcp_after_stop();
  return NULL;
}

/* NTM::Native.stop -> nil. Blocks (GVL released) for at most about 2 seconds. */
static VALUE native_stop(VALUE self) {
  int rc = NTM_OK;
  (void)self;
  rb_thread_call_without_gvl(stop_without_gvl, &rc, NULL, NULL);
  if (rc != NTM_OK) ntm_rb_raise_code(rc, "ntm_stop");
  ntm_rb_node_generation++; /* descriptor numbers of the stopped node may be given out again */
  pthread_mutex_lock(&g_events_mutex);
  if (g_events_write_fd >= 0) close(g_events_write_fd); /* the event thread sees end-of-file */
  g_events_write_fd = -1;
  pthread_mutex_unlock(&g_events_mutex);
  return Qnil;
}

/* NTM::Native.running? */
static VALUE native_running_p(VALUE self) {
  (void)self;
  return ntm_is_running() ? Qtrue : Qfalse;
}

/* ---------------------------------------------------------------------------------------- */
/* State                                                                                     */
/* ---------------------------------------------------------------------------------------- */

static void set(VALUE hash, const char *key, VALUE value) {
  rb_hash_aset(hash, ID2SYM(rb_intern(key)), value);
}

/* NTM::Native.node_info -> Hash */
static VALUE native_node_info(VALUE self) {
  ntm_node_info info;
  int rc;
  VALUE hash = rb_hash_new();
  (void)self;
  memset(&info, 0, sizeof info);
  info.version = NTM_NODE_INFO_VERSION;
  rc = ntm_get_node_info(&info);
  if (rc != NTM_OK) ntm_rb_raise_code(rc, "ntm_get_node_info");
  set(hash, "node_id", rb_str_new_cstr(info.node_id));
  set(hash, "name", rb_utf8_str_new_cstr(info.name));
  set(hash, "public_key", rb_str_new_cstr(info.public_key));
  set(hash, "virtual_ipv4", info.virtual_ipv4[0] ? rb_str_new_cstr(info.virtual_ipv4) : Qnil);
  set(hash, "virtual_ipv6", info.virtual_ipv6[0] ? rb_str_new_cstr(info.virtual_ipv6) : Qnil);
  set(hash, "endpoint_ipv4", info.endpoint_ipv4[0] ? rb_str_new_cstr(info.endpoint_ipv4) : Qnil);
  set(hash, "endpoint_ipv6", info.endpoint_ipv6[0] ? rb_str_new_cstr(info.endpoint_ipv6) : Qnil);
  set(hash, "mtu", UINT2NUM(info.mtu));
  return hash;
}

/* NTM::Native.tunnels -> [Hash, ...] */
static VALUE native_tunnels(VALUE self) {
  ntm_tunnel_info *tunnels = NULL;
  size_t count = 0;
  size_t i;
  int rc;
  VALUE list;
  (void)self;
  rc = ntm_tunnels_snapshot(&tunnels, &count);
  if (rc != NTM_OK) ntm_rb_raise_code(rc, "ntm_tunnels_snapshot");
  list = rb_ary_new_capa((long)count);
  for (i = 0; i < count; ++i) {
    const ntm_tunnel_info *t = &tunnels[i];
    VALUE hash = rb_hash_new();
    set(hash, "peer_name", rb_utf8_str_new_cstr(t->peer_name));
    set(hash, "peer_node_id", rb_str_new_cstr(t->peer_node_id));
    set(hash, "virtual_ipv4", t->virtual_ipv4[0] ? rb_str_new_cstr(t->virtual_ipv4) : Qnil);
    set(hash, "virtual_ipv6", t->virtual_ipv6[0] ? rb_str_new_cstr(t->virtual_ipv6) : Qnil);
    set(hash, "state", INT2FIX(t->state));
    set(hash, "path", INT2FIX(t->path));
    set(hash, "endpoint", t->endpoint[0] ? rb_str_new_cstr(t->endpoint) : Qnil);
    set(hash, "local_path_id", UINT2NUM(t->local_path_id));
    set(hash, "bytes_sent", ULL2NUM(t->bytes_sent));
    set(hash, "bytes_received", ULL2NUM(t->bytes_received));
    set(hash, "packets_sent", ULL2NUM(t->packets_sent));
    set(hash, "packets_received", ULL2NUM(t->packets_received));
    set(hash, "last_activity_ms", LL2NUM(t->last_activity_ms));
    set(hash, "session_age_ms", LL2NUM(t->session_age_ms));
    set(hash, "rtt_us", LL2NUM(t->rtt_us));
    set(hash, "path_mtu", UINT2NUM(t->path_mtu));
    rb_ary_push(list, hash);
  }
  ntm_tunnels_free(tunnels);
  return list;
}

/* NTM::Native.stats -> Hash */
static VALUE native_stats(VALUE self) {
  ntm_stats stats;
  int rc;
  VALUE hash = rb_hash_new();
  (void)self;
  memset(&stats, 0, sizeof stats);
  stats.version = NTM_STATS_VERSION;
  rc = ntm_get_stats(&stats);
  if (rc != NTM_OK) ntm_rb_raise_code(rc, "ntm_get_stats");
  set(hash, "packets_sent", ULL2NUM(stats.packets_sent));
  set(hash, "packets_received", ULL2NUM(stats.packets_received));
  set(hash, "bytes_sent", ULL2NUM(stats.bytes_sent));
  set(hash, "bytes_received", ULL2NUM(stats.bytes_received));
  set(hash, "dropped_malformed", ULL2NUM(stats.dropped_malformed));
  set(hash, "dropped_unknown_path", ULL2NUM(stats.dropped_unknown_path));
  set(hash, "dropped_auth", ULL2NUM(stats.dropped_auth));
  set(hash, "dropped_replay", ULL2NUM(stats.dropped_replay));
  set(hash, "dropped_no_tunnel", ULL2NUM(stats.dropped_no_tunnel));
  set(hash, "handshakes_completed", ULL2NUM(stats.handshakes_completed));
  set(hash, "handshakes_failed", ULL2NUM(stats.handshakes_failed));
  set(hash, "dropped_spoofed", ULL2NUM(stats.dropped_spoofed));
  set(hash, "dropped_policy", ULL2NUM(stats.dropped_policy));
  set(hash, "dropped_limit", ULL2NUM(stats.dropped_limit));
  set(hash, "handshakes_initiated", ULL2NUM(stats.handshakes_initiated));
  set(hash, "logins", ULL2NUM(stats.logins));
  set(hash, "registrations", ULL2NUM(stats.registrations));
  set(hash, "network_changes", ULL2NUM(stats.network_changes));
  set(hash, "resolves_sent", ULL2NUM(stats.resolves_sent));
  set(hash, "directions_received", ULL2NUM(stats.directions_received));
  set(hash, "dc_keepalives_sent", ULL2NUM(stats.dc_keepalives_sent));
  set(hash, "dc_keepalives_missed", ULL2NUM(stats.dc_keepalives_missed));
  set(hash, "relay_fallbacks", ULL2NUM(stats.relay_fallbacks));
  set(hash, "direct_upgrades", ULL2NUM(stats.direct_upgrades));
  set(hash, "tcp_connections", ULL2NUM(stats.tcp_connections));
  set(hash, "memory_used", ULL2NUM(stats.memory_used));
  return hash;
}

/* The host's network changed: the node moves its tunnels (returns at once). */
static VALUE native_notify_network_change(VALUE self) {
  int rc;
  (void)self;
  rc = ntm_notify_network_change();
  if (rc != NTM_OK) ntm_rb_raise_code(rc, "ntm_notify_network_change");
  return Qnil;
}

void ntm_rb_init_node(void) {
  VALUE m = ntm_rb_mNative;
  rb_define_module_function(m, "start", native_start, 1);
  rb_define_module_function(m, "stop", native_stop, 0);
  rb_define_module_function(m, "running?", native_running_p, 0);
  rb_define_module_function(m, "drain_events", native_drain_events, 0);
  rb_define_module_function(m, "node_info", native_node_info, 0);
  rb_define_module_function(m, "tunnels", native_tunnels, 0);
  rb_define_module_function(m, "stats", native_stats, 0);
  rb_define_module_function(m, "notify_network_change", native_notify_network_change, 0);

  /* The ntm_options version compiled in: 2 and later know the control-plane options. */
  rb_define_const(m, "OPTIONS_VERSION", INT2FIX(NTM_OPTIONS_VERSION));
  rb_define_const(m, "CIPHER_AES_256_GCM", INT2FIX(NTM_CIPHER_AES_256_GCM));
  rb_define_const(m, "CIPHER_CHACHA20_POLY1305", INT2FIX(NTM_CIPHER_CHACHA20_POLY1305));
  rb_define_const(m, "LOG_OFF", INT2FIX(NTM_LOG_OFF));
  rb_define_const(m, "LOG_ERROR", INT2FIX(NTM_LOG_ERROR));
  rb_define_const(m, "LOG_WARN", INT2FIX(NTM_LOG_WARN));
  rb_define_const(m, "LOG_INFO", INT2FIX(NTM_LOG_INFO));
  rb_define_const(m, "LOG_DEBUG", INT2FIX(NTM_LOG_DEBUG));
  rb_define_const(m, "EVENT_STARTED", INT2FIX(NTM_EVENT_STARTED));
  rb_define_const(m, "EVENT_STOPPING", INT2FIX(NTM_EVENT_STOPPING));
  rb_define_const(m, "EVENT_TUNNEL_UP", INT2FIX(NTM_EVENT_TUNNEL_UP));
  rb_define_const(m, "EVENT_TUNNEL_DOWN", INT2FIX(NTM_EVENT_TUNNEL_DOWN));
  rb_define_const(m, "EVENT_PATH_CHANGED", INT2FIX(NTM_EVENT_PATH_CHANGED));
  rb_define_const(m, "EVENT_REGISTERED", INT2FIX(NTM_EVENT_REGISTERED));
  rb_define_const(m, "EVENT_PEER_REVOKED", INT2FIX(NTM_EVENT_PEER_REVOKED));
  rb_define_const(m, "EVENT_REVOKED", INT2FIX(NTM_EVENT_REVOKED));
  rb_define_const(m, "EVENT_SERVER_UNREACHABLE", INT2FIX(NTM_EVENT_SERVER_UNREACHABLE));
  rb_define_const(m, "PATH_NONE", INT2FIX(NTM_PATH_NONE));
  rb_define_const(m, "PATH_DIRECT", INT2FIX(NTM_PATH_DIRECT));
  rb_define_const(m, "PATH_RELAY", INT2FIX(NTM_PATH_RELAY));
  rb_define_const(m, "TUNNEL_IDLE", INT2FIX(NTM_TUNNEL_IDLE));
  rb_define_const(m, "TUNNEL_HANDSHAKE", INT2FIX(NTM_TUNNEL_HANDSHAKE));
  rb_define_const(m, "TUNNEL_UP", INT2FIX(NTM_TUNNEL_UP));
}
