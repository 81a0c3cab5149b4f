"""The binding covers ntm.h: every function, enum value and struct field of the header has its
Python counterpart (nothing is copied by hand without this check catching the drift)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

import ntmobile
from ntmobile import _errors, _ntm

HEADER = Path(__file__).resolve().parents[3] / "c-api" / "include" / "ntm.h"

# C functions the package uses inside other calls rather than exposing one to one.
USED_INSIDE = {
    "ntm_last_error": "read into each NTMError's message",
    "ntm_options_init": "called by start()",
    "ntm_static_peer_init": "called by start()",
    "ntm_tunnels_free": "called by tunnels()",
    "ntm_freeaddrinfo": "called by getaddrinfo()",
}
RENAMED = {
    "ntm_get_node_info": "node_info",
    "ntm_tunnels_snapshot": "tunnels",
    "ntm_get_stats": "stats",
}


@pytest.fixture(scope="module")
def header() -> str:
    if not HEADER.is_file():
        pytest.skip(f"{HEADER} not found (tests run from the repository)")
    return HEADER.read_text()


def enum_values(header: str, prefix: str) -> dict[str, int]:
    return {m[0]: int(m[1]) for m in re.findall(rf"\b{prefix}([A-Z0-9_]+)\s*=\s*(-?\d+)", header)}


def struct_fields(header: str, name: str) -> set[str]:
    body = re.search(rf"typedef struct {name} \{{(.*?)\}} {name};", header, re.S)
    assert body, name
    text = re.sub(r"/\*.*?\*/", "", body.group(1), flags=re.S)
    return set(re.findall(r"(\w+)(?:\[[^\]]*\])?;", text))


def test_every_function_is_wrapped(header):
    functions = re.findall(r"NTM_EXTERN\([^)]*\)\s*(ntm_\w+)\(", header)
    assert len(functions) > 30
    missing = []
    for fn in functions:
        if fn in USED_INSIDE:
            continue
        name = RENAMED.get(fn, fn[len("ntm_"):])
        if not callable(getattr(_ntm, name, None)):
            missing.append(fn)
    assert not missing, f"ntm.h functions without a binding: {missing}"


@pytest.mark.parametrize(
    "prefix, enum",
    [
        ("NTM_EVENT_", ntmobile.EventType),
        ("NTM_PATH_", ntmobile.PathKind),
        ("NTM_TUNNEL_", ntmobile.TunnelState),
        ("NTM_CIPHER_", ntmobile.Cipher),
        ("NTM_LOG_", ntmobile.LogLevel),
    ],
)
def test_every_enum_value_has_a_member(header, prefix, enum):
    values = enum_values(header, prefix)
    assert values
    assert {name: member.value for name, member in enum.__members__.items()} == values


def test_every_error_code_has_an_exception(header):
    codes = enum_values(header, "NTM_")
    errors = {name: value for name, value in codes.items() if value < 0 or name == "OK"}
    for name, value in errors.items():
        assert getattr(_errors, name) == value, name
        if value < 0:
            error = _errors.error_for(value, "message")
            assert isinstance(error, ntmobile.NTMError) and error.code == value
    generic = {"ERROR", "ENOMEM", "EBUFS"}  # reported as plain NTMError
    for name, value in errors.items():
        if value < 0 and name not in generic:
            assert type(_errors.error_for(value, "")) is not ntmobile.NTMError, name


def fields(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def test_struct_fields_have_python_fields(header):
    options = struct_fields(header, "ntm_options") - {"version", "peer_count", "event_cb", "event_user_data"}
    assert options - {"event_cb"} <= fields(ntmobile.Node), options - fields(ntmobile.Node)
    assert "on_event" in fields(ntmobile.Node)
    assert struct_fields(header, "ntm_static_peer") - {"version"} == fields(ntmobile.Peer)
    assert struct_fields(header, "ntm_node_info") - {"version"} == fields(ntmobile.NodeInfo)
    assert struct_fields(header, "ntm_tunnel_info") == fields(ntmobile.TunnelInfo)
    assert struct_fields(header, "ntm_stats") - {"version"} == fields(ntmobile.Stats)
    event = struct_fields(header, "ntm_event")
    assert event == fields(ntmobile.Event), event ^ fields(ntmobile.Event)
