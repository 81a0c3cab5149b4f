package org.ntmobile;

import java.util.Objects;

/**
 * A peer known in advance (static-peer mode, no servers): its name, public key, real UDP
 * endpoint (or none when only the peer starts tunnels: its address is then learnt) and virtual
 * addresses.
 *
 * <pre>{@code
 * StaticPeer bob = StaticPeer.builder("bob.example", bobPublicKey)
 *     .endpoint("127.0.0.1:47001")
 *     .virtualIPv4("100.64.0.2")
 *     .virtualIPv6("fd00:6e74:6d::2")
 *     .build();
 * }</pre>
 */
public final class StaticPeer {
  private final String name;
  private final String publicKey;
  private final String endpoint;
  private final String virtualIPv4;
  private final String virtualIPv6;

  private StaticPeer(Builder b) {
    this.name = b.name;
    this.publicKey = b.publicKey;
    this.endpoint = b.endpoint;
    this.virtualIPv4 = b.virtualIPv4;
    this.virtualIPv6 = b.virtualIPv6;
  }

  /** Starts a peer with its name (for name resolution) and X25519 public key (base64). */
  public static Builder builder(String name, String publicKey) {
    return new Builder(name, publicKey);
  }

  public String name() {
    return name;
  }

  public String publicKey() {
    return publicKey;
  }

  /** The real UDP endpoint, or null when the peer's address is learnt from its handshake. */
  public String endpoint() {
    return endpoint;
  }

  public String virtualIPv4() {
    return virtualIPv4;
  }

  public String virtualIPv6() {
    return virtualIPv6;
  }

  @Override
  public String toString() {
    return "StaticPeer[" + name + ", endpoint=" + endpoint + ", " + virtualIPv4 + ", "
        + virtualIPv6 + "]";
  }

  /** Builds a {@link StaticPeer}. */
  public static final class Builder {
    private final String name;
    private final String publicKey;
    private String endpoint;
    private String virtualIPv4;
    private String virtualIPv6;

    private Builder(String name, String publicKey) {
      this.name = Objects.requireNonNull(name, "name");
      this.publicKey = Objects.requireNonNull(publicKey, "publicKey");
    }

    /** Real UDP endpoint: "192.0.2.1:4500" or "[2001:db8::1]:4500"; null or "" for none. */
    public Builder endpoint(String endpoint) {
      this.endpoint = endpoint == null || endpoint.isEmpty() ? null : endpoint;
      return this;
    }

    /** The peer's virtual IPv4 address, e.g. "100.64.0.2". */
    public Builder virtualIPv4(String address) {
      this.virtualIPv4 = address;
      return this;
    }

    /** The peer's virtual IPv6 address, e.g. "fd00:6e74:6d::2". */
    public Builder virtualIPv6(String address) {
      this.virtualIPv6 = address;
      return this;
    }

    public StaticPeer build() {
      if (virtualIPv4 == null && virtualIPv6 == null) {
        throw new IllegalArgumentException("peer " + name + " needs a virtual address");
      }
      return new StaticPeer(this);
    }
  }
}
