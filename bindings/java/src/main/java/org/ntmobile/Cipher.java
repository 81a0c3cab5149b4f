package org.ntmobile;

/** The AEAD that seals tunnel packets (ntm_cipher). Both ends use the initiator's choice. */
public enum Cipher {
  /** The default; fastest where the CPU has AES instructions. */
  AES_256_GCM(1),
  /** For CPUs without AES instructions. */
  CHACHA20_POLY1305(2);

  final int code;

  Cipher(int code) {
    this.code = code;
  }
}
