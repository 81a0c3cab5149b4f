package org.ntmobile.internal;

import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Platform;
import java.io.File;
import java.io.IOException;

/**
 * Finds and loads libntm once per class loader.
 *
 * <p>Order: the system property {@value #PATH_PROPERTY}, then the environment variable
 * {@value #PATH_ENV} (each a library file, or a directory holding {@code libntm.so}); then the
 * copy bundled in the jar at JNA's resource path ({@code linux-x86-64/libntm.so}); last, JNA's
 * ordinary search ({@code jna.library.path}, the system's library path).
 */
public final class NativeLoader {
  /** System property naming the libntm to load (file or directory). */
  public static final String PATH_PROPERTY = "ntm.library.path";
  /** Environment variable naming the libntm to load (file or directory). */
  public static final String PATH_ENV = "NTM_LIBRARY";

  private static final String NAME = "ntm";

  private NativeLoader() {}

  private static final class Holder {
    static final NativeLibrary LIBRARY = load();
  }

  /** The loaded library; the first call loads it (and throws {@link UnsatisfiedLinkError}). */
  public static NativeLibrary library() {
    return Holder.LIBRARY;
  }

  private static NativeLibrary load() {
    if (Native.SIZE_T_SIZE != 8 || !Platform.isLinux()) {
      // The socket constants and sockaddr layouts in Posix/SockAddr are Linux's (LP64).
      throw new UnsatisfiedLinkError(
          "ntmobile's Java binding supports 64-bit Linux, not " + Platform.RESOURCE_PREFIX);
    }
    String override = System.getProperty(PATH_PROPERTY);
    String origin = "system property " + PATH_PROPERTY;
    if (override == null || override.isEmpty()) {
      override = System.getenv(PATH_ENV);
      origin = "environment variable " + PATH_ENV;
    }
    if (override != null && !override.isEmpty()) {
      File file = new File(override);
      if (file.isDirectory()) {
        file = new File(file, System.mapLibraryName(NAME));
      }
      if (!file.isFile()) {
        throw new UnsatisfiedLinkError("libntm not found at " + file + " (from " + origin + ")");
      }
      return NativeLibrary.getInstance(file.getAbsolutePath());
    }
    String resource = Platform.RESOURCE_PREFIX + "/" + System.mapLibraryName(NAME);
    if (NativeLoader.class.getClassLoader().getResource(resource) != null) {
      try {
        File extracted = Native.extractFromResourcePath(NAME, NativeLoader.class.getClassLoader());
        return NativeLibrary.getInstance(extracted.getAbsolutePath());
      } catch (IOException e) {
        UnsatisfiedLinkError error =
            new UnsatisfiedLinkError("cannot extract bundled " + resource + ": " + e.getMessage());
        error.initCause(e);
        throw error;
      }
    }
    try {
      return NativeLibrary.getInstance(NAME);
    } catch (UnsatisfiedLinkError e) {
      UnsatisfiedLinkError error =
          new UnsatisfiedLinkError(
              "libntm not found: no "
                  + resource
                  + " in the jar, "
                  + PATH_PROPERTY
                  + " / "
                  + PATH_ENV
                  + " not set, and the system search failed: "
                  + e.getMessage());
      error.initCause(e);
      throw error;
    }
  }
}
