"""The demo's `--forward` part (ci/demo.sh --forward): unmodified programs on the virtual network
through `ntm`. ntm-server on loopback; bob runs Python's http.server (a plain program that knows
nothing of ntmobile) and `ntm up` exposing it as bob.demo:80; alice runs `ntm up` with a forward
and a SOCKS5 proxy; curl fetches bob's page through both, and `ntm status` prints alice's tunnel
table. Needs no root. Exits 0 when both fetches returned the page, 1 otherwise; every process is
stopped (by PID) and the temporary state removed, also on failure/Ctrl-C."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

from common import (ACCOUNTS, BUILD, DOMAIN, SERVER, WAIT_S, DemoError, Echo, NsProcess,
                    create_accounts, free_ports, heading, loopback_ports, remove_state, run_demo,
                    server_argv, temp_state, wait_server_ready)

NTM = BUILD / "cli" / "ntm"
PAGE = "Hello from bob's plain web server, over the ntmobile virtual network.\n"


def wait_for(predicate, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not predicate():
        if time.monotonic() > deadline:
            raise DemoError(f"{what}: not within {WAIT_S:.0f} s")
        time.sleep(0.05)


def main() -> int:
    for program in (SERVER, NTM):
        if not program.exists():
            print(f"demo: {program} not found (build first; NTM_BUILD_DIR={BUILD})", file=sys.stderr)
            return 1
    state = temp_state()
    procs: list[NsProcess] = []

    def body(echo: Echo) -> str:
        ports = loopback_ports()
        web_port, forward_port, socks_port = free_ports(3)
        heading(f"ntm-server on 127.0.0.1 (AS :{ports[0]}, DC :{ports[1]}, RS :{ports[2]})")
        create_accounts(state)
        server = NsProcess("ntm-server", server_argv(state, ["127.0.0.1"], ports))
        procs.append(server)
        wait_server_ready(server, listeners=1)

        www = os.path.join(state, "www")
        os.makedirs(www)
        with open(os.path.join(www, "index.html"), "w") as f:
            f.write(PAGE)
        heading(f"bob: python3 -m http.server on 127.0.0.1:{web_port} (a plain program)")
        procs.append(NsProcess("http.server", ["python3", "-m", "http.server", str(web_port),
                                               "--bind", "127.0.0.1", "--directory", www]))

        def web_listening() -> bool:
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", web_port)) == 0
        wait_for(web_listening, "http.server listening")

        def up(account: str, extra: list[str]) -> NsProcess:
            sock = os.path.join(state, f"{account}.sock")
            argv = [str(NTM), "up", "--server", f"127.0.0.1:{ports[0]}",
                    "--server-cert", os.path.join(state, "as-tls.pem"), "--account", account,
                    "--password", ACCOUNTS[account], "--listen", "127.0.0.1:0",
                    "--control-socket", sock, *extra]
            print("  $ ntm " + " ".join(a if " " not in a else repr(a) for a in argv[1:]
                                       ).replace(ACCOUNTS[account], "***"))
            p = NsProcess(f"ntm {account}", argv)
            procs.append(p)
            wait_for(lambda: os.path.exists(sock) or p.poll() is not None, f"ntm up ({account})")
            if p.poll() is not None:
                raise DemoError(f"ntm up ({account}) failed:\n" + p.output())
            return p

        heading(f"bob: ntm up, exposing the web server as bob.{DOMAIN}:80")
        up("bob", ["--expose", f"80 -> 127.0.0.1:{web_port}"])
        heading("alice: ntm up with a forward and a SOCKS5 proxy")
        up("alice", ["--forward", f"127.0.0.1:{forward_port} -> bob.{DOMAIN}:80",
                     "--socks5", f"127.0.0.1:{socks_port}"])

        def curl(title: str, args: list[str]) -> None:
            heading(title)
            print("  $ curl " + " ".join(args))
            r = subprocess.run(["curl", "-sS", "--max-time", "30", *args], capture_output=True,
                               text=True, timeout=60)
            if r.returncode != 0 or r.stdout != PAGE:
                raise DemoError(f"curl failed ({r.returncode}): {r.stderr.strip()} {r.stdout!r}")
            print("  " + r.stdout.strip())

        curl("alice: curl through the forward (a local port)",
             [f"http://127.0.0.1:{forward_port}/"])
        curl("alice: curl through SOCKS5, by name",
             ["--socks5-hostname", f"127.0.0.1:{socks_port}", f"http://bob.{DOMAIN}/"])
        heading("alice: ntm status")
        r = subprocess.run([str(NTM), "status", "--socket", os.path.join(state, "alice.sock")],
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0 or f"bob.{DOMAIN}" not in r.stdout:
            raise DemoError("ntm status failed: " + r.stderr)
        print(r.stdout.rstrip())
        return (f"done: curl (an unmodified program) reached bob.{DOMAIN}'s plain web server "
                "through ntm, over an encrypted tunnel")

    def cleanup() -> None:
        for p in reversed(procs):
            p.stop()
        remove_state(state)

    return run_demo(body, cleanup, "stopped every process, removed the temporary state")


if __name__ == "__main__":
    sys.exit(main())
