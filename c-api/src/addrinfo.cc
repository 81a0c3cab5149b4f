// ntm_getaddrinfo: node names (this node's and its peers') and numeric addresses to virtual
// socket addresses, shaped like getaddrinfo(3).
#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <cstdlib>
#include <cstring>
#include <string>

#include "api_common.h"

using namespace ntm;

namespace {

struct Candidate {
  int family;
  uint8_t bytes[16];
};

// One allocation per entry holds the addrinfo, its sockaddr and its canonical name.
addrinfo* make_entry(const Candidate& c, uint16_t port, int socktype, const char* canonical) {
  const size_t name_size = canonical ? std::strlen(canonical) + 1 : 0;
  const size_t total = sizeof(addrinfo) + sizeof(sockaddr_in6) + name_size;
  auto* block = static_cast<char*>(std::calloc(1, total));
  if (block == nullptr) return nullptr;
  auto* ai = reinterpret_cast<addrinfo*>(block);
  auto* sa = block + sizeof(addrinfo);
  ai->ai_family = c.family;
  ai->ai_socktype = socktype;
  ai->ai_protocol = socktype == SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP;
  ai->ai_addr = reinterpret_cast<sockaddr*>(sa);
  if (c.family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(sa);
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    std::memcpy(&in->sin_addr, c.bytes, 4);
    ai->ai_addrlen = sizeof(sockaddr_in);
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(sa);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    std::memcpy(&in6->sin6_addr, c.bytes, 16);
    ai->ai_addrlen = sizeof(sockaddr_in6);
  }
  if (canonical) {
    ai->ai_canonname = block + sizeof(addrinfo) + sizeof(sockaddr_in6);
    std::memcpy(ai->ai_canonname, canonical, name_size);
  }
  return ai;
}

}  // namespace

extern "C" NTM_EXTERN(void) ntm_freeaddrinfo(struct addrinfo *res) {
  while (res != nullptr) {
    addrinfo* next = res->ai_next;
    std::free(res);
    res = next;
  }
}

extern "C" NTM_EXTERN(int) ntm_getaddrinfo(const char *node, const char *service,
                                           const struct addrinfo *hints, struct addrinfo **res) {
  if (res == nullptr) return EAI_FAIL;
  *res = nullptr;
  if (node == nullptr && service == nullptr) return EAI_NONAME;
  const int family = hints ? hints->ai_family : AF_UNSPEC;
  const int flags = hints ? hints->ai_flags : 0;
  const int socktype = hints ? hints->ai_socktype : 0;
  if (family != AF_UNSPEC && family != AF_INET && family != AF_INET6) return EAI_FAMILY;
  if (socktype != 0 && socktype != SOCK_STREAM && socktype != SOCK_DGRAM) return EAI_SOCKTYPE;

  uint16_t port = 0;
  if (service != nullptr && *service != '\0') {
    unsigned value = 0;
    const char* end = service + std::strlen(service);
    auto [ptr, ec] = std::from_chars(service, end, value);
    if (ec != std::errc() || ptr != end || value > 65535) return EAI_SERVICE;
    port = static_cast<uint16_t>(value);
  }

  std::vector<Candidate> candidates;
  Candidate c{};
  if (node == nullptr) {
    // No node: the wildcard (AI_PASSIVE) or loopback-less "any" address of the virtual stack.
    if (family != AF_INET6) candidates.push_back({AF_INET, {}});
    if (family != AF_INET) candidates.push_back({AF_INET6, {}});
  } else if (inet_pton(AF_INET, node, c.bytes) == 1) {
    if (family == AF_INET6) return EAI_ADDRFAMILY;
    c.family = AF_INET;
    candidates.push_back(c);
  } else if (inet_pton(AF_INET6, node, c.bytes) == 1) {
    if (family == AF_INET) return EAI_ADDRFAMILY;
    c.family = AF_INET6;
    candidates.push_back(c);
  } else {
    if (flags & AI_NUMERICHOST) return EAI_NONAME;
    auto& rt = capi::runtime();
    std::optional<node::Resolved> resolved;
    {
      std::lock_guard lock(rt.mutex);
      if (!rt.node) return EAI_AGAIN;  // names need a running node
      resolved = rt.node->resolve(node);
    }
    if (!resolved) return EAI_NONAME;
    if (resolved->vip4 && family != AF_INET6) {
      Candidate v4{AF_INET, {}};
      std::memcpy(v4.bytes, resolved->vip4->data(), 4);
      candidates.push_back(v4);
    }
    if (resolved->vip6 && family != AF_INET) {
      Candidate v6{AF_INET6, {}};
      std::memcpy(v6.bytes, resolved->vip6->data(), 16);
      candidates.push_back(v6);
    }
    if (candidates.empty()) return EAI_ADDRFAMILY;
  }

  const int types[] = {SOCK_STREAM, SOCK_DGRAM};
  addrinfo* head = nullptr;
  addrinfo** tail = &head;
  bool first = true;
  for (const auto& candidate : candidates) {
    for (int type : types) {
      if (socktype != 0 && socktype != type) continue;
      const char* canonical = (first && (flags & AI_CANONNAME) && node) ? node : nullptr;
      addrinfo* entry = make_entry(candidate, port, type, canonical);
      if (entry == nullptr) {
        ntm_freeaddrinfo(head);
        return EAI_MEMORY;
      }
      first = false;
      *tail = entry;
      tail = &entry->ai_next;
    }
  }
  *res = head;
  return 0;
}
