package org.ntmobile;

/** Lifecycle of a tunnel (ntm_tunnel_state). */
public enum TunnelState {
  /** Known peer, no session yet. */
  IDLE,
  /** Handshake in progress. */
  HANDSHAKE,
  /** Session keys established; packets flow. */
  UP;

  static TunnelState of(int code) {
    return code == 2 ? UP : code == 1 ? HANDSHAKE : IDLE;
  }
}
