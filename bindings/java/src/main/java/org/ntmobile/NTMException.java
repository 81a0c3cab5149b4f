package org.ntmobile;

import java.io.IOException;

/**
 * A node call failed (ntm_start, ntm_get_node_info, ...): the ntm_error_code and the message
 * ntm_last_error() left for the calling thread.
 */
public class NTMException extends IOException {
  private static final long serialVersionUID = 1L;

  /** NTM_ERROR: an error that fits no other code. */
  public static final int ERROR = -1;
  /** NTM_EINVAL: an argument or option is invalid (the message names it). */
  public static final int EINVAL = -2;
  /** NTM_ESTATE: not allowed now (e.g. start while a node runs). */
  public static final int ESTATE = -3;
  /** NTM_EIO: an operating-system call failed (e.g. binding the UDP port). */
  public static final int EIO = -5;
  /** NTM_ENOMEM: out of memory. */
  public static final int ENOMEM = -4;
  /** NTM_ENOTFOUND: the name, peer or item does not exist. */
  public static final int ENOTFOUND = -6;
  /** NTM_EVERSION: a struct's version is not one this library knows (libntm too old). */
  public static final int EVERSION = -7;
  /** NTM_EBUFS: a buffer passed to the library is too small. */
  public static final int EBUFS = -8;
  /** NTM_EUNSUPPORTED: not supported by this build or platform. */
  public static final int EUNSUPPORTED = -9;
  /** NTM_EAUTH: the Account Server refused the credentials (or the account is disabled). */
  public static final int EAUTH = -10;
  /** NTM_EUNREACHABLE: a server (AS, DC) could not be reached or did not answer. */
  public static final int EUNREACHABLE = -11;

  private final int code;

  public NTMException(int code, String message) {
    super(message);
    this.code = code;
  }

  /** The negative ntm_error_code (see the constants and ntm.h). */
  public int code() {
    return code;
  }

  /**
   * The exception for a code: {@link InvalidArgument} (EINVAL, EVERSION), {@link IllegalState}
   * (ESTATE), {@link NotFound} (ENOTFOUND), {@link Unsupported} (EUNSUPPORTED), {@link
   * Authentication} (EAUTH), {@link ServerUnreachable} (EUNREACHABLE); NTMException itself for
   * the others. All are NTMExceptions (and IOExceptions); docs/errors.md has the table for every
   * binding.
   */
  public static NTMException of(int code, String message) {
    switch (code) {
      case EINVAL:
      case EVERSION:
        return new InvalidArgument(code, message);
      case ESTATE:
        return new IllegalState(code, message);
      case ENOTFOUND:
        return new NotFound(code, message);
      case EUNSUPPORTED:
        return new Unsupported(code, message);
      case EAUTH:
        return new Authentication(code, message);
      case EUNREACHABLE:
        return new ServerUnreachable(code, message);
      default:
        return new NTMException(code, message);
    }
  }

  /** NTM_EINVAL, NTM_EVERSION: an option or argument is invalid; the message names it. */
  public static final class InvalidArgument extends NTMException {
    private static final long serialVersionUID = 1L;

    InvalidArgument(int code, String message) {
      super(code, message);
    }
  }

  /** NTM_ESTATE: not allowed now (a node already runs, or none runs). */
  public static final class IllegalState extends NTMException {
    private static final long serialVersionUID = 1L;

    IllegalState(int code, String message) {
      super(code, message);
    }
  }

  /** NTM_ENOTFOUND: the name, peer or item does not exist. */
  public static final class NotFound extends NTMException {
    private static final long serialVersionUID = 1L;

    NotFound(int code, String message) {
      super(code, message);
    }
  }

  /** NTM_EUNSUPPORTED: not supported by this build or platform. */
  public static final class Unsupported extends NTMException {
    private static final long serialVersionUID = 1L;

    Unsupported(int code, String message) {
      super(code, message);
    }
  }

  /** NTM_EAUTH: the Account Server refused the credentials, or the account is disabled. */
  public static final class Authentication extends NTMException {
    private static final long serialVersionUID = 1L;

    Authentication(int code, String message) {
      super(code, message);
    }
  }

  /** NTM_EUNREACHABLE: a server (AS, DC) could not be reached, did not answer, or is not the
   * pinned one. */
  public static final class ServerUnreachable extends NTMException {
    private static final long serialVersionUID = 1L;

    ServerUnreachable(int code, String message) {
      super(code, message);
    }
  }
}
