package org.ntmobile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.jna.Structure;
import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.RecordComponent;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.ntmobile.internal.NtmStructs;

/**
 * The binding covers ntm.h's structs and enums: every field of a header struct has its JNA field
 * (same order) and its public Java counterpart, every enum value its constant. A field added to
 * the header without a binding field fails here. Reads the header from the repository; needs no
 * libntm.
 */
class HeaderCoverageTest {
  private static final Path HEADER =
      Path.of(System.getProperty("basedir", "."), "..", "..", "c-api", "include", "ntm.h");

  /** Header fields whose public Java name is not their camelCase name without a unit suffix. */
  private static final Map<String, String> RENAMED =
      Map.of(
          "peers", "staticPeer",
          "event_cb", "eventListener",
          "state_dir", "stateDirectory",
          "rtt_us", "rtt",
          "last_activity_ms", "lastActivity",
          "peer_name", "peerName");

  private static String header() throws IOException {
    return Files.readString(HEADER);
  }

  /** The fields of `typedef struct NAME { ... } NAME;`, in order. */
  static List<String> structFields(String header, String name) {
    Matcher m =
        Pattern.compile("typedef struct " + name + " \\{(.*?)\\} " + name + ";", Pattern.DOTALL)
            .matcher(header);
    assertTrue(m.find(), name + " not found in ntm.h");
    String body = m.group(1).replaceAll("(?s)/\\*.*?\\*/", "");
    List<String> out = new ArrayList<>();
    Matcher f = Pattern.compile("(\\w+)(?:\\[[^\\]]*\\])?;").matcher(body);
    while (f.find()) {
      out.add(f.group(1));
    }
    return out;
  }

  /** NAME -> value of every `PREFIXNAME = value` in the header. */
  static Map<String, Integer> enumValues(String header, String prefix) {
    Map<String, Integer> out = new LinkedHashMap<>();
    Matcher m = Pattern.compile("\\b" + prefix + "([A-Z0-9_]+)\\s*=\\s*(-?\\d+)").matcher(header);
    while (m.find()) {
      out.put(m.group(1), Integer.parseInt(m.group(2)));
    }
    assertTrue(!out.isEmpty(), prefix);
    return out;
  }

  /** virtual_ipv4 -> virtualIPv4, idle_timeout_ms -> idleTimeout, peer_node_id -> peerNodeId. */
  static String javaName(String cName) {
    if (RENAMED.containsKey(cName)) {
      return RENAMED.get(cName);
    }
    String base = cName.replaceAll("_(ms|us)$", "");
    StringBuilder out = new StringBuilder();
    boolean upper = false;
    for (char c : base.toCharArray()) {
      if (c == '_') {
        upper = true;
      } else {
        out.append(upper ? Character.toUpperCase(c) : c);
        upper = false;
      }
    }
    return out.toString().replace("Ipv4", "IPv4").replace("Ipv6", "IPv6");
  }

  private static List<String> jnaOrder(Class<? extends Structure> type) {
    return Arrays.asList(type.getAnnotation(Structure.FieldOrder.class).value());
  }

  private static Set<String> components(Class<?> record) {
    return Arrays.stream(record.getRecordComponents())
        .map(RecordComponent::getName)
        .collect(Collectors.toCollection(TreeSet::new));
  }

  private static Set<String> expected(List<String> cFields, Set<String> skip) {
    return cFields.stream()
        .filter(f -> !skip.contains(f))
        .map(HeaderCoverageTest::javaName)
        .collect(Collectors.toCollection(TreeSet::new));
  }

  @Test
  void everyStructFieldHasAJnaFieldInHeaderOrder() throws IOException {
    String h = header();
    assertEquals(structFields(h, "ntm_options"), jnaOrder(NtmStructs.Options.class));
    assertEquals(structFields(h, "ntm_static_peer"), jnaOrder(NtmStructs.StaticPeer.class));
    assertEquals(structFields(h, "ntm_event"), jnaOrder(NtmStructs.Event.class));
    assertEquals(structFields(h, "ntm_node_info"), jnaOrder(NtmStructs.NodeInfo.class));
    assertEquals(structFields(h, "ntm_tunnel_info"), jnaOrder(NtmStructs.TunnelInfo.class));
    assertEquals(structFields(h, "ntm_stats"), jnaOrder(NtmStructs.Stats.class));
  }

  @Test
  void structVersionsAreTheHeaders() throws IOException {
    String h = header();
    Map<String, Integer> versions = new LinkedHashMap<>();
    Matcher m = Pattern.compile("#define NTM_(\\w+)_VERSION (\\d+)").matcher(h);
    while (m.find()) {
      versions.put(m.group(1), Integer.parseInt(m.group(2)));
    }
    assertEquals(versions.get("OPTIONS"), NtmStructs.OPTIONS_VERSION);
    assertEquals(versions.get("STATS"), NtmStructs.STATS_VERSION);
    assertEquals(versions.get("NODE_INFO"), NtmStructs.NODE_INFO_VERSION);
    assertEquals(versions.get("STATIC_PEER"), NtmStructs.STATIC_PEER_VERSION);
  }

  @Test
  void everyOptionHasABuilderMethod() throws IOException {
    Set<String> methods =
        Arrays.stream(NodeOptions.Builder.class.getMethods())
            .filter(mt -> mt.getReturnType() == NodeOptions.Builder.class)
            .map(Method::getName)
            .collect(Collectors.toCollection(TreeSet::new));
    Set<String> want =
        expected(
            structFields(header(), "ntm_options"),
            Set.of("version", "peer_count", "event_user_data"));
    want.removeAll(methods);
    assertEquals(Set.of(), want, "ntm_options fields without a NodeOptions.Builder method");
  }

  @Test
  void everyStatsTunnelInfoNodeInfoAndEventFieldHasARecordComponent() throws IOException {
    String h = header();
    assertEquals(expected(structFields(h, "ntm_stats"), Set.of("version")), components(NodeStats.class));
    assertEquals(expected(structFields(h, "ntm_tunnel_info"), Set.of()), components(TunnelInfo.class));
    assertEquals(
        expected(structFields(h, "ntm_node_info"), Set.of("version")), components(NodeInfo.class));
    Set<String> event = expected(structFields(h, "ntm_event"), Set.of());
    assertEquals(event, components(NodeEvent.class));
    Set<String> peer = expected(structFields(h, "ntm_static_peer"), Set.of("version"));
    Set<String> accessors =
        Arrays.stream(StaticPeer.class.getMethods())
            .filter(mt -> mt.getParameterCount() == 0 && mt.getReturnType() == String.class)
            .map(Method::getName)
            .collect(Collectors.toCollection(TreeSet::new));
    peer.removeAll(accessors);
    assertEquals(Set.of(), peer, "ntm_static_peer fields without a StaticPeer accessor");
  }

  @Test
  void everyEnumValueHasAConstant() throws IOException {
    String h = header();
    for (Map.Entry<String, Integer> e : enumValues(h, "NTM_EVENT_").entrySet()) {
      assertEquals(e.getKey(), NodeEvent.Type.of(e.getValue()).name());
    }
    for (Map.Entry<String, Integer> e : enumValues(h, "NTM_PATH_").entrySet()) {
      assertEquals(e.getKey(), PathKind.of(e.getValue()).name());
    }
    for (Map.Entry<String, Integer> e : enumValues(h, "NTM_TUNNEL_").entrySet()) {
      assertEquals(e.getKey(), TunnelState.of(e.getValue()).name());
    }
    for (Map.Entry<String, Integer> e : enumValues(h, "NTM_CIPHER_").entrySet()) {
      assertEquals(e.getValue(), Cipher.valueOf(e.getKey()).code);
    }
    for (Map.Entry<String, Integer> e : enumValues(h, "NTM_LOG_").entrySet()) {
      assertEquals(e.getValue(), LogLevel.valueOf(e.getKey()).code);
    }
    assertEquals(enumValues(h, "NTM_PATH_").size(), PathKind.values().length);
    assertEquals(enumValues(h, "NTM_TUNNEL_").size(), TunnelState.values().length);
    assertEquals(enumValues(h, "NTM_CIPHER_").size(), Cipher.values().length);
    assertEquals(enumValues(h, "NTM_LOG_").size(), LogLevel.values().length);
  }

  @Test
  void everyErrorCodeHasAConstant() throws IOException, IllegalAccessException {
    Map<String, Integer> constants = new LinkedHashMap<>();
    for (Field f : NTMException.class.getFields()) {
      if (Modifier.isStatic(f.getModifiers()) && f.getType() == int.class) {
        constants.put(f.getName(), f.getInt(null));
      }
    }
    Map<String, Integer> codes = new LinkedHashMap<>(enumValues(header(), "NTM_"));
    codes.entrySet().removeIf(e -> e.getValue() >= 0);
    Map<String, Integer> bound = new LinkedHashMap<>();
    for (String name : codes.keySet()) {
      bound.put(name, constants.get(name));
    }
    assertEquals(codes, bound, "NTM_E* codes without an NTMException constant (or another value)");
  }
}
