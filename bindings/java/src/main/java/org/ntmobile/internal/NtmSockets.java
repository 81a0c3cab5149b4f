package org.ntmobile.internal;

import com.sun.jna.Native;
import com.sun.jna.Pointer;

/**
 * ntm.h's BSD-mirror socket calls, bound by JNA direct mapping ({@link Native#register}): these
 * are the hot calls (send/recv on every stream read and write), and direct mapping avoids the
 * reflective proxy of interface mapping. {@code size_t}/{@code ssize_t} are Java {@code long}
 * and {@code socklen_t} is {@code int} (LP64 only, checked by {@link NativeLoader}). On failure
 * each returns -1; the errno is then {@link #errno()}.
 */
public final class NtmSockets {
  static {
    Native.register(NtmSockets.class, NativeLoader.library());
  }

  private NtmSockets() {}

  /** The calling thread's errno as JNA saved it after the last native call on this thread. */
  public static int errno() {
    return Native.getLastError();
  }

  public static native int ntm_socket(int domain, int type, int protocol);

  public static native int ntm_bind(int fd, Pointer addr, int addrlen);

  public static native int ntm_listen(int fd, int backlog);

  public static native int ntm_accept(int fd, Pointer addr, Pointer addrlen);

  public static native int ntm_connect(int fd, Pointer addr, int addrlen);

  public static native long ntm_send(int fd, Pointer buf, long len, int flags);

  public static native long ntm_recv(int fd, Pointer buf, long len, int flags);

  public static native long ntm_sendto(
      int fd, Pointer buf, long len, int flags, Pointer addr, int addrlen);

  public static native long ntm_recvfrom(
      int fd, Pointer buf, long len, int flags, Pointer addr, Pointer addrlen);

  public static native int ntm_shutdown(int fd, int how);

  public static native int ntm_close(int fd);

  public static native int ntm_setsockopt(int fd, int level, int name, Pointer value, int len);

  public static native int ntm_getsockopt(int fd, int level, int name, Pointer value, Pointer len);

  public static native int ntm_getsockname(int fd, Pointer addr, Pointer addrlen);

  public static native int ntm_getpeername(int fd, Pointer addr, Pointer addrlen);

  /** {@code fds} points at {@code nfds} {@code struct pollfd} (int fd, short events, short revents). */
  public static native int ntm_poll(Pointer fds, long nfds, int timeoutMs);

  public static native int ntm_fcntl(int fd, int cmd, int value);
}
