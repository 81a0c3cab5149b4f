import java.io.IOException;
import java.nio.charset.StandardCharsets;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.apache.hc.core5.http.impl.bootstrap.HttpServer;
import org.apache.hc.core5.http.io.entity.StringEntity;
import org.ntmobile.http.NTMHttpServer;
import org.ntmobile.http.NTMOkHttp;

/**
 * HTTP between the interop nodes (tests/interop/README.md, "HTTP"): the server's HTTP service
 * (HttpCore 5 on NTMServerSocket) and the client's one request (OkHttp through ntmobile).
 */
final class InteropHttp {
  private InteropHttp() {}

  static HttpServer startServer(int port) throws IOException {
    HttpServer server =
        NTMHttpServer.bootstrap(port)
            .register(
                "*",
                (request, response, context) -> {
                  response.setCode(200);
                  response.setEntity(
                      new StringEntity(
                          "HTTP " + InteropNode.LANG + " " + request.getPath(),
                          StandardCharsets.UTF_8));
                })
            .create();
    server.start();
    return server;
  }

  /** GET http://peer:port/from-java; prints HTTP (or FAIL step=http); true when it worked. */
  static boolean request(String peer, int port) {
    String path = "/from-" + InteropNode.LANG;
    OkHttpClient client = NTMOkHttp.client();
    Request request = new Request.Builder().url("http://" + peer + ":" + port + path).build();
    try (Response response = client.newCall(request).execute()) {
      String[] words = response.body().string().split(" ");
      boolean ok =
          response.code() == 200 && words.length == 3 && words[0].equals("HTTP")
              && words[2].equals(path);
      InteropNode.record(
          "HTTP status=" + response.code() + " peer_lang=" + (words.length == 3 ? words[1] : "?")
              + " path=" + (ok ? "ok" : "bad"));
      return ok;
    } catch (IOException | RuntimeException e) {
      InteropNode.record("FAIL step=http reason=" + e.getClass().getSimpleName());
      return false;
    } finally {
      client.connectionPool().evictAll();
      client.dispatcher().executorService().shutdown();
    }
  }
}
