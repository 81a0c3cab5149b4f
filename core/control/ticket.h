// DC tickets (docs/protocol.md section 3): the AS seals the node's identity and DC session key
// for the DC, with the AS-DC ticket key. The node carries the ticket without being able to read
// it and presents it in Register.
//
//   ticket     nonce[12] | AES-256-GCM(ticket key, nonce, plaintext, aad = "ntm-ticket-v1")
//   plaintext  node_id u64 | fqdn str | static_public[32] | session_key[32] | expires_unix u64 |
//              certificate bytes
//
// The node's certificate rides in the ticket so the DC can hand it to peers in Direction
// without holding the AS signing key (and without trusting the node to send it).
#pragma once

#include <optional>
#include <span>

#include "control/codec_util.h"

namespace ntm::control {

struct Ticket {
  uint64_t node_id = 0;
  std::string fqdn;
  Key32 static_public{};
  Key32 session_key{};
  uint64_t expires_unix = 0;
  Bytes certificate;  // the encoded NodeCertificate the AS issued with this ticket

  friend bool operator==(const Ticket&, const Ticket&) = default;
};

// Seals with a fresh random nonce. Throws CryptoError / std::length_error.
Bytes seal_ticket(std::span<const uint8_t, kKeySize> ticket_key, const Ticket& ticket);
// nullopt when the bytes are not a ticket sealed with this key (or do not decode strictly).
// Does not check expiry (the caller compares expires_unix with its clock).
std::optional<Ticket> open_ticket(std::span<const uint8_t, kKeySize> ticket_key,
                                  std::span<const uint8_t> sealed);

// The plaintext codec (exposed for tests).
Bytes encode_ticket_plaintext(const Ticket& ticket);
Decoded<Ticket> decode_ticket_plaintext(std::span<const uint8_t> plaintext);

}  // namespace ntm::control
