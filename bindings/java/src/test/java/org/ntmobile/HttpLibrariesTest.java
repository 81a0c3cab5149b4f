package org.ntmobile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.ntmobile.TwoNodes.SELF;
import static org.ntmobile.TwoNodes.SELF_V4;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.apache.hc.client5.http.DnsResolver;
import org.apache.hc.client5.http.classic.methods.HttpGet;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.client5.http.impl.classic.HttpClients;
import org.apache.hc.client5.http.impl.io.PoolingHttpClientConnectionManager;
import org.apache.hc.client5.http.socket.ConnectionSocketFactory;
import org.apache.hc.client5.http.socket.PlainConnectionSocketFactory;
import org.apache.hc.core5.http.HttpHost;
import org.apache.hc.core5.http.config.RegistryBuilder;
import org.apache.hc.core5.http.impl.bootstrap.HttpServer;
import org.apache.hc.core5.http.io.entity.EntityUtils;
import org.apache.hc.core5.http.io.entity.StringEntity;
import org.apache.hc.core5.http.protocol.HttpContext;
import org.apache.hc.core5.http.protocol.HttpCoreContext;
import org.apache.hc.core5.io.CloseMode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.ntmobile.http.NTMHttpClient5;
import org.ntmobile.http.NTMHttpServer;
import org.ntmobile.http.NTMOkHttp;

/**
 * OkHttp, Apache HttpClient 5 and HttpCore 5's server over ntmobile, with the real libraries:
 * this JVM's node serves HTTP on a virtual port and its clients reach it by node name.
 */
@ExtendWith(TwoNodes.class)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class HttpLibrariesTest {
  private static final int PORT = 7690;
  private static HttpServer server;

  @BeforeAll
  static void startServer() throws IOException {
    server =
        NTMHttpServer.bootstrap(PORT)
            .register(
                "*",
                (request, response, context) -> {
                  response.setCode(200);
                  response.setEntity(
                      new StringEntity(
                          request.getPath() + " from " + remote(context),
                          StandardCharsets.UTF_8));
                })
            .create();
    server.start();
  }

  private static String remote(HttpContext context) {
    java.net.SocketAddress a = HttpCoreContext.cast(context).getEndpointDetails().getRemoteAddress();
    return ((java.net.InetSocketAddress) a).getAddress().getHostAddress();
  }

  @AfterAll
  static void stopServer() {
    if (server != null) {
      server.close(CloseMode.IMMEDIATE);
    }
  }

  @Test
  void okHttpReachesTheServerByNodeName() throws Exception {
    OkHttpClient client = NTMOkHttp.client();
    for (int i = 0; i < 2; i++) {
      Request request = new Request.Builder().url("http://" + SELF + ":" + PORT + "/ok" + i).build();
      try (Response response = client.newCall(request).execute()) {
        assertEquals(200, response.code());
        assertEquals("/ok" + i + " from " + SELF_V4, response.body().string());
      }
    }
    client.connectionPool().evictAll();
  }

  @Test
  void okHttpDnsIsTheNodesResolver() throws Exception {
    assertEquals(
        java.util.List.of(InetAddress.getByName(SELF_V4), InetAddress.getByName(TwoNodes.SELF_V6)),
        NTMOkHttp.DNS.lookup(SELF));
    assertThrows(java.net.UnknownHostException.class, () -> NTMOkHttp.DNS.lookup("nobody.test"));
  }

  @Test
  void httpClient5ReachesTheServerThroughTheConnectionOperator() throws Exception {
    try (CloseableHttpClient client = NTMHttpClient5.createDefault()) {
      String body =
          client.execute(
              new HttpGet("http://" + SELF + ":" + PORT + "/hc5"),
              response -> EntityUtils.toString(response.getEntity()));
      assertEquals("/hc5 from " + SELF_V4, body);
    }
  }

  /**
   * The guard: from HttpClient 5.4 on, a {@code Registry<ConnectionSocketFactory>} is no longer
   * asked for plain sockets, so the pre-5.4 way of plugging ntmobile in silently uses kernel
   * sockets. Shown on loopback only: the name resolves to 127.0.0.1 and a closed port there.
   * When this fails, HttpClient honours the registry again and the docs can say so.
   */
  @Test
  @SuppressWarnings("deprecation") // the old route, deprecated in 5.4 - which is the point
  void theRegistryRouteIsBypassedByThisHttpClientSoTheOperatorIsNeeded() throws Exception {
    int closedPort;
    try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      closedPort = probe.getLocalPort();
    }
    AtomicInteger asked = new AtomicInteger();
    ConnectionSocketFactory ntmFactory =
        new PlainConnectionSocketFactory() {
          @Override
          public Socket createSocket(HttpContext context) throws IOException {
            asked.incrementAndGet();
            return new NTMSocket();
          }
        };
    DnsResolver loopback =
        new DnsResolver() {
          @Override
          public InetAddress[] resolve(String host) {
            return new InetAddress[] {InetAddress.getLoopbackAddress()};
          }

          @Override
          public String resolveCanonicalHostname(String host) {
            return host;
          }
        };
    PoolingHttpClientConnectionManager manager =
        new PoolingHttpClientConnectionManager(
            RegistryBuilder.<ConnectionSocketFactory>create().register("http", ntmFactory).build(),
            org.apache.hc.core5.pool.PoolConcurrencyPolicy.STRICT,
            org.apache.hc.core5.pool.PoolReusePolicy.LIFO,
            org.apache.hc.core5.util.TimeValue.NEG_ONE_MILLISECOND,
            null,
            loopback,
            null);
    try (CloseableHttpClient client = HttpClients.custom().setConnectionManager(manager).build()) {
      HttpHost target = new HttpHost("http", "registry.test", closedPort);
      IOException failure =
          assertThrows(
              IOException.class,
              () -> client.execute(target, new HttpGet("/"), response -> response.getCode()));
      assertEquals(0, asked.get(), "the registry's socket factory was asked: " + failure);
      assertTrue(
          failure instanceof java.net.ConnectException
              || failure.getCause() instanceof java.net.ConnectException,
          "a kernel socket was refused on loopback: " + failure);
    }
  }
}
