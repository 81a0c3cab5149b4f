// ntm-test-node: the host's address and default-route changes as NETLINK lines, for the
// mobile-transfer scenario (test_node_mobile.cc): the moment a driver configured a new address,
// seen from the node's own host.
#include "test_node.h"

#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <thread>

namespace ntm_test {

// Watches the node host's addresses and default routes on its own netlink socket (not the
// library's) and prints "NETLINK t=... kt=... ev=newaddr|deladdr|newroute|delroute ..." lines:
// t = when this thread read the message, kt = the kernel's receive timestamp of it (converted
// to CLOCK_MONOTONIC; 0 if the kernel gave none). A driver uses the new default route as "the
// moment the new address was configured", observed on the node's own host.
void watch_netlink() {
  int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) {
    emit("NETLINK ev=error errno=%s", errno_name(errno));
    return;
  }
  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;
  sa.nl_groups = RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE;
  if (::bind(fd, reinterpret_cast<sockaddr *>(&sa), sizeof sa) != 0) {
    emit("NETLINK ev=error errno=%s", errno_name(errno));
    ::close(fd);
    return;
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
  std::thread([fd] {
    alignas(nlmsghdr) char buf[32768];
    alignas(cmsghdr) char control[256];
    for (;;) {
      iovec iov{buf, sizeof buf};
      msghdr msg{};
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control;
      msg.msg_controllen = sizeof control;
      ssize_t n = ::recvmsg(fd, &msg, 0);
      double t = mono_now();
      if (n < 0 && (errno == EINTR || errno == ENOBUFS)) continue;
      if (n <= 0) return;
      double kt = 0;
      for (cmsghdr *c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
          timespec ts{};
          std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
          timespec real{};
          clock_gettime(CLOCK_REALTIME, &real);
          double now_mono = mono_now();
          double age = (static_cast<double>(real.tv_sec) + real.tv_nsec * 1e-9) -
                       (static_cast<double>(ts.tv_sec) + ts.tv_nsec * 1e-9);
          kt = now_mono - age;
        }
      }
      int len = static_cast<int>(n);
      for (auto *h = reinterpret_cast<nlmsghdr *>(buf); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
        const char *ev = nullptr;
        char text[INET6_ADDRSTRLEN] = "-";
        int family = 0;
        int prefix = 0;
        int ifindex = 0;
        if (h->nlmsg_type == RTM_NEWADDR || h->nlmsg_type == RTM_DELADDR) {
          auto *ifa = static_cast<ifaddrmsg *>(NLMSG_DATA(h));
          ev = h->nlmsg_type == RTM_NEWADDR ? "newaddr" : "deladdr";
          family = ifa->ifa_family;
          prefix = ifa->ifa_prefixlen;
          ifindex = static_cast<int>(ifa->ifa_index);
          int alen = static_cast<int>(IFA_PAYLOAD(h));
          for (auto *a = IFA_RTA(ifa); RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
            if (a->rta_type == IFA_ADDRESS || a->rta_type == IFA_LOCAL) {
              inet_ntop(family, RTA_DATA(a), text, sizeof text);
            }
          }
        } else if (h->nlmsg_type == RTM_NEWROUTE || h->nlmsg_type == RTM_DELROUTE) {
          auto *rt = static_cast<rtmsg *>(NLMSG_DATA(h));
          if (rt->rtm_table != RT_TABLE_MAIN || rt->rtm_dst_len != 0) continue;  // defaults only
          ev = h->nlmsg_type == RTM_NEWROUTE ? "newroute" : "delroute";
          family = rt->rtm_family;
          int alen = static_cast<int>(RTM_PAYLOAD(h));
          for (auto *a = RTM_RTA(rt); RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
            if (a->rta_type == RTA_GATEWAY) inet_ntop(family, RTA_DATA(a), text, sizeof text);
            if (a->rta_type == RTA_OIF) std::memcpy(&ifindex, RTA_DATA(a), sizeof ifindex);
          }
        } else {
          continue;
        }
        emit("NETLINK t=%.6f kt=%.6f ev=%s family=%d addr=%s prefix=%d ifindex=%d", t, kt, ev,
             family == AF_INET6 ? 6 : 4, text, prefix, ifindex);
      }
    }
  }).detach();
}

}  // namespace ntm_test
