# Namespace tests (tests/netns, run by ci/suites/netns.sh): nftables for the NAT and firewall
# namespaces, iptables and conntrack to inspect them by hand, ping for manual checks, ethtool
# for bench/wan.py (checksum offload off on the veths its user-space emulator forwards), and
# Debian's PostgreSQL server for test_fleet_failover.py (a throwaway cluster it starts itself;
# ci/deps.d/servers.sh installs it too). iproute2
# and python3 come from ci/deps.sh itself; pytest from ci/deps.d/python.sh.
# Sourced by ci/deps.sh, which defines ensure_packages and log.
ensure_packages nftables iptables conntrack iputils-ping ethtool postgresql
