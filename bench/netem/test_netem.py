"""Self-check of ntm-netem: it delays, drops, reorders and limits as told (on loopback).

Run: NTM_BUILD_DIR=build python3 -m pytest bench/netem/test_netem.py  (no root needed)

The emulator's random decisions follow --seed, so loss and reordering counts do not vary from
run to run; only timing does. Timing checks are one-sided where load can only make things
later (a datagram never leaves before its time, a bottleneck never goes faster than its rate)
and generous on the other side, so they hold on a busy 2-core machine.
"""
import os
import signal
import socket
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from netem import Emulator, binary, probe  # noqa: E402

BUILD = os.environ.get("NTM_BUILD_DIR", os.path.join(os.path.dirname(__file__), "../../build"))
LOOP = "127.0.0.1:0,127.0.0.1:0"
# Slack for lateness on a loaded machine (the emulator or the probe descheduled).
LATE_MS = 40.0


def direction(stats: dict, link: int = 0, name: str = "a2b") -> dict:
    return stats["links"][link][name]


def run(args, *probe_args, links=(LOOP,)):
    """Starts the emulator, runs one probe through link 0, returns (probe result, stats)."""
    with Emulator(BUILD, args, links) as emu:
        a, b = emu.sides[0]
        result = probe(BUILD, a, b, *probe_args)
    stats = emu.stats
    assert stats is not None, "the emulator printed no final stats"
    assert stats.get("udp_rcvbuf_errors", 0) == 0, "kernel dropped datagrams (socket buffers)"
    return result, stats


def test_forwards_everything_unimpaired_in_order():
    r, s = run([], "--count", "5000", "--pps", "20000")
    assert r["received"] == r["sent"] == 5000
    assert r["reordered"] == 0 and r["duplicates"] == 0
    d = direction(s)
    # The probe's set-up ping crosses too: one datagram more than the measured ones.
    assert d["received"] == d["forwarded"] == 5000 + 1


def test_delay_is_never_shorter_than_configured():
    r, _ = run(["--delay", "20"], "--count", "1000", "--pps", "2000")
    assert r["received"] == 1000
    delay = r["delay_us"]
    assert delay["min"] >= 20000, delay
    assert delay["p50"] <= 20000 + LATE_MS * 1000, delay


def test_delays_each_direction_as_told():
    # a2b: 5 ms, b2a: 30 ms. The probe's data goes a->b; reverse the link for b->a.
    args = ["--a2b-delay", "5", "--b2a-delay", "30"]
    with Emulator(BUILD, args, [LOOP]) as emu:
        a, b = emu.sides[0]
        forward = probe(BUILD, a, b, "--count", "300", "--pps", "1000")
    with Emulator(BUILD, args, [LOOP]) as emu:
        a, b = emu.sides[0]
        backward = probe(BUILD, b, a, "--count", "300", "--pps", "1000")
    assert 5000 <= forward["delay_us"]["min"] and forward["delay_us"]["p50"] < 30000
    assert backward["delay_us"]["min"] >= 30000


def test_jitter_spreads_the_delay_but_keeps_order():
    r, s = run(["--delay", "20", "--jitter", "5"], "--count", "2000", "--pps", "1000")
    delay = r["delay_us"]
    assert r["received"] == 2000
    assert delay["min"] >= 15000, delay
    assert delay["p90"] - delay["min"] >= 2000, f"no spread: {delay}"
    assert delay["p50"] <= 25000 + LATE_MS * 1000, delay
    assert r["reordered"] == 0 and direction(s)["held_back"] == 0


def test_random_loss_rate_and_counts_agree():
    r, s = run(["--loss", "5", "--seed", "7"], "--count", "20000", "--pps", "20000")
    d = direction(s)
    # 5 % of 20000 (+1 set-up ping) with binomial sigma 31: well inside +-5 sigma.
    assert 845 <= d["lost_random"] <= 1155, d
    assert r["lost"] == d["lost_random"], (r, d)
    assert d["lost_burst"] == 0
    assert r["mean_burst"] < 1.2, r  # independent losses rarely come in runs


def test_burst_loss_has_the_configured_rate_and_mean_length():
    r, s = run(["--loss", "2", "--loss-burst", "5", "--seed", "3"],
               "--count", "50000", "--pps", "25000")
    d = direction(s)
    assert r["lost"] == d["lost_burst"], (r, d)
    rate = r["lost"] / r["sent"]
    assert 0.012 <= rate <= 0.028, r
    assert 3.5 <= r["mean_burst"] <= 6.5, r
    assert r["longest_burst"] >= 10, r  # geometric lengths: some long bursts


def test_reordering_holds_back_the_configured_share():
    r, s = run(["--delay", "5", "--reorder", "5", "--reorder-gap", "20", "--seed", "11"],
               "--count", "4000", "--pps", "2000")
    d = direction(s)
    assert r["received"] == 4000
    assert 140 <= d["held_back"] <= 260, d  # 5 % of 4001
    # Each held-back datagram is overtaken by the ~40 sent in the next 20 ms. It goes
    # unnoticed only if nothing overtakes it: the last few, or a probe descheduled for 20 ms
    # right after sending it (a loaded machine).
    assert 0.75 * d["held_back"] <= r["reordered"] <= d["held_back"], (r, d)
    assert r["delay_us"]["min"] >= 5000


def test_rate_limit_paces_delivery():
    # 16.4 Mbit/s offered (1000-byte datagrams + 28 header bytes at 2000/s) into 10 Mbit/s with
    # room to queue it all: nothing dropped, delivered at the bottleneck rate.
    r, s = run(["--rate", "10", "--queue", "1m"], "--count", "2000", "--pps", "2000",
               "--size", "1000")
    d = direction(s)
    assert r["received"] == 2000 and d["dropped_queue"] == 0, (r, d)
    assert r["rx_bps"] <= 10.3e6, r           # never faster than the bottleneck
    assert r["rx_bps"] >= 7.0e6, r            # and not much slower, even on a busy machine
    assert d["max_queue_bytes"] > 300000, d   # the excess did queue


def test_queue_bound_drops_what_does_not_fit():
    r, s = run(["--rate", "10", "--queue", "50k"], "--count", "2000", "--pps", "2000",
               "--size", "1000")
    d = direction(s)
    assert d["max_queue_bytes"] <= 50 * 1024, d
    assert d["dropped_queue"] > 300, d        # ~40 % of the offered load does not fit
    assert r["lost"] == d["dropped_queue"], (r, d)
    assert r["rx_bps"] <= 10.3e6, r
    # Queueing delay is bounded by the queue: 50 KiB at 10 Mbit/s = 41 ms.
    assert r["delay_us"]["p50"] <= 41000 + LATE_MS * 1000, r


def test_ipv6_link():
    r, s = run(["--delay", "2"], "--count", "500", "--pps", "2000", links=("[::1]:0,[::1]:0",))
    assert r["received"] == 500 and r["delay_us"]["min"] >= 2000


def test_fixed_peers_forward_both_ways_and_oversize_is_counted():
    left = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    right = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with left, right:
        left.bind(("127.0.0.1", 0))
        right.bind(("127.0.0.1", 0))
        left.settimeout(5)
        right.settimeout(5)
        lp = "127.0.0.1:%d" % left.getsockname()[1]
        rp = "127.0.0.1:%d" % right.getsockname()[1]
        with Emulator(BUILD, ["--max-size", "1500"], [f"127.0.0.1:0,127.0.0.1:0,{lp},{rp}"]) as emu:
            a, b = emu.sides[0]
            a_port, b_port = int(a.rsplit(":", 1)[1]), int(b.rsplit(":", 1)[1])
            # Right answers before anyone sent to it: its peer side is fixed, not learned.
            right.sendto(b"from right", ("127.0.0.1", b_port))
            assert left.recvfrom(2048) == (b"from right", ("127.0.0.1", a_port))
            left.sendto(b"x" * 1501, ("127.0.0.1", a_port))   # too big: counted, dropped
            left.sendto(b"from left", ("127.0.0.1", a_port))
            assert right.recvfrom(2048) == (b"from left", ("127.0.0.1", b_port))
            live = emu.snapshot()
        d = direction(live)
        assert d["dropped_oversize"] == 1 and d["forwarded"] == 1, d
        assert live["links"][0]["b_peer"] == rp


def test_runs_for_the_given_duration_and_prints_stats():
    r = subprocess.run([binary(BUILD, "ntm-netem"), "--duration", "0.3", "--link", LOOP],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0].startswith("ready link=0 a=127.0.0.1:")
    assert r.stdout.splitlines()[-1].startswith("stats {")


@pytest.mark.parametrize("args, message", [
    (["--loss", "150", "--link", LOOP], "bad value '150' for --loss"),
    (["--delay", "abc", "--link", LOOP], "bad value 'abc' for --delay"),
    (["--link", "127.0.0.1"], "bad value '127.0.0.1' for --link"),
    (["--delay", "5"], "no --link given"),
    (["--frobnicate", "1", "--link", LOOP], "unknown option --frobnicate"),
    (["--link", "192.0.2.1:1,127.0.0.1:0"], "cannot bind 192.0.2.1:1"),
])
def test_bad_arguments_are_named(args, message):
    r = subprocess.run([binary(BUILD, "ntm-netem"), *args], capture_output=True, text=True,
                       timeout=10)
    assert r.returncode != 0
    assert message in r.stderr, r.stderr


def test_sigterm_ends_it_with_stats():
    with Emulator(BUILD, [], [LOOP]) as emu:
        emu.proc.send_signal(signal.SIGTERM)
        emu.proc.wait(timeout=5)
        assert emu.proc.returncode == 0
