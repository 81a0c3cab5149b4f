// Internal to the C ABI: the pumps that join an OS descriptor to a virtual stream socket.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

#include <sys/socket.h>

namespace ntm::capi {

// Starts the two pump threads between a connected ntm stream socket and an OS stream
// descriptor; both are owned by the bridge from then on. app_fd is the application's end when
// known (-1 otherwise); token (from new_bridge_token()) names the bridge; the preamble (may be
// empty) goes to os_fd before any data. The bridge is registered when this returns. false
// (errno set, both closed) on failure.
bool start_pumps(int ntm_fd, int os_fd, int app_fd, uint64_t token, const void* preamble,
                 size_t preamble_size);
uint64_t new_bridge_token();

// Records app_fd as the application's end of the bridge `token` (for bridged listeners, where
// the application's end is only known once it accepted).
void name_application_end(uint64_t token, int app_fd);

// Runs call(ntm_fd) for the virtual socket behind the application's descriptor app_fd (any
// dup of a bridged end); -1 with EBADF, ENOTSOCK or ENOTCONN (not bridged, or ended) otherwise.
int with_bridged_ntm_fd(int app_fd, const std::function<int(int)>& call);

// The 20-byte address record of bridged listeners' hellos and bridged datagrams:
// family u8 (4 or 6) | reserved u8 | port u16 big-endian | address[16] (IPv4: the first 4).
void encode_address_record(const sockaddr_storage& address, unsigned char* record);
// Returns the sockaddr's size.
socklen_t decode_address_record(const unsigned char* record, sockaddr_storage& address);

// ntm_close() of a datagram socket with an ntm_bridge_datagram() bridge: ends the bridge (its
// descriptor reads end-of-file) and closes the socket (0, or -1 and errno: EBADF if ntm_stop()
// is closing it); 1 if the socket is not bridged (the caller closes it itself).
int close_bridged_datagram(int ntm_fd);

// ntm_stop(), once it closed every socket: ends every datagram bridge.
void end_datagram_bridges();

}  // namespace ntm::capi
