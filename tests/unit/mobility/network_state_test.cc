#include <catch2/catch.hpp>

#include "mobility/network_state.h"

using namespace ntm::mobility;

TEST_CASE("network state finds the IPv4 default routes in /proc/net/route text", "[mobility]") {
  const char* text =
      "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
      "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
      "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
      "wlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0\n"
      "down0\t00000000\t0101A8C0\t0000\t0\t0\t0\t00000000\t0\t0\t0\n";
  CHECK(parse_default_routes_v4(text) ==
        std::vector<std::string>{"v4 eth0 via 192.0.2.1 metric 0",
                                 "v4 wlan0 via 192.168.1.1 metric 1536"});
}

TEST_CASE("network state finds the IPv6 default routes and skips the kernel's reject entries",
          "[mobility]") {
  const char* text =
      "fd000000000000000000000000000000 40 00000000000000000000000000000000 00 "
      "00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n"
      "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
      "20010db8000000000000000000000001 00000400 00000002 00000000 00000003     eth0\n"
      "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
      "00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n";
  CHECK(parse_default_routes_v6(text) ==
        std::vector<std::string>{"v6 eth0 via 2001:db8::1 metric 1024"});
}

TEST_CASE("network state leaves out tentative IPv6 addresses and failed duplicates",
          "[mobility]") {
  const char* text =
      "20010db8000000000000000000000011 0b 40 00 80     up0\n"   // permanent: usable
      "20010db8000000000000000000000012 0b 40 00 c0     up0\n"   // tentative (DAD running)
      "20010db8000000000000000000000013 0c 40 00 08    wlan0\n"  // DAD failed
      "20010db8000000000000000000000014 0c 40 00 04    wlan0\n"  // optimistic: usable
      "fe800000000000000000000000000001 0b 40 20 c0     up0\n";  // tentative link-local
  CHECK(parse_unusable_v6(text) == std::vector<std::string>{"up0=[2001:db8::12]",
                                                            "up0=[fe80::1]",
                                                            "wlan0=[2001:db8::13]"});
}

TEST_CASE("IPv6 sources are pending while every global address is tentative", "[mobility]") {
  const char* tentative = "20010db8000000000000000000000012 0b 40 00 c0 up0\n"
                          "fe800000000000000000000000000001 0b 40 20 80 up0\n";
  CHECK(parse_ipv6_source_pending(tentative));
  const char* one_usable = "20010db8000000000000000000000012 0b 40 00 c0 up0\n"
                           "20010db8000000000000000000000013 0c 40 00 80 wlan0\n";
  CHECK_FALSE(parse_ipv6_source_pending(one_usable));
  CHECK_FALSE(parse_ipv6_source_pending(""));  // no IPv6 at all: nothing to wait for
  const char* failed = "20010db8000000000000000000000012 0b 40 00 08 up0\n";
  CHECK_FALSE(parse_ipv6_source_pending(failed));
}

TEST_CASE("network states compare equal unless addresses or default routes differ, and the "
          "difference is described",
          "[mobility]") {
  NetworkState a{{"eth0=10.0.0.2"}, {"v4 eth0 via 10.0.0.1 metric 0"}};
  NetworkState b = a;
  CHECK(a == b);
  b.addresses = {"eth0=10.0.1.2"};
  CHECK_FALSE(a == b);
  CHECK(describe_change(a, b) == "addresses +eth0=10.0.1.2 -eth0=10.0.0.2");
  b = a;
  b.default_routes.clear();
  CHECK(describe_change(a, b) == "default routes -v4 eth0 via 10.0.0.1 metric 0");
  CHECK(describe_change(a, a) == "no change");
}

TEST_CASE("a host whose IPv4 addresses are all private or shared is behind a NAT", "[mobility]") {
  CHECK(behind_ipv4_nat(NetworkState{{"eth0=10.1.1.10"}, {}}));
  CHECK(behind_ipv4_nat(NetworkState{{"eth0=172.20.0.5", "wlan0=192.168.1.7"}, {}}));
  CHECK(behind_ipv4_nat(NetworkState{{"rmnet0=100.72.3.4", "rmnet0=2001:db8::5"}, {}}));
  CHECK_FALSE(behind_ipv4_nat(NetworkState{{"eth0=10.1.1.10", "eth1=198.18.0.12"}, {}}));
  CHECK_FALSE(behind_ipv4_nat(NetworkState{{"eth0=172.32.0.1"}, {}}));   // just past 172.16/12
  CHECK_FALSE(behind_ipv4_nat(NetworkState{{"eth0=100.128.0.1"}, {}}));  // just past 100.64/10
  CHECK_FALSE(behind_ipv4_nat(NetworkState{{"eth0=2001:db8::5"}, {}}));  // no IPv4 at all
  CHECK_FALSE(behind_ipv4_nat(NetworkState{}));
}
