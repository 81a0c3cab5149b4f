/*
 * ntm_ext.h - internal declarations shared by the files of the ntm Ruby extension.
 *
 * The extension is a thin layer over ntm.h: it converts Ruby values to C and back, releases the
 * GVL around calls that may block, and never calls Ruby from a thread Ruby did not create. The
 * Ruby classes users see (NTMTCPSocket, NTMTCPServer, NTMUDPSocket, the NTM module functions)
 * are written in Ruby on top of NTM::Native, defined here.
 */
#ifndef NTM_RUBY_EXT_H
#define NTM_RUBY_EXT_H

#include <ruby.h>
#include <ruby/thread.h>

#include <ntm.h>

#include <sys/socket.h>

/* NTM module, NTM::Native module, NTM::Error class. */
extern VALUE ntm_rb_mNTM;
extern VALUE ntm_rb_mNative;
extern VALUE ntm_rb_eError;

/* Raises NTM::Error for a negative ntm_error_code, with ntm_last_error() in the message. */
NORETURN(void ntm_rb_raise_code(int code, const char *what));
/* Raises NTM::Error with the given code and message (for failures found before calling C). */
NORETURN(void ntm_rb_raise_code_message(int code, const char *message));
/* Raises the Errno:: exception for err (a SystemCallError), naming what failed. */
NORETURN(void ntm_rb_raise_errno(int err, const char *what));

/*
 * Addresses cross the Ruby/C boundary as [family, ip_string, port] with family 4 or 6.
 * ntm_rb_to_sockaddr parses one (raises ArgumentError for a malformed address);
 * ntm_rb_from_sockaddr builds one.
 */
socklen_t ntm_rb_to_sockaddr(int family, VALUE ip, VALUE port, struct sockaddr_storage *out);
VALUE ntm_rb_from_sockaddr(const struct sockaddr *addr);

/* Sets O_NONBLOCK (and FD_CLOEXEC) on an OS descriptor handed to Ruby; -1 and errno on error. */
int ntm_rb_prepare_os_fd(int fd);

/* Counts NTM.stop calls (changed with the GVL held): an ntm descriptor from an earlier
 * generation is closed already, and its number may belong to a newer socket. */
extern unsigned long ntm_rb_node_generation;

/* NTM.stop: gets connect workers out of ntm_poll() before ntm_stop() (see tcp.c), and lets
 * connects start again afterwards. Called without the GVL. */
void ntm_rb_tcp_before_stop(void);
void ntm_rb_tcp_after_stop(void);

/* Each file registers its part of NTM::Native. */
void ntm_rb_init_node(void);
void ntm_rb_init_tcp(void);
void ntm_rb_init_udp(void);
void ntm_rb_init_log(void);

#endif
