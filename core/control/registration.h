// Fresh registrations (docs/protocol.md section 4.1): the DC's RegisterChallenge and the
// per-registration key both sides derive from it.
//
// A Register is accepted only with a challenge the DC issued within the last 30 s to that node
// at that source address; the DC sends one (in the clear) in answer to a Register without a
// valid challenge, to any sealed message from a node it does not know (a restarted DC, an
// expired registration), and at start to the nodes it had before. Every later message of the
// registration is sealed with
//
//   registration key = HKDF-SHA256(salt = challenge, ikm = session key,
//                                  info = "ntmobile dc registration v1" | register counter u64)
//
// so each registration has its own key: a captured Register or any other captured message has
// no effect on a later registration (after expiry or a DC restart), and the DC's send counters
// never repeat under one key, whatever its clock does.
#pragma once

#include <span>

#include "control/codec_util.h"
#include "control/dc_messages.h"

namespace ntm::control {

// type=0x1f | flags u8 | reserved u16 | node_id u64 | challenge[32]; not authenticated (a forged
// one costs the node one Register that the DC answers with a real challenge).
struct RegisterChallenge {
  uint64_t node_id = 0;
  Challenge challenge{};
  friend bool operator==(const RegisterChallenge&, const RegisterChallenge&) = default;
};

Bytes encode(const RegisterChallenge& m);
// Strict whole datagram: empty -> truncated; wrong type -> unknown_type; short -> truncated;
// long -> oversized; flags or reserved != 0 -> bad_field.
Decoded<RegisterChallenge> decode_register_challenge(std::span<const uint8_t> datagram) noexcept;

// The key sealing every message of one registration (see above). Throws CryptoError.
Key32 registration_key(std::span<const uint8_t, kKeySize> session_key, const Challenge& challenge,
                       uint64_t register_counter);

// A node's secret mac1 key (docs/protocol.md 2.4), known to the node and to the DC (which opens
// the session key from the ticket) and handed by the DC only to the peers it directs to the node:
//
//   mac1 key = HKDF-SHA256(salt = "", ikm = session key, info = "ntmobile mac1 v1" | node_id u64)
//
// A new login (new session key) gives a new key. Throws CryptoError.
Key32 node_mac1_key(std::span<const uint8_t, kKeySize> session_key, uint64_t node_id);

inline bool is_zero(const Challenge& c) {
  for (uint8_t b : c)
    if (b != 0) return false;
  return true;
}

}  // namespace ntm::control
