// TCP forward (a real local port to a peer's virtual port) and TCP expose (a virtual port served
// by a real local service).
#pragma once

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "listener.h"
#include "rules.h"
#include "service.h"

namespace ntm::cli {

class TcpForward final : public Service {
 public:
  TcpForward(const Rule& rule, ConnectionLimit& limit);

 private:
  std::vector<std::unique_ptr<RealListener>> listeners_;
};

class TcpExpose final : public Service {
 public:
  TcpExpose(const Rule& rule, ConnectionLimit& limit);
  ~TcpExpose() override;

 private:
  void accept_loop(int listen_fd);
  Rule rule_;
  ConnectionLimit& limit_;
  std::vector<SockAddr> targets_;
  std::vector<int> listen_fds_;
  std::vector<std::thread> threads_;
};

}  // namespace ntm::cli
