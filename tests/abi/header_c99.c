/*
 * Compiled (not linked) by the abi tests with -std=c99 -pedantic -Wall -Wextra -Werror: ntm.h must
 * be self-contained (first include), guarded (included twice) and strictly C99-clean.
 */
#include <ntm.h>
#include <ntm.h>

/* Every public declaration is used so that its prototype is checked, not just parsed. */
int ntm_header_c99_probe(void);

int ntm_header_c99_probe(void) {
  ntm_options options;
  ntm_static_peer peer;
  ntm_node_info info;
  ntm_stats stats;
  ntm_tunnel_info *tunnels = 0;
  size_t count = 0;
  char private_key[NTM_KEY_TEXT_SIZE];
  char public_key[NTM_KEY_TEXT_SIZE];
  struct addrinfo *res = 0;
  struct pollfd pfd;
  int fd;
  int total = 0;

  total += ntm_options_init(&options, NTM_OPTIONS_VERSION);
  total += ntm_static_peer_init(&peer, NTM_STATIC_PEER_VERSION);
  options.peers = &peer;
  options.peer_count = 1;
  options.cipher = NTM_CIPHER_CHACHA20_POLY1305;
  options.log_level = NTM_LOG_DEBUG;
  info.version = NTM_NODE_INFO_VERSION;
  stats.version = NTM_STATS_VERSION;
  total += ntm_keypair_generate(private_key, public_key);
  total += ntm_public_key_from_private(private_key, public_key);
  total += ntm_start(&options);
  total += ntm_is_running();
  total += ntm_get_node_info(&info);
  total += ntm_get_stats(&stats);
  total += ntm_tunnels_snapshot(&tunnels, &count);
  ntm_tunnels_free(tunnels);
  total += ntm_getaddrinfo("peer.example", "7000", 0, &res);
  ntm_freeaddrinfo(res);
  fd = ntm_socket(AF_INET, SOCK_STREAM, 0);
  total += ntm_bind(fd, 0, 0) + ntm_listen(fd, 1) + ntm_accept(fd, 0, 0) + ntm_connect(fd, 0, 0);
  total += (int)ntm_send(fd, "", 0, 0) + (int)ntm_recv(fd, 0, 0, 0);
  total += (int)ntm_sendto(fd, "", 0, 0, 0, 0) + (int)ntm_recvfrom(fd, 0, 0, 0, 0, 0);
  total += ntm_setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &total, sizeof total);
  total += ntm_getsockopt(fd, SOL_SOCKET, SO_ERROR, 0, 0);
  total += ntm_getsockname(fd, 0, 0) + ntm_getpeername(fd, 0, 0);
  pfd.fd = fd;
  pfd.events = POLLIN;
  total += ntm_poll(&pfd, 1, 0) + ntm_fcntl(fd, 0, 0);
  total += ntm_shutdown(fd, SHUT_RDWR) + ntm_close(fd);
  total += ntm_bridge_socket(fd) + ntm_bridge_connect(0, 0) + ntm_bridge_accept(fd, 0, 0);
  total += ntm_bridge_listen(fd) + ntm_bridge_accept_listener(fd, 0, 0) + NTM_BRIDGE_HELLO_SIZE;
  total += ntm_bridge_datagram(fd) + (int)ntm_bridge_recvfrom(fd, 0, 0, 0, 0, 0) +
           NTM_BRIDGE_DGRAM_HEADER_SIZE;
  total += ntm_stop();
  total += (int)ntm_version()[0] + (int)ntm_last_error()[0] + (int)ntm_strerror(NTM_EINVAL)[0];
  return total + NTM_VERSION_MAJOR + NTM_VERSION_MINOR + NTM_VERSION_PATCH + NTM_OK + NTM_ERROR +
         NTM_ESTATE + NTM_ENOMEM + NTM_EIO + NTM_ENOTFOUND + NTM_EVERSION + NTM_EBUFS +
         NTM_EUNSUPPORTED + NTM_EVENT_STARTED + NTM_EVENT_STOPPING + NTM_EVENT_TUNNEL_UP +
         NTM_EVENT_TUNNEL_DOWN + NTM_EVENT_PATH_CHANGED + NTM_PATH_NONE + NTM_PATH_DIRECT +
         NTM_PATH_RELAY + NTM_TUNNEL_IDLE + NTM_TUNNEL_HANDSHAKE + NTM_TUNNEL_UP + NTM_LOG_OFF;
}
