package org.ntmobile;

import java.util.Objects;
import org.ntmobile.internal.NtmApi;
import org.ntmobile.internal.NtmStructs;

/**
 * A node's X25519 static key pair, base64 text. The private key is the node's identity in
 * static-peer mode; give the public key to its peers.
 */
public final class KeyPair {
  private final String privateKey;
  private final String publicKey;

  private KeyPair(String privateKey, String publicKey) {
    this.privateKey = privateKey;
    this.publicKey = publicKey;
  }

  /** A new random key pair (ntm_keypair_generate). */
  public static KeyPair generate() {
    byte[] priv = new byte[NtmStructs.KEY_TEXT_SIZE];
    byte[] pub = new byte[NtmStructs.KEY_TEXT_SIZE];
    int rc = NtmApi.INSTANCE.ntm_keypair_generate(priv, pub);
    if (rc != NtmApi.NTM_OK) {
      throw new IllegalStateException("ntm_keypair_generate: " + NtmApi.INSTANCE.ntm_last_error());
    }
    return new KeyPair(NtmStructs.text(priv), NtmStructs.text(pub));
  }

  /**
   * The pair for an existing private key (ntm_public_key_from_private).
   *
   * @throws IllegalArgumentException if the text is not 32 bytes of base64
   */
  public static KeyPair fromPrivateKey(String privateKey) {
    Objects.requireNonNull(privateKey, "privateKey");
    byte[] pub = new byte[NtmStructs.KEY_TEXT_SIZE];
    int rc = NtmApi.INSTANCE.ntm_public_key_from_private(privateKey, pub);
    if (rc != NtmApi.NTM_OK) {
      throw new IllegalArgumentException(
          "not a private key: " + NtmApi.INSTANCE.ntm_last_error());
    }
    return new KeyPair(privateKey, NtmStructs.text(pub));
  }

  /** The private key, base64. Keep it secret. */
  public String privateKey() {
    return privateKey;
  }

  /** The public key, base64. */
  public String publicKey() {
    return publicKey;
  }

  /** Shows the public key only. */
  @Override
  public String toString() {
    return "KeyPair[public=" + publicKey + "]";
  }
}
