package org.ntmobile;

/** How a tunnel reaches its peer (ntm_path_kind). */
public enum PathKind {
  /** No path yet. */
  NONE,
  /** End to end, straight to the peer's real (or NAT) address. */
  DIRECT,
  /** Through a Relay Server. */
  RELAY;

  static PathKind of(int code) {
    return code == 1 ? DIRECT : code == 2 ? RELAY : NONE;
  }
}
