"""The tap that learns the session timeout the servers granted from kazoo's log call.

kazoo keeps the negotiated timeout to itself (python-zk/kazoo#769) but logs it; the
election hands kazoo a logger that reads it on the way through. If the pinned kazoo
stops making that call the integration tests' ``session_timeout`` checks fail; these
check the tap's own logic: what it reads, and that it changes nothing it passes on.
"""

from __future__ import annotations

import ast
import inspect
import logging
import textwrap

import pytest
from kazoo.loggingsupport import BLATHER
from kazoo.protocol.connection import ConnectionHandler

from common.zkclient import GrantedTimeoutTap

# kazoo/protocol/connection.py, ConnectionHandler._connect, as of the pinned 2.11.0.
SESSION_CREATED = (
    "Session created, session_id: %r session_passwd: %s\n"
    "    negotiated session timeout: %s\n"
    "    connect timeout: %s\n"
    "    read timeout: %s"
)


def _tap(granted: list[int]) -> GrantedTimeoutTap:
    return GrantedTimeoutTap(logging.getLogger("kazoo.client"), granted.append)


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
