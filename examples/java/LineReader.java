// LineReader: splits a byte stream into '\n'-terminated lines of at most MAX_LINE bytes, and then
// hands out the bytes that follow (the file receiver reads a request line, then the file).
// BufferedReader cannot do either: its lines are unbounded and it reads ahead into characters.

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

final class LineReader {
  /** Longest line (without its '\n') the chat and file protocols accept. */
  static final int MAX_LINE = 4096;

  /** Thrown when MAX_LINE bytes arrive without a '\n'. */
  static final class LineTooLongException extends IOException {
    LineTooLongException() {
      super("line longer than " + MAX_LINE + " bytes");
    }
  }

  private final InputStream in;
  private final byte[] buffer = new byte[MAX_LINE + 1 + 16384]; // a full line plus read-ahead
  private int start; // first unread byte
  private int end; // one past the last buffered byte

  LineReader(InputStream in) {
    this.in = in;
  }

  /**
   * The next line as raw bytes, without its '\n' (and a trailing '\r'); null when the stream
   * ends (the bytes of an unfinished last line are dropped).
   *
   * @throws LineTooLongException after MAX_LINE bytes without '\n'
   */
  byte[] readLineBytes() throws IOException {
    int scanned = start;
    for (; ; ) {
      for (int i = scanned; i < end; i++) {
        if (buffer[i] == '\n') {
          int length = i - start;
          if (length > 0 && buffer[i - 1] == '\r') {
            length--;
          }
          if (length > MAX_LINE) {
            throw new LineTooLongException();
          }
          byte[] line = Arrays.copyOfRange(buffer, start, start + length);
          start = i + 1;
          return line;
        }
      }
      if (end - start > MAX_LINE) {
        throw new LineTooLongException();
      }
      scanned = end - start; // offset of the first byte not searched yet, after compacting
      System.arraycopy(buffer, start, buffer, 0, end - start);
      end -= start;
      start = 0;
      int n = in.read(buffer, end, buffer.length - end);
      if (n < 0) {
        return null;
      }
      end += n;
    }
  }

  /** The next line decoded as UTF-8 (invalid bytes become U+FFFD), or null at the end. */
  String readLine() throws IOException {
    byte[] line = readLineBytes();
    return line == null ? null : new String(line, StandardCharsets.UTF_8);
  }

  /**
   * Reads up to {@code length} bytes that follow the last line: first those already buffered,
   * then from the stream. Returns how many, or -1 at the end of the stream.
   */
  int read(byte[] out, int offset, int length) throws IOException {
    if (start < end) {
      int n = Math.min(length, end - start);
      System.arraycopy(buffer, start, out, offset, n);
      start += n;
      return n;
    }
    return in.read(out, offset, length);
  }
}
