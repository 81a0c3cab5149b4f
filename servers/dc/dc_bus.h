// The DCs of a fleet talking through their shared PostgreSQL database (docs/protocol.md 4.4):
// each DC writes where its nodes are registered (table dc_registrations: the DC's bus id and what
// a peer's Direction needs), looks up nodes it does not hold there, and sends the DC holding one
// a message with PostgreSQL's NOTIFY on that DC's channel (`ntm_dc_<id>`), which the DC reads
// with LISTEN. No DC-to-DC addresses to configure, nothing new to run: the database the fleet
// already shares carries it.
//
// Used by one thread (the DC's loop); receive() never blocks. Its own database connection.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "control/codec_util.h"
#include "store/address_store.h"
#include "util/endpoint.h"

namespace ntm::servers {

// A node as another DC needs it to direct a peer to it.
struct FleetRegistration {
  uint64_t node_id = 0;
  std::string fqdn;  // lower case
  std::string dc;    // the bus id of the DC holding it
  control::Bytes certificate;
  Endpoint observed;
  std::vector<Endpoint> private_endpoints;
  VirtualAddresses addresses;
  control::Key32 mac1_key{};  // the node's secret mac1 key, for the peers another DC directs
};

struct FleetMessage {
  std::string from;  // the sending DC's bus id
  std::string text;
};

class DcBus {
 public:
  virtual ~DcBus() = default;
  // This DC's id (random per start): messages to it go to channel ntm_dc_<id>.
  virtual const std::string& id() const = 0;
  // The node is registered here now (or its endpoints changed). Returns the id of the other DC
  // that held it before, if any (it should forget the node).
  virtual std::optional<std::string> publish(const FleetRegistration& r) = 0;
  // This DC forgot the node: its row goes, unless another DC holds the node by now.
  virtual void withdraw(uint64_t node_id) = 0;
  virtual std::optional<FleetRegistration> find_by_fqdn(const std::string& fqdn) = 0;
  virtual std::optional<FleetRegistration> find_by_node(uint64_t node_id) = 0;
  // A message to the DC `to` (at most ~7900 bytes).
  virtual void send(const std::string& to, const std::string& text) = 0;
  // The messages that arrived for this DC since the last call (none: empty).
  virtual std::vector<FleetMessage> receive() = 0;
};

// The bus over a PostgreSQL database (libpq URI). Throws sql::Error when it cannot connect.
// nullptr when this build has no PostgreSQL backend.
std::unique_ptr<DcBus> make_postgresql_bus(const std::string& url);

}  // namespace ntm::servers
