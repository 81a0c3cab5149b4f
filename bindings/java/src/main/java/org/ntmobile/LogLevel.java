package org.ntmobile;

/** How much libntm logs to stderr (ntm_log_level); the default is {@link #WARN}. */
public enum LogLevel {
  OFF(0),
  ERROR(1),
  WARN(2),
  INFO(3),
  /** Also every handshake and timer; never secrets. */
  DEBUG(4);

  final int code;

  LogLevel(int code) {
    this.code = code;
  }
}
