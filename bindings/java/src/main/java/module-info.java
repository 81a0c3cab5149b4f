/**
 * ntmobile for Java: stable virtual IPv4/IPv6 addresses for a Java process, with java.net
 * sockets ({@link org.ntmobile.NTMSocket}, {@link org.ntmobile.NTMServerSocket}, {@link
 * org.ntmobile.NTMDatagramSocket}) over libntm through JNA.
 *
 * <p>Exports the API ({@code org.ntmobile}) and the HTTP library adapters ({@code
 * org.ntmobile.http}); {@code org.ntmobile.internal} (the JNA mapping of ntm.h) stays hidden.
 */
module org.ntmobile {
  exports org.ntmobile;
  exports org.ntmobile.http;

  requires com.sun.jna; // an automatic module (jna.jar has no module-info)
  requires jdk.net; // ExtendedSocketOptions (TCP keep-alive timers)

  // The HTTP libraries org.ntmobile.http adapts: optional (Maven scope "provided"). Not
  // transitive, although its methods take and return their types: javac would then demand all
  // three from every module that requires org.ntmobile; a user of one requires it anyway.
  requires static okhttp3;
  requires static org.apache.httpcomponents.client5.httpclient5;
  requires static org.apache.httpcomponents.core5.httpcore5;

  // JNA reads and writes the fields of the ntm.h structures (NtmStructs) and calls the
  // callback and library interfaces by reflection: only JNA may look inside.
  opens org.ntmobile.internal to
      com.sun.jna;
}
