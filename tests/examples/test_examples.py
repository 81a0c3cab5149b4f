"""The chat and file-transfer examples of C, Java, Python and Ruby, run as their READMEs show,
against each other on loopback: static-peer mode for every language in every role, plus a
control-plane scenario with ntm-server; and the C, Java and Ruby echo examples (Python's are
tested in bindings/python/tests)."""

from __future__ import annotations

import re

import pytest

from launch import LANGUAGES, StaticNetwork
from scenarios import READY_TIMEOUT, RUN_TIMEOUT, chat, file_transfer

# (server, first client, second client): each language serves once and is a client twice.
CHAT_ROTATION = [("c", "python", "ruby"), ("java", "c", "python"), ("python", "ruby", "java"), ("ruby", "java", "c")]
# (receiver, sender, over virtual IPv6): each language receives once and sends once.
FILE_ROTATION = [("c", "python", False), ("python", "ruby", True), ("ruby", "java", False), ("java", "c", True)]


@pytest.mark.parametrize("server_lang,client_a,client_b", CHAT_ROTATION,
                         ids=[f"{s}-server-{a}-{b}-clients" for s, a, b in CHAT_ROTATION])
def test_chat_server_relays_lines_between_clients_of_other_languages(procs, launcher, server_lang, client_a, client_b):
    net = StaticNetwork(["srv", "alice", "carol"], subnet=10 + LANGUAGES.index(server_lang))
    chat(procs, launcher, server_lang, (client_a, client_b), net["srv"], net["alice"], net["carol"],
         srv_endpoint=net.endpoints["srv"])


@pytest.mark.parametrize("receiver_lang,sender_lang,ipv6", FILE_ROTATION,
                         ids=[f"{r}-receiver-{s}-sender-ipv{6 if v6 else 4}" for r, s, v6 in FILE_ROTATION])
def test_file_transfer_stores_identical_bytes_and_refuses_a_path_name(procs, launcher, workdir, receiver_lang,
                                                                      sender_lang, ipv6):
    net = StaticNetwork(["recv", "dave"], subnet=20 + LANGUAGES.index(receiver_lang))
    file_transfer(procs, launcher, receiver_lang, sender_lang, ipv6, net["recv"], net["dave"], workdir)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_file_sender_exits_2_when_the_file_is_missing(procs, launcher, workdir, lang):
    net = StaticNetwork(["recv", "dave"], subnet=30)
    missing = workdir / "no-such-file.bin"
    sender = procs.start(f"{lang} file sender", launcher.command(
        lang, "file_sender", net["dave"].options + ["--connect", "recv.example:7200", str(missing)]))
    assert sender.finish(READY_TIMEOUT) == 2, sender.describe()
    assert "no-such-file.bin" in "\n".join(sender.stderr), sender.describe()


def test_chat_in_control_plane_mode_resolves_the_server_by_its_account_name(procs, launcher, control_plane):
    chat(procs, launcher, "c", ("java", "ruby"), control_plane["srv"], control_plane["alice"], control_plane["carol"])


def test_file_transfer_in_control_plane_mode(procs, launcher, workdir, control_plane):
    file_transfer(procs, launcher, "python", "ruby", False, control_plane["recv"], control_plane["dave"], workdir)


@pytest.mark.parametrize("server_lang,client_lang",
                         [("java", "ruby"), ("ruby", "java"), ("c", "java"), ("ruby", "c")])
def test_echo_examples_of_c_java_and_ruby(procs, launcher, server_lang, client_lang):
    net = StaticNetwork(["bob", "alice"], subnet=40)
    server = procs.start(f"{server_lang} echo server",
                         launcher.command(server_lang, "echo_server", net["bob"].options + ["--port", "7000"]))
    server.wait_for_line(r"^bob\.example (listening|echoing) on port 7000\b", READY_TIMEOUT)
    for extra, text in (([], "hello over virtual IPv4"), (["-6"], "hello over virtual IPv6")):
        client = procs.start(f"{client_lang} echo client", launcher.command(
            client_lang, "echo_client", net["alice"].options + ["--connect", "bob.example:7000", *extra, text]))
        assert client.finish(RUN_TIMEOUT) == 0, procs.describe()
        assert client.stdout == [text], client.describe()
    assert server.stop() == 0, server.describe()
    assert not re.search(r"Exception|Error", "\n".join(server.stderr)), server.describe()
