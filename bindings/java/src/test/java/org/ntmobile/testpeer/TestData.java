package org.ntmobile.testpeer;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.SplittableRandom;

/** Deterministic test streams and their SHA-256, shared by the tests and the test peer. */
public final class TestData {
  private TestData() {}

  public static final int CHUNK = 64 * 1024;

  /** Writes {@code bytes} of the stream {@code seed}; returns its SHA-256 in hex. */
  public static String send(OutputStream out, long seed, long bytes) throws IOException {
    SplittableRandom random = new SplittableRandom(seed);
    MessageDigest sha = sha256();
    byte[] buf = new byte[CHUNK];
    for (long sent = 0; sent < bytes; ) {
      int n = (int) Math.min(buf.length, bytes - sent);
      random.nextBytes(buf);
      sha.update(buf, 0, n);
      out.write(buf, 0, n);
      sent += n;
    }
    out.flush();
    return HexFormat.of().formatHex(sha.digest());
  }

  /** The SHA-256 of {@code bytes} of the stream {@code seed}, without sending it. */
  public static String expected(long seed, long bytes) {
    SplittableRandom random = new SplittableRandom(seed);
    MessageDigest sha = sha256();
    byte[] buf = new byte[CHUNK];
    for (long done = 0; done < bytes; ) {
      int n = (int) Math.min(buf.length, bytes - done);
      random.nextBytes(buf);
      sha.update(buf, 0, n);
      done += n;
    }
    return HexFormat.of().formatHex(sha.digest());
  }

  /** What {@link #drain} read: byte count and SHA-256. */
  public record Received(long bytes, String sha) {}

  /** Reads to end of stream. */
  public static Received drain(InputStream in) throws IOException {
    MessageDigest sha = sha256();
    byte[] buf = new byte[CHUNK];
    long total = 0;
    for (int n; (n = in.read(buf)) > 0; ) {
      sha.update(buf, 0, n);
      total += n;
    }
    return new Received(total, HexFormat.of().formatHex(sha.digest()));
  }

  static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new AssertionError(e);
    }
  }
}
