// A DNS responder on a real local address (UDP) for the node's domain: A and AAAA records of
// peer names (and the node's own name), resolved through the node - the DC in control-plane
// mode, the static peer list otherwise. Names outside the domain get REFUSED (so a resolver
// moves on to its next server), unknown names in it NXDOMAIN. Point a resolver's
// domain-specific forwarding here (systemd-resolved, dnsmasq `server=/example/127.0.0.1#5353`)
// or ask it directly (`dig @127.0.0.1 -p 5353 bob.example`).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "service.h"

namespace ntm::cli {

// The question of a DNS query, as far as this responder needs it.
struct DnsQuestion {
  uint16_t id = 0;
  uint16_t flags = 0;
  std::string name;  // lower case, no trailing dot
  uint16_t qtype = 0, qclass = 0;
  size_t question_end = 0;  // offset just past the question in the query
};

constexpr uint16_t kDnsTypeA = 1, kDnsTypeAAAA = 28, kDnsTypeAny = 255;
constexpr uint8_t kDnsNoError = 0, kDnsFormErr = 1, kDnsServFail = 2, kDnsNxDomain = 3,
                  kDnsNotImp = 4, kDnsRefused = 5;

// Parses a standard query with one question. nullopt for anything else (malformed, responses).
std::optional<DnsQuestion> parse_dns_query(std::span<const uint8_t> query);
// Builds the response to `q` from the original query: `rcode` and address records (4 bytes for
// A, 16 for AAAA), each with `ttl`.
std::vector<uint8_t> build_dns_response(std::span<const uint8_t> query, const DnsQuestion& q,
                                        uint8_t rcode, const std::vector<std::vector<uint8_t>>& addresses,
                                        uint32_t ttl);

class DnsResponder final : public Service {
 public:
  explicit DnsResponder(const HostPort& at);
  ~DnsResponder() override;

 private:
  void run(int fd);
  std::vector<int> fds_;
  int stop_fd_;
  std::shared_ptr<std::atomic<int>> in_flight_ = std::make_shared<std::atomic<int>>(0);
  std::vector<std::thread> threads_;
};

}  // namespace ntm::cli
