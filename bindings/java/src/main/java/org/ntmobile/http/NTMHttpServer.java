package org.ntmobile.http;

import org.apache.hc.core5.http.impl.bootstrap.ServerBootstrap;
import org.ntmobile.NTMException;
import org.ntmobile.NTMNode;
import org.ntmobile.NTMServerSocketFactory;

/**
 * An HTTP server on the node's virtual addresses with HttpCore 5's classic server (the server
 * half of Apache HttpComponents):
 *
 * <pre>{@code
 * HttpServer server = NTMHttpServer.bootstrap(8080)
 *     .register("*", (request, response, context) -> {
 *       response.setCode(200);
 *       response.setEntity(new StringEntity("hello"));
 *     })
 *     .create();
 * server.start();
 * }</pre>
 *
 * <p>It is HttpCore's {@link ServerBootstrap} with {@link NTMServerSocketFactory}: the server
 * listens on every virtual address of the node (or the one set with setLocalAddress), and the
 * node's name is the canonical host name, so requests for {@code http://<node name>:port/}
 * reach the handlers registered with {@code register(pattern, handler)} (HttpCore answers 421
 * for other host names unless they are registered with {@code registerVirtual}).
 */
public final class NTMHttpServer {
  private NTMHttpServer() {}

  /** A ServerBootstrap listening on {@code port} of the node's virtual addresses. */
  public static ServerBootstrap bootstrap(int port) {
    ServerBootstrap bootstrap =
        ServerBootstrap.bootstrap()
            .setListenerPort(port)
            .setServerSocketFactory(NTMServerSocketFactory.getDefault());
    NTMNode.current()
        .ifPresent(
            node -> {
              try {
                bootstrap.setCanonicalHostName(node.info().name());
              } catch (NTMException e) {
                // the node stopped meanwhile: HttpCore's default name stays
              }
            });
    return bootstrap;
  }
}
