package org.ntmobile.internal;

import com.sun.jna.Callback;
import com.sun.jna.Pointer;
import com.sun.jna.Structure;
import java.nio.charset.StandardCharsets;

/** ntm.h's structs, field for field (JNA lays them out with the C compiler's alignment). */
public final class NtmStructs {
  private NtmStructs() {}

  public static final int STATIC_PEER_VERSION = 1;
  /**
   * ntm_options version 3 adds limits, timers and the control socket; version 2 the
   * control-plane fields; version 1 is static-peer only.
   */
  public static final int OPTIONS_VERSION = 3;

  public static final int OPTIONS_VERSION_STATIC_ONLY = 1;
  public static final int NODE_INFO_VERSION = 1;
  public static final int STATS_VERSION = 2;
  public static final int KEY_TEXT_SIZE = 45;

  /** A NUL-terminated string from a fixed-size char array. */
  public static String text(byte[] field) {
    int n = 0;
    while (n < field.length && field[n] != 0) {
      n++;
    }
    return new String(field, 0, n, StandardCharsets.UTF_8);
  }

  /** struct ntm_static_peer. */
  @Structure.FieldOrder({
    "version", "name", "public_key", "endpoint", "virtual_ipv4", "virtual_ipv6"
  })
  public static class StaticPeer extends Structure {
    public int version;
    public String name;
    public String public_key;
    public String endpoint;
    public String virtual_ipv4;
    public String virtual_ipv6;
  }

  /** ntm_event_cb. */
  public interface EventCallback extends Callback {
    void invoke(Pointer event, Pointer userData);
  }

  /** ntm_log_cb. */
  public interface LogCallback extends Callback {
    void invoke(int level, String component, String message, Pointer userData);
  }

  /** struct ntm_options. */
  @Structure.FieldOrder({
    "version", "name", "private_key", "virtual_ipv4", "virtual_ipv6", "listen_ipv4", "listen_ipv6",
    "peers", "peer_count", "cipher", "mtu", "idle_timeout_ms", "log_level", "event_cb",
    "event_user_data", "server", "server_certificate", "account", "password", "state_dir",
    "direct_timeout_ms", "memory_limit", "max_sockets", "max_connections_per_peer",
    "max_socket_buffer", "keepalive_interval_ms", "start_timeout_ms", "control_socket"
  })
  public static class Options extends Structure {
    public int version;
    public String name;
    public String private_key;
    public String virtual_ipv4;
    public String virtual_ipv6;
    public String listen_ipv4;
    public String listen_ipv6;
    public Pointer peers;
    public long peer_count;
    public int cipher;
    public int mtu;
    public int idle_timeout_ms;
    public int log_level;
    public EventCallback event_cb;
    public Pointer event_user_data;
    // version 2: control plane
    public String server;
    public String server_certificate;
    public String account;
    public String password;
    public String state_dir;
    public int direct_timeout_ms;
    // version 3: limits, timers, the local control API (size_t fields as long: LP64 only)
    public long memory_limit;
    public int max_sockets;
    public int max_connections_per_peer;
    public long max_socket_buffer;
    public int keepalive_interval_ms;
    public int start_timeout_ms;
    public String control_socket;
  }

  /** struct ntm_event (read from the pointer the callback receives). */
  @Structure.FieldOrder({"type", "peer_name", "peer_node_id", "endpoint", "path", "message"})
  public static class Event extends Structure {
    public int type;
    public String peer_name;
    public String peer_node_id;
    public String endpoint;
    public int path;
    public String message;

    public Event(Pointer p) {
      super(p);
      read();
    }
  }

  /** struct ntm_node_info. */
  @Structure.FieldOrder({
    "version", "node_id", "name", "public_key", "virtual_ipv4", "virtual_ipv6", "endpoint_ipv4",
    "endpoint_ipv6", "mtu"
  })
  public static class NodeInfo extends Structure {
    public int version = NODE_INFO_VERSION;
    public byte[] node_id = new byte[17];
    public byte[] name = new byte[256];
    public byte[] public_key = new byte[KEY_TEXT_SIZE];
    public byte[] virtual_ipv4 = new byte[16];
    public byte[] virtual_ipv6 = new byte[46];
    public byte[] endpoint_ipv4 = new byte[64];
    public byte[] endpoint_ipv6 = new byte[64];
    public int mtu;
  }

  /** struct ntm_tunnel_info. */
  @Structure.FieldOrder({
    "peer_name", "peer_node_id", "virtual_ipv4", "virtual_ipv6", "state", "path", "endpoint",
    "local_path_id", "bytes_sent", "bytes_received", "packets_sent", "packets_received",
    "last_activity_ms", "session_age_ms", "rtt_us", "path_mtu"
  })
  public static class TunnelInfo extends Structure {
    public byte[] peer_name = new byte[256];
    public byte[] peer_node_id = new byte[17];
    public byte[] virtual_ipv4 = new byte[16];
    public byte[] virtual_ipv6 = new byte[46];
    public int state;
    public int path;
    public byte[] endpoint = new byte[64];
    public int local_path_id;
    public long bytes_sent;
    public long bytes_received;
    public long packets_sent;
    public long packets_received;
    public long last_activity_ms;
    public long session_age_ms;
    public long rtt_us;
    public int path_mtu;

    public TunnelInfo() {}

    public TunnelInfo(Pointer p) {
      super(p);
    }
  }

  /** struct ntm_stats. */
  @Structure.FieldOrder({
    "version", "packets_sent", "packets_received", "bytes_sent", "bytes_received",
    "dropped_malformed", "dropped_unknown_path", "dropped_auth", "dropped_replay",
    "dropped_no_tunnel", "handshakes_completed", "handshakes_failed", "dropped_spoofed",
    "dropped_policy", "dropped_limit", "handshakes_initiated", "logins", "registrations",
    "network_changes", "resolves_sent", "directions_received", "dc_keepalives_sent",
    "dc_keepalives_missed", "relay_fallbacks", "direct_upgrades", "tcp_connections", "memory_used"
  })
  public static class Stats extends Structure {
    public int version = STATS_VERSION;
    public long packets_sent;
    public long packets_received;
    public long bytes_sent;
    public long bytes_received;
    public long dropped_malformed;
    public long dropped_unknown_path;
    public long dropped_auth;
    public long dropped_replay;
    public long dropped_no_tunnel;
    public long handshakes_completed;
    public long handshakes_failed;
    // version 2
    public long dropped_spoofed;
    public long dropped_policy;
    public long dropped_limit;
    public long handshakes_initiated;
    public long logins;
    public long registrations;
    public long network_changes;
    public long resolves_sent;
    public long directions_received;
    public long dc_keepalives_sent;
    public long dc_keepalives_missed;
    public long relay_fallbacks;
    public long direct_upgrades;
    public long tcp_connections;
    public long memory_used;
  }

  /** struct addrinfo (Linux layout). */
  @Structure.FieldOrder({
    "ai_flags", "ai_family", "ai_socktype", "ai_protocol", "ai_addrlen", "ai_addr",
    "ai_canonname", "ai_next"
  })
  public static class AddrInfo extends Structure {
    public int ai_flags;
    public int ai_family;
    public int ai_socktype;
    public int ai_protocol;
    public int ai_addrlen;
    public Pointer ai_addr;
    public Pointer ai_canonname;
    public Pointer ai_next;

    public AddrInfo() {}

    public AddrInfo(Pointer p) {
      super(p);
      read();
    }
  }
}
