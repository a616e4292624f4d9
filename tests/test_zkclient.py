"""common.zkclient, pure parts: the log tap, the framed socket, the capped connect.

kazoo keeps the negotiated session timeout and its reconnect attempts to itself
(python-zk/kazoo#769) but logs them; the election hands kazoo a logger that reads them
on the way through. If the pinned kazoo stops making those calls the integration
tests' ``session_timeout`` checks fail; these check the tap's own logic, and guard the
calls in the installed kazoo's source. The framed socket is fed bytes by hand.
"""

from __future__ import annotations

import ast
import inspect
import logging
import textwrap

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


def test_election_acl_gives_all_to_the_identity_and_read_to_the_world() -> None:
    owner, world = election_acl("election:s3cret-password")
    assert owner.id.scheme == "digest" and owner.id.id.startswith("election:")
    assert "s3cret" not in owner.id.id  # the digest, never the password
    assert owner.perms == 31  # ALL
    assert (world.id.scheme, world.id.id, world.perms) == ("world", "anyone", 1)  # READ
