// Tunnel-level ping for the control API (`ntm ping`): an ICMP echo request (ICMPv6 for IPv6)
// from this node's virtual address, sealed and sent through the tunnel like any inner packet;
// the peer's virtual stack answers it (lwIP replies to echo requests), so it works with every
// peer and measures the round trip through the tunnel and both stacks. Replies carrying our
// identifier are taken out of the receive path before lwIP (which would drop them).
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "util/endpoint.h"

namespace ntm::node {

class Pinger {
 public:
  Pinger();
  // An IPv4 or IPv6 echo request from `source` to `dest` (both 4 or both 16 bytes), with a new
  // sequence number (written to *sequence) registered as outstanding.
  std::vector<uint8_t> request(std::span<const uint8_t> source, std::span<const uint8_t> dest,
                               uint16_t* sequence);
  // True if `inner` is an echo reply to one of our requests (it is then consumed).
  bool on_inner(std::span<const uint8_t> inner);
  // Waits for the reply to `sequence`: the round-trip time, or nullopt at the timeout.
  std::optional<std::chrono::nanoseconds> wait(uint16_t sequence, std::chrono::milliseconds timeout);

 private:
  using Clock = std::chrono::steady_clock;
  struct Outstanding {
    Clock::time_point sent;
    std::optional<Clock::time_point> answered;
  };
  uint16_t identifier_;
  std::mutex mutex_;
  std::condition_variable cond_;
  uint16_t next_sequence_ = 1;
  std::map<uint16_t, Outstanding> outstanding_;
};

// A numeric IPv4/IPv6 address ("100.64.0.2", "fd00::2") as an Endpoint with port 0.
std::optional<Endpoint> parse_numeric_address(std::string_view text);
// The address of `e` without the port.
std::string address_text(const Endpoint& e);

// The Internet checksum (RFC 1071) of `data`, continuing from `sum`.
uint16_t internet_checksum(std::span<const uint8_t> data, uint32_t sum = 0);

}  // namespace ntm::node
