package org.ntmobile.internal;

import java.net.InetAddress;
import java.net.UnknownHostException;

/** The wildcard addresses, made without any name lookup. */
final class Inet {
  private Inet() {}

  static final InetAddress ANY4 = make(new byte[4]);
  static final InetAddress ANY6 = make(new byte[16]);

  private static InetAddress make(byte[] raw) {
    try {
      return InetAddress.getByAddress(raw);
    } catch (UnknownHostException e) {
      throw new AssertionError(e);
    }
  }
}
