"""The demo across network namespaces (sudo bash ci/demo.sh --netns): tests/netns/topology.py
builds a small internet with ntm-server (dual stack) on it and three nodes:

    bob.demo    Python chat server, behind IPv4 NAT "home"
    alice.demo  Java chat client, behind another IPv4 NAT "cafe"   -> direct path (hole punching)
    carol.demo  Ruby chat client, on an IPv6-only network          -> relayed by the RS

The tunnel tables show one direct and one relayed tunnel at bob. Exits 0 when the conversation
happened; the namespaces and processes are removed also on failure or Ctrl-C."""
from __future__ import annotations

import os
import sys

from common import (AS_PORT, DC_PORT, RS_PORT, BUILD, SERVER, Echo, NsProcess, Programs,
                    create_accounts, heading, remove_state, run_chat, run_demo, server_argv,
                    temp_state, wait_server_ready)
from topology import SERVERS_IPV4, SERVERS_IPV6, Topology


def main() -> int:
    if os.geteuid() != 0:
        print("demo: --netns needs root (network namespaces)", file=sys.stderr)
        return 1
    if not SERVER.exists():
        print(f"demo: {SERVER} not found (build first; NTM_BUILD_DIR={BUILD})", file=sys.stderr)
        return 1
    state = temp_state()
    topo = Topology(prefix=f"ntmdemo{os.getpid()}")

    def body(echo: Echo) -> str:
        heading("building the namespace network")
        topo.build()
        nodes = {"bob": topo.add_node("bob", "nat4", nat=topo.add_nat("home")),
                 "alice": topo.add_node("alice", "nat4", nat=topo.add_nat("cafe")),
                 "carol": topo.add_node("carol", "v6only")}
        print("  " + topo.describe().replace("\n", "\n  "))

        heading(f"ntm-server in the servers namespace ({SERVERS_IPV4} and {SERVERS_IPV6}); "
                f"SQLite state in {state}")
        create_accounts(state)
        server = topo.run("servers", server_argv(state, [SERVERS_IPV4, f"[{SERVERS_IPV6}]"],
                                                 (AS_PORT, DC_PORT, RS_PORT)), label="ntm-server")
        wait_server_ready(server, listeners=2)
        print("  listening")
        programs = Programs.prepare(state)

        def start(node: str, lang: str, label: str, argv: list[str]) -> NsProcess:
            return topo.run(nodes[node], argv, label=label, env=Programs.env())

        as_endpoints = {name: (f"{SERVERS_IPV4}:{AS_PORT}" if node.ipv4
                               else f"[{SERVERS_IPV6}]:{AS_PORT}")
                        for name, node in nodes.items()}
        run_chat(start, as_endpoints, state, programs, echo)
        return ("done: Java (behind a NAT, direct) and Ruby (IPv6-only, through the relay) "
                "talked to Python (behind another NAT) by name")

    def cleanup() -> None:
        topo.cleanup()
        remove_state(state)

    return run_demo(body, cleanup,
                    "stopped every process, removed the namespaces and the temporary state")


if __name__ == "__main__":
    sys.exit(main())
