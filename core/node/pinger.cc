#include "node/pinger.h"

#include <arpa/inet.h>

#include <cstring>

#include "crypto/random.h"

namespace ntm::node {

namespace {
constexpr uint8_t kProtoIcmp = 1, kProtoIcmp6 = 58;
constexpr uint8_t kEchoRequest4 = 8, kEchoReply4 = 0, kEchoRequest6 = 128, kEchoReply6 = 129;
constexpr size_t kIp4Header = 20, kIp6Header = 40, kIcmpHeader = 8, kPayload = 16;
constexpr size_t kMaxOutstanding = 256;

void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v & 0xff);
}
uint16_t get16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
}  // namespace

std::optional<Endpoint> parse_numeric_address(std::string_view text) {
  const std::string s(text);
  Endpoint e;
  if (inet_pton(AF_INET, s.c_str(), e.address.data()) == 1) {
    e.family = Endpoint::Family::v4;
    return e;
  }
  if (inet_pton(AF_INET6, s.c_str(), e.address.data()) == 1) {
    e.family = Endpoint::Family::v6;
    return e;
  }
  return std::nullopt;
}

std::string address_text(const Endpoint& e) {
  char text[INET6_ADDRSTRLEN] = "";
  inet_ntop(e.is_v4() ? AF_INET : AF_INET6, e.address.data(), text, sizeof(text));
  return text;
}

uint16_t internet_checksum(std::span<const uint8_t> data, uint32_t sum) {
  size_t i = 0;
  for (; i + 1 < data.size(); i += 2) sum += static_cast<uint32_t>((data[i] << 8) | data[i + 1]);
  if (i < data.size()) sum += static_cast<uint32_t>(data[i] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum & 0xffff);
}

Pinger::Pinger() {
  std::array<uint8_t, 2> r{};
  crypto::random_bytes(r);
  identifier_ = static_cast<uint16_t>((r[0] << 8) | r[1]);
}

std::vector<uint8_t> Pinger::request(std::span<const uint8_t> source, std::span<const uint8_t> dest,
                                     uint16_t* sequence) {
  const bool v6 = source.size() == 16;
  const size_t header = v6 ? kIp6Header : kIp4Header;
  std::vector<uint8_t> p(header + kIcmpHeader + kPayload, 0);
  uint16_t seq;
  {
    std::lock_guard lock(mutex_);
    seq = next_sequence_++;
    if (outstanding_.size() >= kMaxOutstanding) outstanding_.erase(outstanding_.begin());
    outstanding_[seq] = Outstanding{Clock::now(), std::nullopt};
  }
  *sequence = seq;
  uint8_t* icmp = p.data() + header;
  const size_t icmp_len = kIcmpHeader + kPayload;
  icmp[0] = v6 ? kEchoRequest6 : kEchoRequest4;
  put16(icmp + 4, identifier_);
  put16(icmp + 6, seq);
  std::memcpy(icmp + kIcmpHeader, "ntmobile ping   ", kPayload);
  if (v6) {
    p[0] = 0x60;
    put16(p.data() + 4, static_cast<uint16_t>(icmp_len));
    p[6] = kProtoIcmp6;
    p[7] = 64;
    std::memcpy(p.data() + 8, source.data(), 16);
    std::memcpy(p.data() + 24, dest.data(), 16);
    // ICMPv6 checksum covers a pseudo-header: addresses, length, next header.
    uint32_t sum = 0;
    for (size_t i = 8; i < 40; i += 2) sum += static_cast<uint32_t>((p[i] << 8) | p[i + 1]);
    sum += static_cast<uint32_t>(icmp_len) + kProtoIcmp6;
    put16(icmp + 2, internet_checksum({icmp, icmp_len}, sum));
  } else {
    p[0] = 0x45;
    put16(p.data() + 2, static_cast<uint16_t>(p.size()));
    p[8] = 64;
    p[9] = kProtoIcmp;
    std::memcpy(p.data() + 12, source.data(), 4);
    std::memcpy(p.data() + 16, dest.data(), 4);
    put16(p.data() + 10, internet_checksum({p.data(), kIp4Header}));
    put16(icmp + 2, internet_checksum({icmp, icmp_len}));
  }
  return p;
}

bool Pinger::on_inner(std::span<const uint8_t> inner) {
  if (inner.empty()) return false;
  const uint8_t* icmp = nullptr;
  const int version = inner[0] >> 4;
  if (version == 4 && inner.size() >= kIp4Header + kIcmpHeader && inner[9] == kProtoIcmp) {
    const size_t ihl = static_cast<size_t>(inner[0] & 0x0f) * 4;
    if (ihl < kIp4Header || inner.size() < ihl + kIcmpHeader) return false;
    icmp = inner.data() + ihl;
    if (icmp[0] != kEchoReply4) return false;
  } else if (version == 6 && inner.size() >= kIp6Header + kIcmpHeader && inner[6] == kProtoIcmp6) {
    icmp = inner.data() + kIp6Header;
    if (icmp[0] != kEchoReply6) return false;
  } else {
    return false;
  }
  if (get16(icmp + 4) != identifier_) return false;
  const uint16_t seq = get16(icmp + 6);
  {
    std::lock_guard lock(mutex_);
    auto it = outstanding_.find(seq);
    if (it == outstanding_.end()) return true;  // ours, but late: drop it
    if (!it->second.answered) it->second.answered = Clock::now();
  }
  cond_.notify_all();
  return true;
}

std::optional<std::chrono::nanoseconds> Pinger::wait(uint16_t sequence,
                                                     std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  const auto deadline = Clock::now() + timeout;
  cond_.wait_until(lock, deadline, [&] {
    auto it = outstanding_.find(sequence);
    return it == outstanding_.end() || it->second.answered.has_value();
  });
  auto it = outstanding_.find(sequence);
  if (it == outstanding_.end()) return std::nullopt;
  std::optional<std::chrono::nanoseconds> rtt;
  if (it->second.answered) rtt = *it->second.answered - it->second.sent;
  outstanding_.erase(it);
  return rtt;
}

}  // namespace ntm::node
