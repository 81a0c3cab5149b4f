import com.sun.jna.Platform;
import java.io.File;
import java.io.InputStream;
import java.net.URL;
import java.net.URLClassLoader;

/** The native library JNA picks from the jar for this JVM's os.arch: JNA's resource prefix
 *  (Platform.RESOURCE_PREFIX) + "/" + the mapped library name, as Native.extractFromResourcePath
 *  looks it up. Prints "PREFIX PATH BYTES" or fails. (Platform, unlike Native, loads no native
 *  code, so -Dos.arch=aarch64 on an x86-64 JVM asks what an aarch64 JVM would take.) */
public class JnaResource {
  public static void main(String[] args) throws Exception {
    String path = Platform.RESOURCE_PREFIX + "/" + System.mapLibraryName("ntm");
    try (URLClassLoader jar = new URLClassLoader(new URL[] {new File(args[0]).toURI().toURL()}, null);
         InputStream in = jar.getResourceAsStream(path)) {
      if (in == null) throw new IllegalStateException("the jar has no " + path);
      System.out.println(Platform.RESOURCE_PREFIX + " " + path + " " + in.readAllBytes().length);
    }
  }
}
