#include "mobility/address_watcher.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

#include "util/log.h"

namespace ntm::mobility {

AddressWatcher::AddressWatcher(std::function<void()> on_change,
                               std::chrono::milliseconds poll_interval)
    : on_change_(std::move(on_change)),
      poll_interval_(poll_interval),
      last_(read_network_state()),
      wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  io::UniqueFd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE));
  if (fd) {
    sockaddr_nl local{};
    local.nl_family = AF_NETLINK;
    local.nl_groups = RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR | RTMGRP_IPV4_ROUTE |
                      RTMGRP_IPV6_ROUTE | RTMGRP_LINK;
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&local), sizeof(local)) == 0) {
      netlink_ = std::move(fd);
    }
  }
  if (netlink_) {
    thread_ = std::thread([this] { run_netlink(); });
  } else {
    NTM_LOG_INFO("netlink unavailable: checking addresses every %lld ms",
                 static_cast<long long>(poll_interval_.count()));
    thread_ = std::thread([this] { run_polling(); });
  }
}

AddressWatcher::~AddressWatcher() {
  running_.store(false);
  uint64_t one = 1;
  if (wake_) (void)!::write(wake_.get(), &one, sizeof(one));
  if (thread_.joinable()) thread_.join();
}

void AddressWatcher::run_netlink() {
  std::vector<char> buffer(16384);
  while (running_.load()) {
    pollfd fds[2] = {{netlink_.get(), POLLIN, 0}, {wake_.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) continue;
    if (fds[1].revents) break;
    bool changed = false;
    for (;;) {
      ssize_t n = ::recv(netlink_.get(), buffer.data(), buffer.size(), 0);
      if (n <= 0) break;  // drained (EAGAIN) or ENOBUFS: either way, report the change below
      for (auto* h = reinterpret_cast<nlmsghdr*>(buffer.data()); NLMSG_OK(h, static_cast<unsigned>(n));
           h = NLMSG_NEXT(h, n)) {
        switch (h->nlmsg_type) {
          case RTM_NEWADDR:
          case RTM_DELADDR:
          case RTM_NEWROUTE:
          case RTM_DELROUTE:
          case RTM_NEWLINK:
          case RTM_DELLINK:
            changed = true;
            break;
          default:
            break;
        }
      }
    }
    if (changed) check();
  }
}

void AddressWatcher::check() {
  // Netlink reports every interface, address and route in the namespace, most of them nothing
  // to do with us (another program's bridge, a neighbour's veth): only a change of the usable
  // addresses or default routes is a network change for the node.
  NetworkState now = read_network_state();
  if (now == last_) return;
  NTM_LOG_INFO("network change: %s", describe_change(last_, now).c_str());
  last_ = std::move(now);
  on_change_();
}

void AddressWatcher::run_polling() {
  while (running_.load()) {
    pollfd fd{wake_.get(), POLLIN, 0};
    if (::poll(&fd, 1, static_cast<int>(poll_interval_.count())) > 0) break;
    check();
  }
}

}  // namespace ntm::mobility
