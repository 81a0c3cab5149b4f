package org.ntmobile;

/**
 * Something that happened to the node or a tunnel (ntm_event), copied out of the library's
 * callback.
 *
 * @param type what happened
 * @param peerName the peer concerned, or "" for node events
 * @param peerNodeId the peer's NodeID in hex, or ""
 * @param endpoint the peer's real endpoint now, or ""
 * @param path the path now (tunnel events)
 * @param message a human-readable description
 */
public record NodeEvent(
    Type type, String peerName, String peerNodeId, String endpoint, PathKind path, String message) {

  /** Kinds of event (ntm_event_type). */
  public enum Type {
    /** The node is up; its virtual addresses are usable. */
    STARTED,
    /** The node began to stop; the last event of a run. */
    STOPPING,
    /** A tunnel to a peer completed its handshake. */
    TUNNEL_UP,
    /** A tunnel expired or failed. */
    TUNNEL_DOWN,
    /** A peer's real endpoint (or direct/relay path) changed. */
    PATH_CHANGED,
    /** Control-plane mode: registered with the Direction Coordinator (again). */
    REGISTERED,
    /** A peer's account was disabled or deleted; its tunnel was torn down. */
    PEER_REVOKED,
    /** This node's own account was disabled or deleted; the node stopped registering. */
    REVOKED,
    /** Control-plane mode: the Direction Coordinator stopped answering; the node retries. */
    SERVER_UNREACHABLE,
    /** A kind this binding does not know yet (a newer libntm). */
    OTHER;

    static Type of(int code) {
      switch (code) {
        case 1:
          return STARTED;
        case 2:
          return STOPPING;
        case 3:
          return TUNNEL_UP;
        case 4:
          return TUNNEL_DOWN;
        case 5:
          return PATH_CHANGED;
        case 6:
          return REGISTERED;
        case 7:
          return PEER_REVOKED;
        case 8:
          return REVOKED;
        case 9:
          return SERVER_UNREACHABLE;
        default:
          return OTHER;
      }
    }
  }
}
