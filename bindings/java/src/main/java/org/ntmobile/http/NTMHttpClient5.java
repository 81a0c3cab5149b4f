package org.ntmobile.http;

import java.net.InetAddress;
import java.net.UnknownHostException;
import javax.net.ssl.SSLContext;
import org.apache.hc.client5.http.DnsResolver;
import org.apache.hc.client5.http.impl.DefaultSchemePortResolver;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.client5.http.impl.classic.HttpClients;
import org.apache.hc.client5.http.impl.io.DefaultHttpClientConnectionOperator;
import org.apache.hc.client5.http.impl.io.PoolingHttpClientConnectionManager;
import org.apache.hc.client5.http.io.HttpClientConnectionOperator;
import org.apache.hc.client5.http.ssl.DefaultClientTlsStrategy;
import org.apache.hc.client5.http.ssl.TlsSocketStrategy;
import org.apache.hc.core5.http.URIScheme;
import org.apache.hc.core5.http.config.RegistryBuilder;
import org.apache.hc.core5.pool.PoolConcurrencyPolicy;
import org.apache.hc.core5.pool.PoolReusePolicy;
import org.apache.hc.core5.util.TimeValue;
import org.ntmobile.NTMResolver;
import org.ntmobile.NTMSocket;

/**
 * Apache HttpClient 5 (5.4 and later) over ntmobile:
 *
 * <pre>{@code
 * try (CloseableHttpClient client = NTMHttpClient5.createDefault()) {
 *   client.execute(new HttpGet("http://bob.example:8080/"), response -> ...);
 * }
 * // or with your own settings:
 * HttpClients.custom().setConnectionManager(NTMHttpClient5.connectionManager(null))...
 * }</pre>
 *
 * <p>The connections are made by a {@link HttpClientConnectionOperator} whose sockets are
 * {@link NTMSocket}s and whose {@link DnsResolver} is the node's. <b>Do not</b> use the older
 * route - a {@code Registry<ConnectionSocketFactory>} holding an ntmobile socket factory: from
 * HttpClient 5.4 on, plain connections no longer ask that registry for their socket, so such a
 * client silently opens kernel sockets and sends SYNs for virtual addresses out on the real
 * network. {@code NTMHttpClient5Test} checks both behaviours against the HttpClient in use.
 */
public final class NTMHttpClient5 {
  private NTMHttpClient5() {}

  /** HttpClient's {@link DnsResolver} for node names: the node's resolver, never DNS. */
  public static final DnsResolver DNS =
      new DnsResolver() {
        @Override
        public InetAddress[] resolve(String host) throws UnknownHostException {
          return NTMResolver.getAllByName(host);
        }

        @Override
        public String resolveCanonicalHostname(String host) {
          return host;
        }
      };

  /**
   * The connection operator: NTM sockets, node names, and TLS for https with {@code tls} (null
   * for the JVM's default trust).
   */
  public static HttpClientConnectionOperator connectionOperator(SSLContext tls) {
    TlsSocketStrategy strategy =
        tls == null ? DefaultClientTlsStrategy.createDefault() : new DefaultClientTlsStrategy(tls);
    return new DefaultHttpClientConnectionOperator(
        proxy -> new NTMSocket(),
        DefaultSchemePortResolver.INSTANCE,
        DNS,
        RegistryBuilder.<TlsSocketStrategy>create()
            .register(URIScheme.HTTPS.id, strategy)
            .build());
  }

  /** A pooling connection manager over {@link #connectionOperator}. */
  public static PoolingHttpClientConnectionManager connectionManager(SSLContext tls) {
    return new PoolingHttpClientConnectionManager(
        connectionOperator(tls),
        PoolConcurrencyPolicy.STRICT,
        PoolReusePolicy.LIFO,
        TimeValue.NEG_ONE_MILLISECOND,
        null);
  }

  /** A client with HttpClient's defaults whose connections go through ntmobile. */
  public static CloseableHttpClient createDefault() {
    return HttpClients.custom().setConnectionManager(connectionManager(null)).build();
  }
}
