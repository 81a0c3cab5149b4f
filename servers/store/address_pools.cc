#include <arpa/inet.h>

#include <charconv>
#include <cstring>

#include "store/address_store.h"

namespace ntm::servers {

namespace {

struct Cidr {
  std::string addr;
  unsigned len = 0;
};

Cidr split_cidr(std::string_view cidr, const char* what) {
  const auto slash = cidr.find('/');
  if (slash == std::string_view::npos)
    throw std::invalid_argument(std::string(what) + " pool '" + std::string(cidr) +
                                "' needs a prefix length (ADDRESS/LEN)");
  Cidr c;
  c.addr = std::string(cidr.substr(0, slash));
  const auto len = cidr.substr(slash + 1);
  auto [p, ec] = std::from_chars(len.data(), len.data() + len.size(), c.len);
  if (ec != std::errc() || p != len.data() + len.size() || len.empty())
    throw std::invalid_argument(std::string(what) + " pool '" + std::string(cidr) +
                                "': bad prefix length");
  return c;
}

// Zero host bits beyond `prefix` in a big-endian byte array?
bool host_bits_zero(const uint8_t* a, size_t size, unsigned prefix) {
  for (size_t bit = prefix; bit < size * 8; ++bit)
    if (a[bit / 8] & (0x80 >> (bit % 8))) return false;
  return true;
}

}  // namespace

void AddressPools::set_v4(std::string_view cidr) {
  auto c = split_cidr(cidr, "IPv4");
  control::Ipv4Address a{};
  if (inet_pton(AF_INET, c.addr.c_str(), a.data()) != 1)
    throw std::invalid_argument("IPv4 pool '" + std::string(cidr) + "': not an IPv4 address");
  if (c.len < 8 || c.len > 30)
    throw std::invalid_argument("IPv4 pool '" + std::string(cidr) + "': prefix must be 8..30");
  if (!host_bits_zero(a.data(), 4, c.len))
    throw std::invalid_argument("IPv4 pool '" + std::string(cidr) + "': host bits must be zero");
  v4_base = a;
  v4_prefix = c.len;
}

void AddressPools::set_v6(std::string_view cidr) {
  auto c = split_cidr(cidr, "IPv6");
  control::Ipv6Address a{};
  if (inet_pton(AF_INET6, c.addr.c_str(), a.data()) != 1)
    throw std::invalid_argument("IPv6 pool '" + std::string(cidr) + "': not an IPv6 address");
  if (c.len < 16 || c.len > 120)
    throw std::invalid_argument("IPv6 pool '" + std::string(cidr) + "': prefix must be 16..120");
  if (!host_bits_zero(a.data(), 16, c.len))
    throw std::invalid_argument("IPv6 pool '" + std::string(cidr) + "': host bits must be zero");
  v6_base = a;
  v6_prefix = c.len;
}

std::string AddressPools::v4_string() const {
  char buf[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, v4_base.data(), buf, sizeof(buf));
  return std::string(buf) + "/" + std::to_string(v4_prefix);
}

std::string AddressPools::v6_string() const {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, v6_base.data(), buf, sizeof(buf));
  return std::string(buf) + "/" + std::to_string(v6_prefix);
}

uint64_t AddressPools::capacity() const {
  // IPv4: hosts 2 .. 2^h - 2 (the last is the broadcast address). IPv6: 2 .. 2^h - 1, capped.
  const uint64_t v4 = (uint64_t{1} << (32 - v4_prefix)) - 3;
  const unsigned h6 = 128 - v6_prefix;
  const uint64_t v6 = h6 >= 63 ? (uint64_t{1} << 62) : (uint64_t{1} << h6) - 2;
  return v4 < v6 ? v4 : v6;
}

control::Ipv4Address AddressPools::v4_host(uint64_t n) const {
  uint32_t base = wire::load_be32(v4_base.data());
  control::Ipv4Address out{};
  wire::store_be32(out.data(), base + static_cast<uint32_t>(n));
  return out;
}

control::Ipv6Address AddressPools::v6_host(uint64_t n) const {
  control::Ipv6Address out = v6_base;
  // Add n to the low 64 bits (pools are at least /16 and n < 2^62: no carry past them matters,
  // and the prefix bits above the host part are untouched because n < 2^(128 - prefix)).
  uint64_t low = wire::load_be64(out.data() + 8);
  wire::store_be64(out.data() + 8, low + n);
  return out;
}

}  // namespace ntm::servers
