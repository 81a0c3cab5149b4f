/*
 * line_io.h - the line-oriented side of the chat and file-transfer examples: a buffered reader
 * that splits a byte stream into '\n'-terminated lines, and a send-everything helper.
 *
 * Both work on any descriptor through a recv(2)/send(2)-shaped function, so the same code reads
 * virtual sockets (ntm_recv/ntm_send) and bridged OS descriptors (recv/send).
 */
#ifndef NTM_EXAMPLES_LINE_IO_H
#define NTM_EXAMPLES_LINE_IO_H

#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Longest line (without its '\n') the examples accept, as the chat protocol says. */
#define LINE_IO_MAX 4096

typedef ssize_t (*line_io_recv_fn)(int fd, void *buf, size_t len, int flags);
typedef ssize_t (*line_io_send_fn)(int fd, const void *buf, size_t len, int flags);

/** Reads lines from one descriptor. Bytes after the last line stay buffered (see take). */
typedef struct line_reader {
  int fd;
  line_io_recv_fn recv;
  char buf[LINE_IO_MAX + 1 + 16384]; /* a full line plus room to read ahead */
  size_t start;                      /* first unread byte */
  size_t end;                        /* one past the last buffered byte */
  char line[LINE_IO_MAX + 1];        /* the last line returned, NUL-terminated */
  size_t length;                     /* its length (less than strlen(line) if it holds a NUL) */
} line_reader;

/** What line_reader_next found. */
typedef enum line_status {
  LINE_OK = 0,         /**< reader->line holds the next line ('\n' and a trailing '\r' removed) */
  LINE_EOF = 1,        /**< the stream ended (bytes of an unfinished last line are dropped) */
  LINE_TOO_LONG = 2,   /**< more than LINE_IO_MAX bytes without '\n' */
  LINE_ERROR = 3,      /**< recv failed; errno says why (EAGAIN/EWOULDBLOCK: receive timeout) */
  LINE_WOULD_BLOCK = 4 /**< only from line_reader_try: no complete line buffered yet */
} line_status;

void line_reader_init(line_reader *reader, int fd, line_io_recv_fn recv);

/** Blocks (as the descriptor does) until a whole line, the end of the stream or an error. */
line_status line_reader_next(line_reader *reader);

/**
 * Returns a line already buffered, without reading: LINE_OK, LINE_TOO_LONG or LINE_WOULD_BLOCK.
 * With line_reader_fill it lets a poll() loop read lines without blocking.
 */
line_status line_reader_try(line_reader *reader);

/** One recv into the buffer: >0 bytes added, 0 at end of stream, -1 on error (errno). */
ssize_t line_reader_fill(line_reader *reader);

/** Moves up to `len` buffered bytes that follow the last line into out; returns how many. */
size_t line_reader_take(line_reader *reader, void *out, size_t len);

/** Sends all `len` bytes (MSG_NOSIGNAL). Returns 0, or -1 with errno. */
int send_all(line_io_send_fn send_fn, int fd, const void *data, size_t len);

/** Sends `text` followed by '\n' in one piece. Returns 0, or -1 with errno. */
int send_line(line_io_send_fn send_fn, int fd, const char *text);

#ifdef __cplusplus
}
#endif

#endif /* NTM_EXAMPLES_LINE_IO_H */
