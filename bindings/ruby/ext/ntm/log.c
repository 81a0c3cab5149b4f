/*
 * log.c - libntm's log lines for Ruby's Logger. The library calls on_log() on its own thread,
 * where Ruby must not run: the line is copied into a queue and a byte written to a pipe, which a
 * Ruby thread (NTM.logger=, lib/ntm/logging.rb) waits on like any IO before taking the queue
 * with NTM::Native.drain_log.
 */
#include "ntm_ext.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct log_item {
  struct log_item *next;
  int level;
  char *component;
  char *message;
} log_item;

static pthread_mutex_t g_log_mutex = PTHREAD_MUTEX_INITIALIZER;
static log_item *g_log_head;
static log_item *g_log_tail;
static int g_log_write_fd = -1;

static void free_log_items(log_item *item) {
  while (item != NULL) {
    log_item *next = item->next;
    free(item->component);
    free(item->message);
    free(item);
    item = next;
  }
}

/* Library thread: no Ruby calls here. */
static void on_log(ntm_log_level level, const char *component, const char *message, void *user) {
  log_item *item = calloc(1, sizeof *item);
  (void)user;
  if (item == NULL) return;
  item->level = (int)level;
  item->component = strdup(component != NULL ? component : "");
  item->message = strdup(message != NULL ? message : "");
  if (item->component == NULL || item->message == NULL) {
    free_log_items(item);
    return;
  }
  pthread_mutex_lock(&g_log_mutex);
  if (g_log_write_fd < 0) {
    pthread_mutex_unlock(&g_log_mutex);
    free_log_items(item);
    return;
  }
  if (g_log_tail != NULL) {
    g_log_tail->next = item;
  } else {
    g_log_head = item;
  }
  g_log_tail = item;
  if (write(g_log_write_fd, "l", 1) < 0) { /* EAGAIN: a wake-up is already pending */ }
  pthread_mutex_unlock(&g_log_mutex);
}

static void *clear_callback_without_gvl(void *unused) {
  (void)unused;
  ntm_set_log_callback(NULL, NULL);
  return NULL;
}

/* Stops the callback (waiting for a line in delivery) and closes the write end: the Ruby thread
 * then reads end-of-file. */
static VALUE native_log_stop(VALUE self) {
  (void)self;
  rb_thread_call_without_gvl(clear_callback_without_gvl, NULL, NULL, NULL);
  pthread_mutex_lock(&g_log_mutex);
  if (g_log_write_fd >= 0) close(g_log_write_fd);
  g_log_write_fd = -1;
  pthread_mutex_unlock(&g_log_mutex);
  return Qnil;
}

/* NTM::Native.log_start -> read fd of the wake-up pipe; routes the library's lines here. */
static VALUE native_log_start(VALUE self) {
  int fds[2];
  native_log_stop(self);
  if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) ntm_rb_raise_errno(errno, "pipe2(2)");
  pthread_mutex_lock(&g_log_mutex);
  g_log_write_fd = fds[1];
  pthread_mutex_unlock(&g_log_mutex);
  ntm_set_log_callback(on_log, NULL);
  return INT2NUM(fds[0]);
}

/* NTM::Native.drain_log -> [[level, component, message], ...] */
static VALUE native_drain_log(VALUE self) {
  log_item *items;
  log_item *item;
  VALUE list = rb_ary_new();
  (void)self;
  pthread_mutex_lock(&g_log_mutex);
  items = g_log_head;
  g_log_head = g_log_tail = NULL;
  pthread_mutex_unlock(&g_log_mutex);
  for (item = items; item != NULL; item = item->next) {
    rb_ary_push(list, rb_ary_new_from_args(3, INT2FIX(item->level),
                                           rb_utf8_str_new_cstr(item->component),
                                           rb_utf8_str_new_cstr(item->message)));
  }
  free_log_items(items);
  return list;
}

/* NTM::Native.set_log_level(level) */
static VALUE native_set_log_level(VALUE self, VALUE level) {
  int rc = ntm_set_log_level((ntm_log_level)NUM2INT(level));
  (void)self;
  if (rc != NTM_OK) ntm_rb_raise_code(rc, "ntm_set_log_level");
  return Qnil;
}

void ntm_rb_init_log(void) {
  rb_define_module_function(ntm_rb_mNative, "log_start", native_log_start, 0);
  rb_define_module_function(ntm_rb_mNative, "log_stop", native_log_stop, 0);
  rb_define_module_function(ntm_rb_mNative, "drain_log", native_drain_log, 0);
  rb_define_module_function(ntm_rb_mNative, "set_log_level", native_set_log_level, 1);
}
