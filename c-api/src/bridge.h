// Internal to the C ABI: the pumps that join an OS descriptor to a virtual stream socket.
#pragma once

namespace ntm::capi {

// Starts the two pump threads between a connected ntm stream socket and an OS stream
// descriptor; both are owned by the bridge from then on. false (errno set, both closed) on
// failure.
bool start_pumps(int ntm_fd, int os_fd);

}  // namespace ntm::capi
