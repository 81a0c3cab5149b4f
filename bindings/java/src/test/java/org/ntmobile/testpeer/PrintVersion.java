package org.ntmobile.testpeer;

import org.ntmobile.NTMNode;

/** Prints "VERSION x.y.z" (loading libntm), or the load failure; for the loader tests. */
public final class PrintVersion {
  private PrintVersion() {}

  public static void main(String[] args) {
    try {
      System.out.println("VERSION " + NTMNode.libraryVersion());
    } catch (Throwable e) {
      System.out.println("FAILED " + e);
      System.exit(1);
    }
  }
}
