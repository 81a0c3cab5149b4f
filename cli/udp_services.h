// UDP forward (a real local port to a peer's virtual port) and UDP expose (a virtual port served
// by a real local service). UDP has no connections, so each distinct source address gets a
// session: its own socket on the other side (the peer sees one stable source per client, and
// replies find their way back). Sessions end after 60 s without traffic; at most 1024 per rule
// (the oldest idle one makes room).
#pragma once

#include <memory>
#include <thread>
#include <vector>

#include "rules.h"
#include "service.h"

namespace ntm::cli {

struct UdpForwardState;
struct UdpExposeState;

class UdpForward final : public Service {
 public:
  explicit UdpForward(const Rule& rule);
  ~UdpForward() override;

 private:
  std::vector<std::shared_ptr<UdpForwardState>> states_;
  std::vector<std::thread> threads_;
};

class UdpExpose final : public Service {
 public:
  explicit UdpExpose(const Rule& rule);
  ~UdpExpose() override;

 private:
  std::vector<std::shared_ptr<UdpExposeState>> states_;
  std::vector<std::thread> threads_;
};

}  // namespace ntm::cli
