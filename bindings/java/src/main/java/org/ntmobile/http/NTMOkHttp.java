package org.ntmobile.http;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.List;
import okhttp3.Dns;
import okhttp3.OkHttpClient;
import org.ntmobile.NTMResolver;
import org.ntmobile.NTMSocketFactory;

/**
 * OkHttp over ntmobile. The one-liner:
 *
 * <pre>{@code
 * OkHttpClient client = NTMOkHttp.configure(new OkHttpClient.Builder()).build();
 * client.newCall(new Request.Builder().url("http://bob.example:8080/").build()).execute();
 * }</pre>
 *
 * <p>It sets {@link #DNS} (names through the node) and {@link NTMSocketFactory} (connections in
 * the virtual network); HTTPS works unchanged (OkHttp layers TLS over the socket). Proxies must
 * not be configured for these clients.
 */
public final class NTMOkHttp {
  private NTMOkHttp() {}

  /** OkHttp's {@link Dns} for node names: the node's resolver, never the system's DNS. */
  public static final Dns DNS = NTMOkHttp::lookup;

  private static List<InetAddress> lookup(String hostname) throws UnknownHostException {
    return List.of(NTMResolver.getAllByName(hostname));
  }

  /** Makes the builder's connections go through ntmobile; returns it for chaining. */
  public static OkHttpClient.Builder configure(OkHttpClient.Builder builder) {
    return builder
        .dns(DNS)
        .socketFactory(NTMSocketFactory.getDefault())
        .proxy(java.net.Proxy.NO_PROXY);
  }

  /** A new OkHttpClient whose connections go through ntmobile. */
  public static OkHttpClient client() {
    return configure(new OkHttpClient.Builder()).build();
  }
}
