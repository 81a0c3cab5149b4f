// Counters the servers keep for `ntm-server status` and the Prometheus endpoint
// (aio/status_report.h): why datagrams were dropped and how logins ended, one atomic counter per
// reason. Each server owns one of these; hooks at the drop and login sites add to it.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace ntm::servers {

// Counts events by a reason enum whose last enumerator is `count_`.
template <class Reason>
class ReasonCounters {
 public:
  static constexpr size_t kSize = static_cast<size_t>(Reason::count_);
  void add(Reason r) { counters_[static_cast<size_t>(r)].fetch_add(1, std::memory_order_relaxed); }
  uint64_t get(Reason r) const {
    return counters_[static_cast<size_t>(r)].load(std::memory_order_relaxed);
  }
  uint64_t total() const {
    uint64_t sum = 0;
    for (const auto& c : counters_) sum += c.load(std::memory_order_relaxed);
    return sum;
  }

 private:
  std::array<std::atomic<uint64_t>, kSize> counters_{};
};

// Why the DC dropped a datagram.
enum class DcDrop {
  malformed,        // not a DC message
  unknown_node,     // from a node not registered (expired, or the DC restarted)
  bad_ticket,       // a Register whose ticket does not open or names another node
  replayed_ticket,  // a Register with an older ticket than the one in use
  bad_auth,         // the message's MAC did not verify
  unexpected,       // a message type the DC does not take
  busy,             // a Resolve while the node already has too many directions in flight
  no_challenge,     // a Register without a fresh challenge for its source (answered with one)
  replayed_register,  // a Register older than the node's current registration
  rate_limited,     // a Resolve over the requester's or the target's rate
  denied,           // a Resolve the access policy refuses (answered with status denied)
  count_
};

// Why the RS dropped a datagram.
enum class RsDrop {
  malformed,      // empty or of an unknown type
  not_relayable,  // a relayed datagram for an unknown or half-bound relay, or from neither end
  bad_token,      // a RelayBind whose token does not verify
  table_full,     // a RelayBind while the relay table is full
  third_node,     // a RelayBind for a relay already bound by two other nodes
  bad_cookie,     // a RelayBind without a fresh cookie for its source (answered with one)
  replayed_bind,  // a RelayBind whose sequence is not newer than the end's last one
  count_
};

// How a login connection at the AS ended.
enum class AsLogin {
  ok,
  bad_credentials,
  account_disabled,
  rate_limited,
  bad_request,
  server_error,
  tls_failed,   // the TLS handshake failed (scanners, a client not pinning our certificate)
  overloaded,   // closed at once: too many connections (in all, or from that source)
  busy,         // answered "busy, retry in N ms": the password workers were saturated
  timed_out,    // closed: handshake + request (or the response) not done before the deadline
  count_
};

const char* reason_name(DcDrop r);
const char* reason_name(RsDrop r);
const char* reason_name(AsLogin r);

}  // namespace ntm::servers
