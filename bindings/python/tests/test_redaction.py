"""String forms never show secrets: repr/str of Node, KeyPair and a Node's options redact the
private key and the password (issue 13), whatever else they show."""

from __future__ import annotations

import ntmobile


def test_node_repr_redacts_the_private_key_and_the_password():
    keys = ntmobile.generate_keypair()
    node = ntmobile.Node(
        server="127.0.0.1:7800",
        server_certificate="/etc/ntm/as.pem",
        account="alice",
        password="correct horse battery staple",
        private_key=keys.private_key,
    )
    for text in (repr(node), str(node), f"{node!r}", "%s" % (node,)):
        assert keys.private_key not in text
        assert "correct horse battery staple" not in text
        assert "<redacted>" in text
        assert "alice" in text and "127.0.0.1:7800" in text  # the rest is still useful


def test_node_repr_shows_unset_secrets_as_none():
    node = ntmobile.Node(name="bob.example", virtual_ipv4="100.64.0.2")
    assert "password=None" in repr(node) and "private_key=None" in repr(node)


def test_keypair_repr_redacts_the_private_key_but_keeps_the_public_one():
    keys = ntmobile.generate_keypair()
    for text in (repr(keys), str(keys), repr([keys])):
        assert keys.private_key not in text
        assert keys.public_key in text
    assert keys.private_key == keys[0]  # the value itself is still there
