"""common.zkclient, pure parts: the log tap, the framed socket, the capped connect.

kazoo keeps the negotiated session timeout and its reconnect attempts to itself
(python-zk/kazoo#769) but logs them; the election hands kazoo a logger that reads them
on the way through. If the pinned kazoo stops making those calls the integration
tests' ``session_timeout`` checks fail; these check the tap's own logic, and guard the
calls in the installed kazoo's source. The framed socket is fed bytes by hand.
"""

from __future__ import annotations

import ast
import errno
import inspect
import logging
import socket
import textwrap
import time

import pytest
from kazoo.loggingsupport import BLATHER
from kazoo.protocol.connection import ConnectionHandler

from common.zkclient import (
    FRAME_LIMIT_BYTES,
    TCP_CONNECT_TIMEOUT_S,
    KazooLogTap,
    _BoundedHandler,
    _FramedSocket,
    election_acl,
)

# kazoo/protocol/connection.py, ConnectionHandler._connect, as of the pinned 2.11.0.
SESSION_CREATED = (
    "Session created, session_id: %r session_passwd: %s\n"
    "    negotiated session timeout: %s\n"
    "    connect timeout: %s\n"
    "    read timeout: %s"
)


def _tap(granted: list[int], connecting: list[str] | None = None) -> KazooLogTap:
    seen = [] if connecting is None else connecting
    return KazooLogTap(logging.getLogger("kazoo.client"), granted.append, seen.append)


def test_tap_reads_the_negotiated_timeout_from_session_created() -> None:
    granted: list[int] = []
    _tap(granted).log(BLATHER, SESSION_CREATED, 0x1234, b"70617373", 4000, 1333.3, 2666.6)
    assert granted == [4000]


@pytest.mark.parametrize(
    ("level", "msg", "args"),
    [
        (logging.DEBUG, SESSION_CREATED, (1, b"", 4000, 1, 1)),  # another level
        (BLATHER, "Read response %s", ("Stat(...)",)),  # another message
        (BLATHER, SESSION_CREATED, (1, b"")),  # too few values
        (BLATHER, SESSION_CREATED, (1, b"", "4000", 1, 1)),  # not an int
    ],
)
def test_tap_ignores_every_other_call(level: int, msg: str, args: tuple) -> None:
    granted: list[int] = []
    _tap(granted).log(level, msg, *args)
    assert granted == []


def test_tap_passes_records_on_unchanged(caplog: pytest.LogCaptureFixture) -> None:
    tap = _tap([])
    with caplog.at_level(BLATHER, logger="kazoo.client"):
        tap.warning("Connection dropped: %s", "socket closed")
        tap.log(BLATHER, SESSION_CREATED, 1, b"", 4000, 1, 1)
        try:
            raise OSError("refused")
        except OSError:
            tap.exception("Error in connection state listener")
    got = [(r.name, r.levelno, r.getMessage().split("\n")[0]) for r in caplog.records]
    assert got == [
        ("kazoo.client", logging.WARNING, "Connection dropped: socket closed"),
        ("kazoo.client", BLATHER, "Session created, session_id: 1 session_passwd: b''"),
        ("kazoo.client", logging.ERROR, "Error in connection state listener"),
    ]
    assert caplog.records[2].exc_info is not None


def test_the_installed_kazoo_logs_the_negotiated_timeout_where_the_tap_reads_it() -> None:
    """Guards an upgrade of kazoo: the call is still there, the timeout still third."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(ConnectionHandler._connect)))
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and len(node.args) >= 5
        and isinstance(node.args[1], ast.Constant)
        and str(node.args[1].value).startswith("Session created")
    ]
    assert len(calls) == 1, "kazoo no longer logs 'Session created' in _connect"
    (call,) = calls
    assert isinstance(call.func, ast.Attribute) and call.func.attr == "log"
    assert ast.unparse(call.args[0]) == "BLATHER"
    assert ast.unparse(call.args[4]) == "negotiated_session_timeout"


CONNECTING = "Connecting to %s(%s):%s, use_ssl: %r"


def test_tap_reports_each_connection_attempt_as_host_port() -> None:
    connecting: list[str] = []
    tap = _tap([], connecting)
    tap.info(CONNECTING, "zoo2", "172.18.0.3", 2181, False)
    tap.info("Connecting to nothing")  # too few values: not the call we read
    assert connecting == ["zoo2:2181"]


def test_the_installed_kazoo_logs_each_connection_attempt_where_the_tap_reads_it() -> None:
    tree = ast.parse(textwrap.dedent(inspect.getsource(ConnectionHandler._connect)))
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and str(node.args[0].value) == CONNECTING
    ]
    assert len(calls) == 1, "kazoo no longer logs 'Connecting to' in _connect"
    (call,) = calls
    assert isinstance(call.func, ast.Attribute) and call.func.attr == "info"
    assert [ast.unparse(a) for a in call.args[1:4]] == ["host", "hostip", "port"]


class _Feed:
    """A stand-in for a socket: recv() hands out the queued chunks one by one."""

    def __init__(self, *chunks: bytes) -> None:
        self.chunks = list(chunks)
        self.closed = False

    def recv(self, size: int, *flags: int) -> bytes:
        return self.chunks.pop(0)

    def close(self) -> None:
        self.closed = True


def _frame(body: bytes) -> bytes:
    return len(body).to_bytes(4, "big") + body


def test_framed_socket_passes_frames_through_however_they_are_cut() -> None:
    stream = _frame(b"a" * 10) + _frame(b"") + _frame(b"b" * 300)
    chunks = [stream[i : i + 7] for i in range(0, len(stream), 7)]
    sock = _FramedSocket(_Feed(*chunks), frame_deadline_s=5)  # type: ignore[arg-type]
    assert b"".join(sock.recv(7) for _ in chunks) == stream
    sock.close()  # everything else is the socket's own
    assert sock._sock.closed  # type: ignore[attr-defined]


@pytest.mark.parametrize("length", [FRAME_LIMIT_BYTES + 1, 2**31 - 1, -1])
def test_framed_socket_refuses_a_length_past_the_limit_before_reading_it(length: int) -> None:
    sock = _FramedSocket(_Feed(length.to_bytes(4, "big", signed=True)), 5)  # type: ignore[arg-type]
    with pytest.raises(OSError, match="frame of"):
        sock.recv(4)


def test_framed_socket_takes_the_largest_frame_allowed() -> None:
    header = FRAME_LIMIT_BYTES.to_bytes(4, "big")
    sock = _FramedSocket(_Feed(header, b"x" * FRAME_LIMIT_BYTES), 5)  # type: ignore[arg-type]
    sock.recv(4)
    assert len(sock.recv(FRAME_LIMIT_BYTES)) == FRAME_LIMIT_BYTES


def test_framed_socket_refuses_a_frame_that_trickles_past_its_deadline(monkeypatch) -> None:
    clock = [100.0]
    monkeypatch.setattr("common.zkclient.time.monotonic", lambda: clock[0])
    sock = _FramedSocket(_Feed(_frame(b"abcd")[:5], b"b", b"c"), 1.0)  # type: ignore[arg-type]
    sock.recv(5)  # header and one byte at t=100
    clock[0] = 100.9
    sock.recv(1)  # still within the second
    clock[0] = 101.2
    with pytest.raises(OSError, match="took over 1 s"):
        sock.recv(1)


def test_bounded_handler_caps_the_tcp_connect_timeout(monkeypatch) -> None:
    seen: dict[str, float] = {}

    def fake_connection(module, address, timeout=None, **kwargs):
        seen["timeout"] = timeout
        return _Feed()

    monkeypatch.setattr("kazoo.handlers.utils.create_tcp_connection", fake_connection)
    handler = _BoundedHandler(frame_deadline_s=3)
    sock = handler.create_connection(address=("127.0.0.1", 1), timeout=10.0)
    assert seen["timeout"] == TCP_CONNECT_TIMEOUT_S
    assert isinstance(sock, _FramedSocket)
    handler.create_connection(address=("127.0.0.1", 1), timeout=0.2)
    assert seen["timeout"] == 0.2


@pytest.fixture
def pair():
    """A connected pair of local sockets: (ours, framed as kazoo gets it; the server's)."""
    ours, theirs = socket.socketpair()
    try:
        yield _FramedSocket(ours, frame_deadline_s=5), theirs
    finally:
        ours.close()
        theirs.close()


def _silent_handler(limit_s: float | None) -> _BoundedHandler:
    handler = _BoundedHandler(frame_deadline_s=5)
    if limit_s is not None:
        handler.session_granted(int(limit_s * 1500))  # 2/3 of it is the limit
    return handler


def test_a_connection_silent_past_the_limit_is_given_back_as_broken(pair) -> None:
    ours, _theirs = pair
    handler = _silent_handler(0.3)
    assert handler.silence_limit_s == pytest.approx(0.3)
    began = time.monotonic()
    readable, _, _ = handler.select([ours], [], [], 30.0)  # kazoo's wait, far longer
    assert readable == [ours]
    assert time.monotonic() - ours.heard >= 0.3  # silent since the connect, the limit's start
    assert time.monotonic() - began < 10.0  # not kazoo's 30 s
    with pytest.raises(OSError, match=r"sent nothing for \d+\.\d s") as raised:
        ours.recv(4)
    assert raised.value.errno == errno.ETIMEDOUT
    said = float(raised.value.strerror.split("for ")[1].split(" s")[0])
    assert said >= 0.3  # how long it was silent, at least the limit (later on a busy machine)


def test_a_request_waiting_to_go_out_does_not_put_the_silence_off(pair) -> None:
    """kazoo's loop wakes for each request it sends ("requests act as implicit pings"):
    a wake-up socket that is always ready must not keep a silent server on the line."""
    ours, _theirs = pair
    wake, waker = socket.socketpair()
    try:
        waker.send(b"x")  # never read: ready at every select
        handler = _silent_handler(0.3)
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:
            readable, _, _ = handler.select([ours, wake], [], [], 1.0)
            if ours in readable:
                break
            assert readable == [wake]
        assert readable == [ours]
        with pytest.raises(OSError, match="sent nothing"):
            ours.recv(4)
    finally:
        wake.close()
        waker.close()


def test_a_connection_that_answers_is_never_given_back_as_broken(pair) -> None:
    ours, theirs = pair
    handler = _silent_handler(1.0)
    for _ in range(8):  # 0.2 s apart: well within the limit, on any machine
        theirs.send(_frame(b""))  # a reply with no body, as a ping's is short
        readable, _, _ = handler.select([ours], [], [], 30.0)
        assert readable == [ours]
        assert ours.recv(4) == _frame(b"")
        time.sleep(0.2)


def test_kazoo_own_timeout_still_ends_the_wait_before_the_limit(pair) -> None:
    ours, theirs = pair
    handler = _silent_handler(30.0)
    assert handler.select([ours], [], [], 0.05) == ([], [], [])
    assert handler.select([ours], [], [], 0.0) == ([], [], [])
    theirs.send(_frame(b""))
    assert handler.select([ours], [], [], 0.0)[0] == [ours]  # a poll still sees bytes


def test_before_a_session_timeout_is_granted_there_is_no_limit(pair) -> None:
    ours, _theirs = pair
    handler = _silent_handler(None)
    time.sleep(0.05)
    assert handler.select([ours], [], [], 0.1) == ([], [], [])
    handler.session_granted(0)  # an expired session's answer: no new limit
    assert handler.silence_limit_s is None


def test_the_installed_kazoo_waits_for_its_socket_through_the_handler() -> None:
    """The silence limit lives in the handler's select: kazoo's connection loop and its
    reads must still wait there (pinned 2.11.0)."""
    for method in (ConnectionHandler._connect_attempt, ConnectionHandler._read):
        tree = ast.parse(textwrap.dedent(inspect.getsource(method)))
        selects = [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "self.handler.select"
        ]
        assert selects, f"kazoo's {method.__name__} no longer waits in handler.select"
        assert "self._socket" in ast.unparse(selects[0].args[0])


def test_election_acl_gives_all_to_the_identity_and_read_to_the_world() -> None:
    owner, world = election_acl("election:s3cret-password")
    assert owner.id.scheme == "digest" and owner.id.id.startswith("election:")
    assert "s3cret" not in owner.id.id  # the digest, never the password
    assert owner.perms == 31  # ALL
    assert (world.id.scheme, world.id.id, world.perms) == ("world", "anyone", 1)  # READ
