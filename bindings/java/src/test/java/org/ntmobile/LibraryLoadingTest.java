package org.ntmobile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.jna.Platform;
import java.io.File;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.ntmobile.testpeer.PrintVersion;

/**
 * Where libntm comes from: the copy bundled at JNA's resource path, or the one named by the
 * system property ntm.library.path / the environment variable NTM_LIBRARY. Each case runs in a
 * fresh JVM, since a JVM loads the library once.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class LibraryLoadingTest {
  private static String run(List<String> jvmOptions, Map<String, String> env) throws Exception {
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.addAll(jvmOptions);
    command.add("-cp");
    command.add(PeerProcess.testClassPath());
    command.add(PrintVersion.class.getName());
    ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
    pb.environment().remove("NTM_LIBRARY");
    pb.environment().putAll(env);
    return ChildJvm.run(pb, 30);
  }

  private static String bundledLibrary() throws Exception {
    String resource = Platform.RESOURCE_PREFIX + "/libntm.so";
    java.net.URL url = LibraryLoadingTest.class.getClassLoader().getResource(resource);
    assertTrue(url != null, "the build copies libntm to " + resource);
    return new File(url.toURI()).getAbsolutePath();
  }

  @Test
  void theBundledLibraryLoadsWithoutAnySetting() throws Exception {
    String out = run(List.of(), Map.of());
    assertTrue(out.startsWith("VERSION 0."), out);
  }

  @Test
  void theSystemPropertyNamesTheLibraryFileOrItsFolder() throws Exception {
    String file = bundledLibrary();
    assertTrue(run(List.of("-Dntm.library.path=" + file), Map.of()).startsWith("VERSION "));
    String folder = new File(file).getParent();
    assertTrue(run(List.of("-Dntm.library.path=" + folder), Map.of()).startsWith("VERSION "));
  }

  @Test
  void aWrongOverrideFailsNamingThePathInsteadOfFallingBack() throws Exception {
    String out = run(List.of("-Dntm.library.path=/nonexistent/libntm.so"), Map.of());
    assertTrue(out.startsWith("FAILED") && out.contains("/nonexistent/libntm.so"), out);
    String fromEnv = run(List.of(), Map.of("NTM_LIBRARY", "/nonexistent/dir"));
    assertTrue(fromEnv.contains("/nonexistent/dir") && fromEnv.contains("NTM_LIBRARY"), fromEnv);
  }

  @Test
  void theEnvironmentVariableNamesTheLibrary() throws Exception {
    assertEquals(
        run(List.of(), Map.of()), run(List.of(), Map.of("NTM_LIBRARY", bundledLibrary())));
  }
}
