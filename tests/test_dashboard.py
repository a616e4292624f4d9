"""The dashboard without ZooKeeper: the board's logic, and the process (HTTP, SSE, signals).

The board is pure logic, fed views and roles by hand. The process runs for real
(``python -m dashboard``) against a port where nothing listens: it must serve its page
and say what it cannot see, and leave with exit 0 on every SIGTERM or SIGINT, however
many and whenever they come.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from common.ledger import Refusal
from common.ledger import Unit as LedgerUnit
from common.ledger_view import LedgerView
from common.observer import Candidate, ElectionView
from common.roles import Role, Server
from dashboard.board import Board, Unit, quorum, silences_between
from dashboard.server import board_units
from testbed.ensemble import free_ports
from testbed.processes import REPO_ROOT, wait_until

SERVERS = [Server("zoo1:2181"), Server("zoo2:2181"), Server("zoo3:2181")]


def _c(seq: int, name: str, token: int) -> Candidate:
    return Candidate(f"/leader-election/n_{seq:010d}", seq, name, token, 0x100 + seq)


S1, S2 = _c(0, "service1", 0x100000003), _c(1, "service2", 0x100000005)


def _roles(*modes: str | None) -> tuple[Role, ...]:
    return tuple(
        Role(server, mode, None if mode else "unreachable")
        for server, mode in zip(SERVERS, modes, strict=True)
    )


def _board(at: float = 100.0) -> Board:
    board = Board("/leader-election", SERVERS, interval_s=1.0, started=at)
    board.take_roles(_roles("follower", "leader", "follower"), at)
    board.take_view(ElectionView("CONNECTED", (S1, S2)), at)
    return board


# --- the board -----------------------------------------------------------------------


def test_board_names_the_leader_with_its_token_and_the_candidates_in_order():
    page = _board().snapshot(101.0)
    assert page["leader"]["identity"] == "service1"
    assert page["leader"]["token"] == "0x100000003"
    assert [c["identity"] for c in page["candidates"]] == ["service1", "service2"]
    assert page["quorum"] == {"known": True, "serving": 3, "size": 3, "has": True}
    assert page["may_work"] is True
    assert [s["state"] for s in page["sessions"]] == ["open · leads", "open · waits, 2nd"]
    json.dumps(page)  # it goes to the browser as JSON


def test_board_takeover_closes_one_span_opens_the_next_and_says_so():
    board = _board()
    board.take_view(ElectionView("CONNECTED", (S2,)), 130.0)
    page = board.snapshot(131.0)
    spans = page["work"]["spans"]
    assert [(s["worker"], s["start"], s["end"]) for s in spans] == [
        ("service1", 100.0, 130.0),
        ("service2", 130.0, None),
    ]
    assert spans[0]["colour"] != spans[1]["colour"]
    assert page["changes"][0]["text"] == (
        "leader service1 -> service2 (token 0x100000003 -> 0x100000005)"
    )
    assert page["work"]["silences"] == []  # a handoff in ZooKeeper's view: no gap
    gone = [s for s in page["sessions"] if not s["live"]]
    assert [s["worker"] for s in gone] == ["service1"]


def test_board_quorum_loss_stops_the_strip_and_measures_the_silence():
    board = _board()
    # The page's own connection drops first, then the servers say why.
    board.take_view(ElectionView("SUSPENDED", (S1, S2)), 109.9)
    board.take_roles(_roles("follower", None, None), 110.0)
    page = board.snapshot(115.0)
    assert page["quorum"]["has"] is False and page["quorum"]["serving"] == 1
    assert page["may_work"] is False and page["why_not"] == "no quorum"
    assert page["leader"]["identity"] == "service1"  # as last seen; the page says so
    assert any(c["text"].startswith("NO QUORUM") for c in page["changes"])
    assert page["sessions"][0]["state"] == "frozen · leads"
    (open_silence,) = page["work"]["silences"]
    assert open_silence == {"start": 109.9, "end": None, "seconds": None, "reason": "no quorum"}

    board.take_roles(_roles("follower", "leader", None), 123.0)
    board.take_view(ElectionView("CONNECTED", (S1, S2)), 124.4)
    page = board.snapshot(126.0)
    (closed,) = page["work"]["silences"]
    assert closed["seconds"] == 14.5 and closed["reason"] == "no quorum"
    assert closed["start"] == 109.9
    assert page["work"]["spans"][-1]["end"] is None  # the same leader works on


def test_board_silence_shorter_than_one_and_a_half_ticks_is_none():
    assert silences_between([(0.0, 10.0), (11.2, None)], 0.0, 20.0, 1.5) == []
    assert silences_between([(0.0, 10.0), (12.0, 13.0)], 0.0, 20.0, 1.5) == [
        (10.0, 12.0),
        (13.0, None),
    ]


def test_board_without_a_connection_says_why_nobody_is_known_to_work():
    board = Board("/leader-election", SERVERS, started=100.0)
    page = board.snapshot(100.5)
    assert page["leader"] is None and page["quorum"]["has"] is None
    assert page["connection"] == "CONNECTING"
    board.take_view(ElectionView("CONNECTED", (S1,)), 101.0)
    board.take_view(ElectionView("SUSPENDED", (S1,)), 105.0)
    page = board.snapshot(106.0)
    assert page["may_work"] is False and "not connected" in page["why_not"]
    assert page["changes"][0]["text"] == "this page's ZooKeeper connection: SUSPENDED"


def test_board_ledger_units_replace_the_election_view_and_mark_refusals():
    board = _board()
    units = [
        Unit(1, 0x100000003, "service1", 0x100, 100.0),
        Unit(2, 0x100000003, "service1", 0x100, 101.0),
        Unit(3, 0x100000003, "service1", 0x100, 104.0, refused=True),
        Unit(4, 0x100000005, "service2", 0x101, 105.0),
    ]
    board.take_units(units, 105.5)
    work = board.snapshot(105.5)["work"]
    assert work["source"] == "ledger"
    assert [u["refused"] for u in work["units"]] == [False, False, True, False]
    assert [(s["start"], s["end"]) for s in work["silences"]] == [(101.0, 105.0)]


def test_the_ledgers_units_and_refusals_become_the_strips_marks_by_time():
    view = LedgerView(
        "/w",
        True,
        (
            LedgerUnit(7, 0x100000003, "service1", "0x100", 100.0),
            LedgerUnit(8, 0x100000005, "service2\x1b[2J", "0x101", 103.0),
        ),
        (Refusal(8, 0x100000003, "service1", "junk", 101.5, "node_gone"),),
    )
    marks = board_units(view)
    assert marks == [
        Unit(7, 0x100000003, "service1", 0x100, 100.0),
        Unit(8, 0x100000003, "service1", 0, 101.5, refused=True),
        Unit(8, 0x100000005, "service2\\x1b[2J", 0x101, 103.0),
    ]
    board = _board()
    board.take_units(marks, 104.0)
    work = board.snapshot(104.0)["work"]
    assert [(u["seq"], u["refused"]) for u in work["units"]] == [(7, False), (8, True), (8, False)]
    # Coloured by token: the refused unit has its writer's (older) token's colour.
    assert work["units"][0]["colour"] == work["units"][1]["colour"] != work["units"][2]["colour"]
    assert board_units(LedgerView("/w")) == []


def test_board_server_roles_and_quorum_in_words():
    assert quorum(_roles("leader", "follower", None), 3) == (2, True)
    assert quorum(_roles("leader", None, None), 3) == (1, False)
    board = _board()
    board.take_roles(_roles("follower", None, "leader"), 120.0)
    texts = [c["text"] for c in board.snapshot(121.0)["changes"]]
    assert "zoo2 is unreachable" in texts and "zoo3 is leader" in texts


# --- the process ---------------------------------------------------------------------


def _start(*args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], int]:
    port, nothing = free_ports(2)
    child = subprocess.Popen(
        [sys.executable, "-m", "dashboard", "--port", str(port), *args],
        cwd=REPO_ROOT,
        env={**os.environ, "ZK_HOSTS": f"127.0.0.1:{nothing}", **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return child, port


@pytest.fixture
def dashboard() -> Iterator[tuple[subprocess.Popen[str], int]]:
    child, port = _start()
    try:
        wait_until(lambda: _get(port, "/healthz") == b"ok\n", timeout=20, interval=0.1)
        yield child, port
    finally:
        if child.poll() is None:
            child.kill()
        child.communicate(timeout=10)


def _get(port: int, path: str) -> bytes | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as answer:
            return answer.read()
    except OSError:
        return None


def test_dashboard_serves_its_page_script_and_state_from_itself(dashboard):
    _, port = dashboard
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as answer:
        page = answer.read().decode()
        policy = answer.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "default-src 'none'" in policy
    assert 'src="page.js"' in page and "http" not in page.split("<body>")[0].lower()
    assert b"EventSource" in (_get(port, "/page.js") or b"")
    state = json.loads(_get(port, "/state") or b"{}")
    assert state["leader"] is None and state["connection"] == "CONNECTING"
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/../etc/passwd", timeout=2)


def test_dashboard_streams_the_state_as_server_sent_events(dashboard):
    _, port = dashboard
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/events", timeout=5) as stream:
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        assert stream.readline() == b"retry: 1000\n"
        assert stream.readline() == b"\n"
        line = stream.readline()
    assert line.startswith(b"data: {")
    assert json.loads(line[len(b"data: ") :])["election"] == "/leader-election"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_dashboard_exits_zero_on_every_stop_signal_even_repeated(dashboard, signum):
    child, port = dashboard
    # A browser holding a stream open must not hold the shutdown up.
    stream = urllib.request.urlopen(f"http://127.0.0.1:{port}/events", timeout=5)
    try:
        sent = time.monotonic()
        for _ in range(20):
            child.send_signal(signum)
            time.sleep(0.005)
        code = child.wait(timeout=5)
        took = time.monotonic() - sent
    finally:
        stream.close()
    out, err = child.communicate(timeout=5)
    assert code == 0, err
    assert took < 3.0
    assert f"stopped ({signal.Signals(signum).name})" in out
    assert "Traceback" not in err


def _catches_sigterm(pid: int) -> bool:
    """The kernel's word: the process has a handler for SIGTERM (SigCgt in /proc)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("SigCgt:"):
                return bool(int(line.split()[1], 16) & (1 << (signal.SIGTERM - 1)))
    return False


def test_dashboard_exits_zero_on_signals_right_after_start():
    """A signal at any moment once the handlers are in: while it imports kazoo, binds,
    starts its threads, connects."""
    for delay in (0.0, 0.05, 0.2):
        child, _ = _start()
        try:
            wait_until(lambda pid=child.pid: _catches_sigterm(pid), timeout=20, interval=0.005)
            time.sleep(delay)
            for _ in range(5):
                child.send_signal(signal.SIGTERM)
            code = child.wait(timeout=10)
        finally:
            if child.poll() is None:
                child.kill()
            _, err = child.communicate(timeout=10)
        assert code == 0, (delay, err)


@pytest.mark.parametrize(
    ("args", "env", "said"),
    [
        (["--port", "http"], {}, "--port: must be a port number"),
        ([], {"ZK_HOSTS": "zoo1:2181/chroot"}, "ZK_HOSTS must not end in a chroot"),
    ],
)
def test_dashboard_bad_input_is_one_line_and_exit_two(args, env, said):
    child, _ = _start(*args, env=env)
    out, err = child.communicate(timeout=20)
    assert child.returncode == 2
    assert len(err.strip().splitlines()) == 1 and said in err, err
