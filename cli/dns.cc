#include "dns.h"

#include <netinet/in.h>
#include <ntm.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <strings.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include "log.h"

namespace ntm::cli {

namespace {
constexpr size_t kHeader = 12;
constexpr uint32_t kTtl = 60;
constexpr int kMaxInFlight = 64;  // queries resolving at once (each may wait for the DC)

uint16_t get16(std::span<const uint8_t> b, size_t at) {
  return static_cast<uint16_t>((b[at] << 8) | b[at + 1]);
}
void put16(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v & 0xff));
}
}  // namespace

std::optional<DnsQuestion> parse_dns_query(std::span<const uint8_t> query) {
  if (query.size() < kHeader + 5) return std::nullopt;
  DnsQuestion q;
  q.id = get16(query, 0);
  q.flags = get16(query, 2);
  if (q.flags & 0x8000) return std::nullopt;  // a response, not a query
  if (get16(query, 4) != 1) return std::nullopt;
  size_t at = kHeader;
  while (true) {
    if (at >= query.size()) return std::nullopt;
    const uint8_t len = query[at++];
    if (len == 0) break;
    if (len > 63 || at + len > query.size() || q.name.size() + len + 1 > 253) return std::nullopt;
    if (!q.name.empty()) q.name += '.';
    for (size_t i = 0; i < len; ++i)
      q.name += static_cast<char>(std::tolower(query[at + i]));
    at += len;
  }
  if (at + 4 > query.size()) return std::nullopt;
  q.qtype = get16(query, at);
  q.qclass = get16(query, at + 2);
  q.question_end = at + 4;
  return q;
}

std::vector<uint8_t> build_dns_response(std::span<const uint8_t> query, const DnsQuestion& q,
                                        uint8_t rcode,
                                        const std::vector<std::vector<uint8_t>>& addresses,
                                        uint32_t ttl) {
  std::vector<uint8_t> out;
  put16(out, q.id);
  // QR, the query's opcode and RD, AA (we are the authority for the domain), no RA.
  put16(out, static_cast<uint16_t>(0x8000 | (q.flags & 0x7800) | 0x0400 | (q.flags & 0x0100) |
                                   (rcode & 0x0f)));
  put16(out, 1);
  put16(out, static_cast<uint16_t>(addresses.size()));
  put16(out, 0);
  put16(out, 0);
  out.insert(out.end(), query.begin() + kHeader, query.begin() + static_cast<long>(q.question_end));
  for (const auto& a : addresses) {
    put16(out, 0xc000 | kHeader);  // the name: a pointer to the question's
    put16(out, a.size() == 4 ? kDnsTypeA : kDnsTypeAAAA);
    put16(out, 1);  // IN
    put16(out, static_cast<uint16_t>(ttl >> 16));
    put16(out, static_cast<uint16_t>(ttl & 0xffff));
    put16(out, static_cast<uint16_t>(a.size()));
    out.insert(out.end(), a.begin(), a.end());
  }
  return out;
}

namespace {

// The node's domain: its name without the first label ("alice.example" -> "example").
bool in_node_domain(const std::string& name) {
  ntm_node_info info{};
  info.version = NTM_NODE_INFO_VERSION;
  if (ntm_get_node_info(&info) != NTM_OK) return false;
  std::string own = info.name;
  for (auto& c : own) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (name == own) return true;
  const size_t dot = own.find('.');
  if (dot != std::string::npos) {
    const std::string suffix = own.substr(dot);  // ".example"
    if (name.size() > suffix.size() && name.ends_with(suffix)) return true;
  }
  // Static peers may live under other domains: answer for the names the node knows.
  ntm_tunnel_info* rows = nullptr;
  size_t count = 0;
  bool known = false;
  if (ntm_tunnels_snapshot(&rows, &count) == NTM_OK) {
    for (size_t i = 0; i < count && !known; ++i) known = strcasecmp(rows[i].peer_name, name.c_str()) == 0;
    ntm_tunnels_free(rows);
  }
  return known;
}

std::vector<uint8_t> answer(std::span<const uint8_t> query, const DnsQuestion& q) {
  if ((q.flags & 0x7800) != 0) return build_dns_response(query, q, kDnsNotImp, {}, 0);
  if (q.qclass != 1 && q.qclass != kDnsTypeAny) return build_dns_response(query, q, kDnsRefused, {}, 0);
  if (!in_node_domain(q.name)) return build_dns_response(query, q, kDnsRefused, {}, 0);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* list = nullptr;
  const int rc = ntm_getaddrinfo(q.name.c_str(), nullptr, &hints, &list);
  if (rc == EAI_NONAME) return build_dns_response(query, q, kDnsNxDomain, {}, 0);
  if (rc != 0) return build_dns_response(query, q, kDnsServFail, {}, 0);
  std::vector<std::vector<uint8_t>> addresses;
  for (const addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    std::vector<uint8_t> a;
    if (ai->ai_family == AF_INET && (q.qtype == kDnsTypeA || q.qtype == kDnsTypeAny)) {
      const auto* s = reinterpret_cast<const sockaddr_in*>(ai->ai_addr);
      const auto* b = reinterpret_cast<const uint8_t*>(&s->sin_addr);
      a.assign(b, b + 4);
    } else if (ai->ai_family == AF_INET6 && (q.qtype == kDnsTypeAAAA || q.qtype == kDnsTypeAny)) {
      const auto* s = reinterpret_cast<const sockaddr_in6*>(ai->ai_addr);
      a.assign(s->sin6_addr.s6_addr, s->sin6_addr.s6_addr + 16);
    }
    if (!a.empty() && std::find(addresses.begin(), addresses.end(), a) == addresses.end())
      addresses.push_back(std::move(a));
  }
  ntm_freeaddrinfo(list);
  return build_dns_response(query, q, kDnsNoError, addresses, kTtl);
}

}  // namespace

DnsResponder::DnsResponder(const HostPort& at) : stop_fd_(::eventfd(0, EFD_CLOEXEC)) {
  try {
    for (const auto& a : resolve_real(at, SOCK_DGRAM)) {
      fds_.push_back(bind_real(a, SOCK_DGRAM));
      SockAddr bound;
      bound.length = sizeof(bound.storage);
      ::getsockname(fds_.back(), bound.get(), &bound.length);
      CLI_INFO("DNS responder on %s", bound.to_string().c_str());
    }
  } catch (...) {
    for (int fd : fds_) ::close(fd);
    ::close(stop_fd_);
    throw;
  }
  for (int fd : fds_) threads_.emplace_back([this, fd] { run(fd); });
}

DnsResponder::~DnsResponder() {
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(stop_fd_, &one, sizeof(one));
  for (auto& t : threads_) t.join();
  // Queries still resolving hold their own copy of the socket (dup), so closing is safe.
  for (int fd : fds_) ::close(fd);
  ::close(stop_fd_);
}

void DnsResponder::run(int fd) {
  uint8_t buffer[1500];
  for (;;) {
    pollfd fds[2] = {{fd, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) return;
    if (fds[1].revents) return;
    if (!(fds[0].revents & POLLIN)) continue;
    SockAddr from;
    from.length = sizeof(from.storage);
    const ssize_t n = ::recvfrom(fd, buffer, sizeof(buffer), 0, from.get(), &from.length);
    if (n <= 0) continue;
    std::vector<uint8_t> query(buffer, buffer + n);
    const auto q = parse_dns_query(query);
    if (!q) continue;
    if (in_flight_->load() >= kMaxInFlight) {
      const auto r = build_dns_response(query, *q, kDnsServFail, {}, 0);
      ::sendto(fd, r.data(), r.size(), 0, from.get(), from.length);
      continue;
    }
    // Resolving may ask the DC (up to seconds): answer on a thread of its own.
    const int reply_fd = ::dup(fd);
    if (reply_fd < 0) continue;
    ++*in_flight_;
    try {
      std::thread([in_flight = in_flight_, reply_fd, from, query = std::move(query), question = *q] {
        const auto r = answer(query, question);
        ::sendto(reply_fd, r.data(), r.size(), 0, from.get(), from.length);
        ::close(reply_fd);
        --*in_flight;
      }).detach();
    } catch (const std::system_error&) {
      ::close(reply_fd);
      --*in_flight_;
    }
  }
}

}  // namespace ntm::cli
