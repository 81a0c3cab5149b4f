/* line_io.c - line reader and send helpers shared by the chat and file-transfer examples. */
#include "line_io.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

void line_reader_init(line_reader *reader, int fd, line_io_recv_fn recv) {
  reader->fd = fd;
  reader->recv = recv;
  reader->start = 0;
  reader->end = 0;
  reader->line[0] = '\0';
  reader->length = 0;
}

line_status line_reader_try(line_reader *reader) {
  char *begin = reader->buf + reader->start;
  size_t buffered = reader->end - reader->start;
  char *newline = memchr(begin, '\n', buffered);
  size_t len;
  if (newline == NULL) {
    return buffered > LINE_IO_MAX ? LINE_TOO_LONG : LINE_WOULD_BLOCK;
  }
  len = (size_t)(newline - begin);
  if (len > LINE_IO_MAX) {
    return LINE_TOO_LONG;
  }
  reader->start += len + 1;
  if (len > 0 && begin[len - 1] == '\r') {
    --len; /* tolerate CRLF from telnet-style clients */
  }
  memcpy(reader->line, begin, len);
  reader->line[len] = '\0';
  reader->length = len;
  return LINE_OK;
}

ssize_t line_reader_fill(line_reader *reader) {
  ssize_t n;
  if (reader->start > 0) { /* slide the unread bytes to the front to make room */
    memmove(reader->buf, reader->buf + reader->start, reader->end - reader->start);
    reader->end -= reader->start;
    reader->start = 0;
  }
  if (reader->end == sizeof reader->buf) {
    return 1; /* full: line_reader_try will report LINE_TOO_LONG */
  }
  do {
    n = reader->recv(reader->fd, reader->buf + reader->end, sizeof reader->buf - reader->end, 0);
  } while (n < 0 && errno == EINTR);
  if (n > 0) {
    reader->end += (size_t)n;
  }
  return n;
}

line_status line_reader_next(line_reader *reader) {
  for (;;) {
    line_status status = line_reader_try(reader);
    ssize_t n;
    if (status != LINE_WOULD_BLOCK) {
      return status;
    }
    n = line_reader_fill(reader);
    if (n == 0) {
      return LINE_EOF;
    }
    if (n < 0) {
      return LINE_ERROR;
    }
  }
}

size_t line_reader_take(line_reader *reader, void *out, size_t len) {
  size_t buffered = reader->end - reader->start;
  if (len > buffered) {
    len = buffered;
  }
  memcpy(out, reader->buf + reader->start, len);
  reader->start += len;
  return len;
}

int send_all(line_io_send_fn send_fn, int fd, const void *data, size_t len) {
  const char *p = data;
  while (len > 0) {
    ssize_t n = send_fn(fd, p, len, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return -1;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

int send_line(line_io_send_fn send_fn, int fd, const char *text) {
  /* One buffer for text and '\n', so a line never leaves in two pieces from a shared socket. */
  char buf[LINE_IO_MAX + 128];
  size_t len = strlen(text);
  if (len + 1 > sizeof buf) {
    return send_all(send_fn, fd, text, len) == 0 ? send_all(send_fn, fd, "\n", 1) : -1;
  }
  memcpy(buf, text, len);
  buf[len] = '\n';
  return send_all(send_fn, fd, buf, len + 1);
}
