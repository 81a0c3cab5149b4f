"""The scenarios the examples' tests run, in either mode (static peers or control plane): a chat
server with two scripted clients, and a file transfer followed by a refused "../x" upload."""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
from pathlib import Path
from typing import Optional

from launch import Launcher, Node
from processes import Proc, ProcessGroup

CHAT_PORT, FILE_PORT = 7100, 7200
READY_TIMEOUT = 60.0  # a JVM start plus a control-plane login on two busy cores
RUN_TIMEOUT = 120.0  # a client's whole run (it bounds itself with --timeout 60)
FILE_SIZE = 3 * 1024 * 1024


def tunnel_line_pattern(peer: Node, endpoint: Optional[str]) -> str:
    """The --show-tunnels line for ``peer`` (its addresses and endpoint when known)."""
    vip4 = re.escape(peer.vip4) if peer.vip4 else r"\S+"
    vip6 = re.escape(peer.vip6) if peer.vip6 else r"\S+"
    where = re.escape(endpoint) if endpoint else r"127\.0\.0\.1:\d+"
    path = "direct" if endpoint else "(?:direct|relay)"
    return (rf"^tunnel {re.escape(peer.fqdn)} vip4={vip4} vip6={vip6} path={path} endpoint={where} "
            r"sent=(\d+) received=(\d+)$")


def chat(procs: ProcessGroup, launcher: Launcher, server_lang: str, client_langs: tuple[str, str],
         srv: Node, alice: Node, carol: Node, srv_endpoint: Optional[str] = None) -> None:
    """A chat server in server_lang; alice (first client language, IPv4, --show-tunnels) and
    carol (second, IPv6) each say a line and wait for the other's, then quit."""
    server = procs.start(f"{server_lang} chat server",
                         launcher.command(server_lang, "chat_server", srv.options + ["--port", str(CHAT_PORT)]))
    server.wait_for_line(rf"^chat server {re.escape(srv.fqdn)} listening on port {CHAT_PORT} \(vip4 ", READY_TIMEOUT)

    said = {"alice": f"hello from alice in {client_langs[0]}", "carol": f"hi from carol in {client_langs[1]} (ü)"}
    clients = {}
    for (nick, node, other), lang, extra in zip(
        (("alice", alice, "carol"), ("carol", carol, "alice")), client_langs, (["--show-tunnels"], ["-6"])
    ):
        args = node.options + ["--connect", f"{srv.fqdn}:{CHAT_PORT}", "--nick", nick, "--say", said[nick],
                               "--wait-for", f"{other}: {said[other]}", "--timeout", "60", *extra]
        clients[nick] = procs.start(f"{lang} chat client {nick}", launcher.command(lang, "chat_client", args))

    for nick, other in (("alice", "carol"), ("carol", "alice")):
        client = clients[nick]
        assert client.finish(RUN_TIMEOUT) == 0, procs.describe()
        lines = [line for line in client.stdout if not line.startswith("tunnel ")]
        assert lines[0] == f"WELCOME {nick}", client.describe()
        assert f"{other}: {said[other]}" in lines, client.describe()
        assert lines[-1] == "BYE", client.describe()
        assert not any(line.startswith(f"{nick}: ") for line in lines), "own lines are not echoed back"

    tunnel = [re.match(tunnel_line_pattern(srv, srv_endpoint), line) for line in clients["alice"].stdout]
    found = [m for m in tunnel if m is not None]
    assert found, f"no tunnel line for {srv.fqdn}\n{clients['alice'].describe()}"
    assert int(found[0].group(1)) > 0 and int(found[0].group(2)) > 0, clients["alice"].describe()

    for line in ("* alice joined", "* carol joined", f"alice: {said['alice']}", f"carol: {said['carol']}",
                 "* alice left", "* carol left"):
        server.wait_for_line(rf"^{re.escape(line)}$", 10)
    assert server.stop() == 0, server.describe()


def file_transfer(procs: ProcessGroup, launcher: Launcher, receiver_lang: str, sender_lang: str, ipv6: bool,
                  receiver_node: Node, sender_node: Node, workdir: Path) -> None:
    """A receiver in receiver_lang stores a 3 MiB random file from a sender in sender_lang
    (bytes and SHA-256 checked); then an upload named "../x" is refused and writes nothing."""
    inbox = workdir / "inbox"
    inbox.mkdir()
    payload = os.urandom(FILE_SIZE)
    source = workdir / "payload.bin"
    source.write_bytes(payload)
    digest = hashlib.sha256(payload).hexdigest()

    receiver = procs.start(f"{receiver_lang} file receiver",
                           launcher.command(receiver_lang, "file_receiver",
                                            receiver_node.options + ["--dir", str(inbox), "--port", str(FILE_PORT)]))
    receiver.wait_for_line(rf"listening on port {FILE_PORT}\b", READY_TIMEOUT)

    def send(name: str) -> Proc:
        args = sender_node.options + ["--connect", f"{receiver_node.fqdn}:{FILE_PORT}", *(["-6"] if ipv6 else []),
                                      str(source), "--as", name]
        return procs.start(f"{sender_lang} file sender ({name})", launcher.command(sender_lang, "file_sender", args))

    name = f"from {sender_lang}.bin"
    sender = send(name)
    assert sender.finish(RUN_TIMEOUT) == 0, procs.describe()
    summary = rf"^sent {re.escape(name)} {FILE_SIZE} bytes in [\d.]+s \([\d.]+ MB/s\), sha256 {digest} verified by the receiver$"
    assert any(re.match(summary, line) for line in sender.stdout), sender.describe()
    assert (inbox / name).read_bytes() == payload

    found = receiver.wait_for_line(
        rf"^received {re.escape(name)} {FILE_SIZE} bytes sha256={digest} from (\S+) in [\d.]+s$", 10)
    sender_address = sender_node.vip6 if ipv6 else sender_node.vip4
    if sender_address:  # static-peer mode: the sender's virtual address is known
        assert ipaddress.ip_address(found.group(1)) == ipaddress.ip_address(sender_address), receiver.describe()

    refused = send("../x")
    assert refused.finish(RUN_TIMEOUT) == 1, refused.describe()
    assert refused.stderr, f"a refusal is explained on stderr\n{refused.describe()}"
    assert not (workdir / "x").exists() and not (workdir / "x.part").exists()
    assert sorted(os.listdir(inbox)) == [name], f"{os.listdir(inbox)}\n{receiver.describe()}"
    assert sorted(os.listdir(workdir)) == ["inbox", "payload.bin"]
    assert receiver.stop() == 0, receiver.describe()
