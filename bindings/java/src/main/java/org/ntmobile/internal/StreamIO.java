package org.ntmobile.internal;

import com.sun.jna.Memory;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.SocketException;
import java.util.Objects;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The streams of an {@link NtmSocketImpl}. Each copies between the Java array and one native
 * buffer of up to {@value #MAX_CHUNK} bytes per call (allocated on first use, grown to the
 * largest request), so a transfer costs one JNA call and one copy per chunk.
 */
final class StreamIO {
  /** Largest single native transfer (and native buffer) per stream. */
  static final int MAX_CHUNK = 256 * 1024;

  private StreamIO() {}

  /** The socket's InputStream: ntm_recv through one native buffer, reads serialised. */
  static final class Input extends InputStream {
    private final NtmSocketImpl socket;
    private final ReentrantLock lock = new ReentrantLock();
    private Memory buffer;

    Input(NtmSocketImpl socket) {
      this.socket = socket;
    }

    @Override
    public int read() throws IOException {
      byte[] one = new byte[1];
      int n = read(one, 0, 1);
      return n <= 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      Objects.checkFromIndexSize(off, len, b.length);
      if (len == 0) {
        return 0;
      }
      lock.lock();
      try {
        if (socket.inputEnded()) {
          return -1;
        }
        NativeFd h = socket.connectedHandle();
        int fd = h.acquire();
        try {
          if (buffer == null || (buffer.size() < len && buffer.size() < MAX_CHUNK)) {
            buffer = new Memory(Math.max(8192, Math.min(len, MAX_CHUNK)));
          }
          int want = (int) Math.min(len, buffer.size());
          for (;; ) {
            long n = NtmSockets.ntm_recv(fd, buffer, want, 0);
            if (n > 0) {
              buffer.read(0, b, off, (int) n);
              return (int) n;
            }
            if (h.isClosed()) {
              throw new SocketException("Socket closed");
            }
            if (socket.inputEnded()) {
              return -1; // shutdownInput() from another thread
            }
            if (n == 0) {
              socket.markEndOfStream();
              return -1;
            }
            int err = NtmSockets.errno();
            if (err == Posix.EINTR) {
              continue;
            }
            if (err == Posix.EAGAIN && socket.timeoutMs() > 0) {
              throw Errors.timeout("Read");
            }
            if (err == Posix.ECONNRESET) {
              throw new SocketException("Connection reset");
            }
            if (err == Posix.ENOTCONN) {
              // lwIP reports the end of stream once (0), then ENOTCONN: still the end.
              socket.markEndOfStream();
              return -1;
            }
            throw Errors.socket("recv", err);
          }
        } finally {
          h.release();
        }
      } finally {
        lock.unlock();
      }
    }

    @Override
    public int available() throws IOException {
      return socket.available();
    }

    @Override
    public void close() throws IOException {
      socket.close();
    }
  }

  /** The socket's OutputStream: ntm_send (MSG_NOSIGNAL) until all is taken, writes serialised. */
  static final class Output extends OutputStream {
    private final NtmSocketImpl socket;
    private final ReentrantLock lock = new ReentrantLock();
    private Memory buffer;

    Output(NtmSocketImpl socket) {
      this.socket = socket;
    }

    @Override
    public void write(int b) throws IOException {
      write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      Objects.checkFromIndexSize(off, len, b.length);
      if (len == 0) {
        return;
      }
      lock.lock();
      try {
        if (socket.outputShutdown()) {
          throw new SocketException("Socket output is shutdown");
        }
        NativeFd h = socket.connectedHandle();
        int fd = h.acquire();
        try {
          if (buffer == null || (buffer.size() < len && buffer.size() < MAX_CHUNK)) {
            buffer = new Memory(Math.max(8192, Math.min(len, MAX_CHUNK)));
          }
          while (len > 0) {
            int chunk = (int) Math.min(len, buffer.size());
            buffer.write(0, b, off, chunk);
            int sent = 0;
            while (sent < chunk) {
              long n =
                  NtmSockets.ntm_send(fd, buffer.share(sent), chunk - sent, Posix.MSG_NOSIGNAL);
              if (n >= 0) {
                sent += (int) n;
                continue;
              }
              int err = NtmSockets.errno();
              if (h.isClosed()) {
                throw new SocketException("Socket closed");
              }
              if (err == Posix.EINTR) {
                continue;
              }
              if (err == Posix.EPIPE) {
                throw new SocketException("Broken pipe");
              }
              if (err == Posix.ECONNRESET) {
                throw new SocketException("Connection reset");
              }
              throw Errors.socket("send", err);
            }
            off += chunk;
            len -= chunk;
          }
        } finally {
          h.release();
        }
      } finally {
        lock.unlock();
      }
    }

    @Override
    public void close() throws IOException {
      socket.close();
    }
  }
}
