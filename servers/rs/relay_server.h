// The Relay Server (docs/protocol.md section 5), over UDP (io::UdpTransport). A node binds to a
// relay_id by proving the token the DC gave it (RelayBind, checked with the DC-RS key, no talk
// with the DC) over a cookie for its source address (bind_cookies.h) and a growing sequence, so
// a replayed bind binds nothing; a relay_id binds at most two node_ids. A relayed datagram the
// RS cannot forward (unknown relay_id, e.g. after a restart; a source that is not bound) is
// answered with a RelayChallenge, on which the node binds again at once. The relay table (ids,
// node ids, addresses; no secrets) is kept in `table_file` (rewritten at most once a second when
// a relay or an address changed), so a restarted RS forwards again at once, even for an end that
// is not sending; it also sends every restored end a RelayChallenge at start, so the nodes bind
// again and resend at once what was lost while it was down (as the DC asks the nodes of its
// previous run to register). A 0x30 datagram from one bound end's address is
// forwarded, unchanged, to the other end's last bound address; everything else is dropped. The
// one exception is a handshake from an end whose peer has not bound yet: the two nodes get the
// same direction at once and bind in any order, so the first to bind often starts its handshake
// before the other is there. The RS keeps that end's newest handshake (briefly, a bounded number)
// and forwards it when the peer binds, rather than leave it to the sender's 500 ms retry. The
// RS never holds a data key: it sees the 8-byte relay header and opaque tunnel datagrams.
// Relays expire when idle or when their tokens expire.
//
// A library object: start() binds and runs `threads` forwarding threads (common/udp_service.h,
// one socket each on the same port); stop() joins them. The threads share the relay table under
// a reader-writer lock: forwarding only reads it (and stamps a relay's activity atomically);
// binds, challenges, held handshakes and the sweep write it.
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <shared_mutex>
#include <span>
#include <unordered_map>
#include <vector>

#include "common/metrics.h"
#include "common/udp_service.h"
#include "control/codec_util.h"
#include "io/udp_transport.h"
#include "rs/bind_cookies.h"

namespace ntm::servers {

struct RelayServerConfig {
  std::vector<Endpoint> listen{Endpoint::v4({127, 0, 0, 1}, control::kRsPort)};
  control::Key32 relay_key{};  // DC-RS
  std::chrono::seconds idle_timeout{90};
  size_t max_relays = 100000;
  // Handshakes from an end whose peer has not bound yet: kept this long, at most this many.
  std::chrono::milliseconds hold_handshake_for{1000};
  size_t max_held_handshakes = 4096;
  // Challenges answering relayed datagrams the RS cannot forward, at most this many a second.
  unsigned challenges_per_second = 1000;
  std::filesystem::path table_file;  // empty: the table is not kept across restarts
  // Forward runs of equal-sized datagrams to one end with UDP GSO (one send for up to 64).
  bool use_gso = true;
  // Forwarding threads (sockets sharing the port with SO_REUSEPORT; the kernel spreads the
  // nodes' flows over them by source). 0: one per CPU core, at most kMaxThreads.
  unsigned threads = 1;
  std::function<uint64_t()> now_unix;  // default: the system clock
};

struct RelayStats {
  uint64_t binds = 0;
  uint64_t forwarded = 0;
  uint64_t dropped = 0;
};

class RelayServer {
 public:
  static constexpr unsigned kMaxThreads = 16;
  explicit RelayServer(RelayServerConfig config);
  ~RelayServer();
  RelayServer(const RelayServer&) = delete;
  RelayServer& operator=(const RelayServer&) = delete;

  void start();  // throws std::system_error naming the address
  void stop();   // idempotent

  std::vector<Endpoint> local_endpoints() const { return service_.local_endpoints(); }
  size_t relay_count() const { return relay_count_.load(); }
  size_t forwarding_threads() const { return service_.thread_count(); }  // 0 while stopped
  RelayStats stats() const { return {binds_.load(), forwarded_.load(), dropped_.load()}; }
  const ReasonCounters<RsDrop>& drops() const { return drops_; }

 private:
  using Clock = UdpService::Clock;
  struct End {
    uint64_t node_id = 0;
    Endpoint address;
    uint64_t sequence = 0;  // of the newest bind accepted
  };
  // When a relay last forwarded or bound: forwarding threads stamp it under the shared lock.
  class ActivityStamp {
   public:
    ActivityStamp() = default;
    ActivityStamp(const ActivityStamp& o) : ticks_(o.ticks_.load(std::memory_order_relaxed)) {}
    ActivityStamp& operator=(const ActivityStamp& o) {
      ticks_.store(o.ticks_.load(std::memory_order_relaxed), std::memory_order_relaxed);
      return *this;
    }
    void set(Clock::time_point t) const {
      ticks_.store(t.time_since_epoch().count(), std::memory_order_relaxed);
    }
    Clock::time_point get() const {
      return Clock::time_point(Clock::duration(ticks_.load(std::memory_order_relaxed)));
    }

   private:
    mutable std::atomic<Clock::rep> ticks_{0};
  };
  struct Relay {
    End ends[2];
    unsigned bound = 0;
    uint64_t expires_unix = 0;
    ActivityStamp last_activity;
  };
  // The newest handshake from the only bound end of a relay (see the top of the file).
  struct HeldHandshake {
    Endpoint from;
    control::Bytes datagram;
    Clock::time_point at;
  };

  void on_batch(std::span<const io::ReceiveSlot> received, Clock::time_point now);
  // Under the lock (shared is enough): the destination to forward to, or nothing to drop.
  std::optional<Endpoint> route(std::span<const uint8_t> datagram, const Endpoint& from,
                                Clock::time_point now) const;
  // Under the exclusive lock: what route() could not forward, binds and malformed datagrams.
  void handle_slow(std::span<const uint8_t> datagram, const Endpoint& from, Clock::time_point now,
                   std::vector<control::Bytes>& replies, std::vector<io::OutgoingDatagram>& out);
  void bind(std::span<const uint8_t> datagram, const Endpoint& from, Clock::time_point now,
            std::vector<control::Bytes>& replies, std::vector<io::OutgoingDatagram>& out);
  void challenge(std::span<const uint8_t> relayed, const Endpoint& from, Clock::time_point now,
                 std::vector<control::Bytes>& replies, std::vector<io::OutgoingDatagram>& out);
  // A relayed datagram route() dropped: kept if it is a handshake from a half-bound relay's end.
  void hold_if_handshake(std::span<const uint8_t> relayed, const Endpoint& from,
                         Clock::time_point now);
  // After `to` bound relay `relay_id`: what its peer sent before, if still fresh.
  void release_held(uint32_t relay_id, const Relay& r, const Endpoint& to, Clock::time_point now,
                    std::vector<control::Bytes>& replies, std::vector<io::OutgoingDatagram>& out);
  void sweep(Clock::time_point now);
  uint64_t now_unix() const;
  void load_table();
  // The table as table_file holds it, if it changed since the last call (under the lock).
  std::optional<std::string> table_text_if_dirty();
  void write_table(const std::string& text) const;
  // Once, from the first batch: a RelayChallenge to every end of the restored table.
  void announce_restart(Clock::time_point now);

  RelayServerConfig config_;
  std::atomic<size_t> relay_count_{0};
  std::atomic<uint64_t> binds_{0}, forwarded_{0}, dropped_{0};
  ReasonCounters<RsDrop> drops_;
  void drop(RsDrop why) {
    ++dropped_;
    drops_.add(why);
  }
  std::atomic<bool> announced_{false};
  // Shared by the forwarding threads; everything below it is guarded by it.
  mutable std::shared_mutex mutex_;
  std::unordered_map<uint32_t, Relay> relays_;
  std::unordered_map<uint32_t, HeldHandshake> held_;
  BindCookies cookies_;
  bool table_dirty_ = false;
  Clock::time_point challenge_second_{};
  unsigned challenges_this_second_ = 0;
  // Last: destroyed first, so the thread is joined before the state it uses goes away.
  UdpService service_;
};

}  // namespace ntm::servers
