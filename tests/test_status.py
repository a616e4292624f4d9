"""`python -m common.status` without ZooKeeper: host forms, changes, rendering, bad input."""

import subprocess
import sys

import pytest

from common.observer import Candidate
from common.settings import Settings
from common.status import Role, Server, Status, _split_host_port, changes, render, to_json
from testbed.processes import REPO_ROOT


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("zoo1:2181", ("zoo1", 2181)),
        (" zoo3 ", ("zoo3", 2181)),
        ("127.0.0.1:2182", ("127.0.0.1", 2182)),
        ("[::1]:2183", ("::1", 2183)),
        ("[::1]", ("::1", 2181)),
    ],
)
def test_status_splits_every_host_form(entry, expected):
    Settings.from_env({"ZK_HOSTS": entry})  # a form the worker accepts too
    assert _split_host_port(entry) == expected


# --- pure logic: what changed, what is shown ---------------------------------------


def _c(seq: int, name: str, token: int) -> Candidate:
    return Candidate(f"/leader-election/n_{seq:010d}", seq, name, token, 0x100 + seq)


S1, S2 = _c(0, "service1", 0x100000003), _c(1, "service2", 0x100000005)


def test_changes_name_the_takeover_with_both_tokens():
    assert changes([S1, S2], [S2]) == [
        "leader service1 -> service2 (token 0x100000003 -> 0x100000005)"
    ]


def test_changes_name_joins_and_departures_of_candidates():
    s1_back = _c(2, "service1", 0x100000007)
    assert changes([S2], [S2, s1_back]) == ["service1 joined as n_0000000002"]
    assert changes([S2, s1_back], [S2]) == ["service1 left (n_0000000002)"]
    assert changes(None, [S1, S2]) == []  # the first view is no change
    assert changes([S1], []) == ["no leader: service1 left"]
    assert changes([], [S1]) == ["service1 leads, token 0x100000003"]


def test_render_marks_fresh_lines_without_colour_and_escapes_identities():
    hostile = _c(3, "\x1b[2Jevil\n" + "A" * 100_000, 0x100000009)
    status = Status("/leader-election", (S1, hostile), (Role(Server("zoo1:2181"), "leader"),))
    lines = render(status, fresh=frozenset({hostile.node}))
    assert lines[0] == "election /leader-election"
    assert lines[1].startswith("  leader     service1")
    assert lines[2].startswith(" >candidate  \\x1b[2Jevil\\nAAA")
    assert "\x1b" not in "".join(lines) and len(lines[2]) < 160
    assert lines[-1] == "  zoo1:2181  leader"


def test_render_in_colour_highlights_the_new_leader_only():
    status = Status("/leader-election", (S2,), connection="CONNECTED")
    (head, line) = render(status, fresh=frozenset({S2.node}), color=True)
    assert line.startswith("\x1b[1;7;32m") and line.endswith("\x1b[0m")
    assert head == "election /leader-election  (ZooKeeper CONNECTED)"


def test_json_has_stable_keys_and_cuts_identities():
    long = _c(4, "x" * 1000, 0x100000010)
    body = to_json(Status("/e", (long,), (Role(Server("zoo1:2181", "zoo1"), None, "down"),)))
    assert list(body) == [
        "time",
        "election",
        "connection",
        "leader",
        "candidates",
        "servers",
        "changes",
        "error",
    ]
    assert len(body["leader"]) == 64 and body["leader"].endswith("…")
    assert body["candidates"][0]["fencing_token"] == 0x100000010
    assert body["servers"] == [
        {"name": "zoo1", "address": "zoo1:2181", "mode": None, "error": "down"}
    ]


@pytest.mark.parametrize(
    ("args", "named"),
    [(["--nope"], "--nope"), (["--json", "extra"], "extra"), (["--watch=3"], "--watch")],
)
def test_status_bad_argument_is_one_line_and_exit_2(args, named):
    result = subprocess.run(
        [sys.executable, "-m", "common.status", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert named in line and "usage: python -m common.status" in line
    assert result.stdout == ""
