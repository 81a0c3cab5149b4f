package org.ntmobile.internal;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.LongByReference;
import com.sun.jna.ptr.PointerByReference;
import java.util.Map;

/**
 * ntm.h's node, key and resolver calls (the cold path), bound by JNA interface mapping, which
 * handles the structs and the event callback. The socket calls are in {@link NtmSockets}.
 */
public interface NtmApi extends Library {
  /** The binding; loading it loads libntm through {@link NativeLoader}. */
  NtmApi INSTANCE =
      Native.load(
          NativeLoader.library().getFile().getAbsolutePath(),
          NtmApi.class,
          Map.of(Library.OPTION_STRING_ENCODING, "UTF-8"));

  // ntm_error_code
  int NTM_OK = 0;
  int NTM_ERROR = -1;
  int NTM_EINVAL = -2;
  int NTM_ESTATE = -3;
  int NTM_ENOMEM = -4;
  int NTM_EIO = -5;
  int NTM_ENOTFOUND = -6;
  int NTM_EVERSION = -7;
  int NTM_EBUFS = -8;
  int NTM_EUNSUPPORTED = -9;
  int NTM_EAUTH = -10;
  int NTM_EUNREACHABLE = -11;

  String ntm_version();

  String ntm_last_error();

  String ntm_strerror(int code);

  int ntm_keypair_generate(byte[] privateKey, byte[] publicKey);

  int ntm_public_key_from_private(String privateKey, byte[] publicKey);

  int ntm_static_peer_init(NtmStructs.StaticPeer peer, int version);

  int ntm_options_init(NtmStructs.Options options, int version);

  int ntm_start(NtmStructs.Options options);

  int ntm_stop();

  int ntm_is_running();

  int ntm_get_node_info(NtmStructs.NodeInfo info);

  int ntm_notify_network_change();

  int ntm_tunnels_snapshot(PointerByReference tunnels, LongByReference count);

  void ntm_tunnels_free(Pointer tunnels);

  int ntm_get_stats(NtmStructs.Stats stats);

  int ntm_getaddrinfo(
      String node, String service, NtmStructs.AddrInfo hints, PointerByReference result);

  void ntm_freeaddrinfo(Pointer result);

  int ntm_set_log_callback(NtmStructs.LogCallback callback, Pointer userData);

  int ntm_set_log_level(int level);
}
