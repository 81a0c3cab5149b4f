"""The demo on loopback (ci/demo.sh): ntm-server on 127.0.0.1 and ::1, three nodes in three
languages on this host. Needs no root. Exits 0 when the conversation happened, 1 otherwise; every
process it started is stopped (by PID) and the temporary state removed, also on failure/Ctrl-C."""
from __future__ import annotations

import sys

from common import (BUILD, SERVER, Echo, NsProcess, Programs, create_accounts, heading,
                    loopback_ports, remove_state, run_chat, run_demo, server_argv, temp_state,
                    wait_server_ready)


def main() -> int:
    if not SERVER.exists():
        print(f"demo: {SERVER} not found (build first; NTM_BUILD_DIR={BUILD})", file=sys.stderr)
        return 1
    state = temp_state()
    procs: list[NsProcess] = []

    def start(node: str, lang: str, label: str, argv: list[str]) -> NsProcess:
        p = NsProcess(label, argv, env=Programs.env())
        procs.append(p)
        return p

    def body(echo: Echo) -> str:
        ports = loopback_ports()
        heading(f"ntm-server (AS :{ports[0]} TLS, DC :{ports[1]}, RS :{ports[2]}) on 127.0.0.1 "
                f"and [::1]; SQLite state in {state}")
        create_accounts(state)
        server = NsProcess("ntm-server", server_argv(state, ["127.0.0.1", "[::1]"], ports))
        procs.append(server)
        wait_server_ready(server, listeners=2)
        print("  listening")
        programs = Programs.prepare(state)
        endpoint = f"127.0.0.1:{ports[0]}"
        # Loopback only: the nodes' tunnels use 127.0.0.1 and ::1, not the host's other addresses.
        run_chat(start, {n: endpoint for n in ("bob", "alice", "carol")}, state, programs, echo,
                 listen=["127.0.0.1:0", "[::1]:0"])
        return ("done: Java and Ruby talked to Python by name over virtual IPv4 and IPv6, "
                "through encrypted UDP tunnels on loopback")

    def cleanup() -> None:
        for p in reversed(procs):
            p.stop()
        remove_state(state)

    return run_demo(body, cleanup, "stopped every process, removed the temporary state")


if __name__ == "__main__":
    sys.exit(main())
