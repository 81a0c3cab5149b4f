// The fixed keys and identities the fuzz targets and the seed generator (make_corpus.cc) share:
// seeds sealed or MACed with them let mutations get past the first cryptographic check.
#pragma once

#include <array>
#include <cstdint>

namespace ntm::fuzz {

inline constexpr uint64_t kNodeId = 0x0102030405060708;
inline constexpr std::array<uint8_t, 32> kSessionKey{0x11, 0x22, 0x33};  // the DC session key
inline constexpr std::array<uint8_t, 32> kTicketKey{0x44, 0x55, 0x66};   // the AS-DC ticket key
inline constexpr std::array<uint8_t, 32> kDcRsKey{0x5a};                 // relay tokens
inline constexpr uint64_t kNowUnix = 1'800'000'000;

}  // namespace ntm::fuzz
