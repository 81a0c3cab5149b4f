// Which relay server the DC hands out: measured, not drawn at random. RelayHealth probes every
// configured RS endpoint with the NetProbe every RS answers (docs/protocol.md section 7) from a
// socket and thread of its own, every `interval`, and keeps per RS whether it answered lately
// and a smoothed round-trip time. choose() then picks, among the RSs that serve both nodes'
// address families, a live one with the lowest RTT - spread by `spread` over those within 20 %
// + 0.5 ms of the best, so equally good relays share the load; an RS that stopped answering
// (down, unreachable from the DC) is passed over within `dead_after`. When none answers (before
// the first replies, or the DC reaches none) it spreads over all that serve both families, as
// without measurements.
//
// choose() is called from the DC's thread; the prober updates the figures under a mutex.
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "io/unique_fd.h"
#include "util/endpoint.h"

namespace ntm::servers {

class RelayHealth {
 public:
  struct Config {
    std::chrono::milliseconds interval{500};
    std::chrono::milliseconds dead_after{1500};  // no answer for this long: not chosen
  };
  // `relays[i]` are the endpoints of RS i (an IPv4 and/or an IPv6 one).
  RelayHealth(std::vector<std::vector<Endpoint>> relays, Config config);
  RelayHealth(std::vector<std::vector<Endpoint>> relays) : RelayHealth(std::move(relays), Config{}) {}
  ~RelayHealth();
  RelayHealth(const RelayHealth&) = delete;
  RelayHealth& operator=(const RelayHealth&) = delete;

  void start();
  void stop();  // idempotent

  // The index of the RS to assign to two nodes reaching the DC in families `a` and `b`, or
  // nullopt when no RS serves both. `spread` (e.g. the relay id) picks among equals. `avoid`:
  // an RS a node reported dead (its relayed path through it went silent) - passed over, alive
  // or not by the probes' account, unless no other RS serves both families.
  std::optional<size_t> choose(Endpoint::Family a, Endpoint::Family b, uint32_t spread,
                               std::optional<size_t> avoid = std::nullopt) const;
  // The RS that has `endpoint` among its endpoints.
  std::optional<size_t> index_of(const Endpoint& endpoint) const;

  struct Status {
    bool alive = false;
    std::chrono::microseconds rtt{0};  // smoothed (7/8 old + 1/8 new), when alive
  };
  Status status(size_t relay) const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Probed {
    Clock::time_point last_answer{};
    bool answered = false;
    bool reported_dead = false;
    double srtt_us = 0;
  };
  struct Outstanding {
    uint64_t nonce;
    size_t relay;
    Clock::time_point sent;
  };

  void run();
  void send_probes(Clock::time_point now);
  void receive(int fd, Clock::time_point now);
  bool serves(size_t relay, Endpoint::Family f) const;
  bool alive_locked(size_t relay, Clock::time_point now) const;

  std::vector<std::vector<Endpoint>> relays_;
  Config config_;
  io::UniqueFd v4_, v6_, wake_;
  std::thread thread_;
  mutable std::mutex mu_;
  std::vector<Probed> probed_;
  std::vector<Outstanding> outstanding_;  // prober thread only
  bool running_ = false;
};

}  // namespace ntm::servers
