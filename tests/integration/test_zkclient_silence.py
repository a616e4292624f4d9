"""A client that keeps asking leaves a silent server with its session (common/zkclient.py).

kazoo 2.11 counts every request it sends as a ping and only gives up on a connection
when it has sent nothing for half its read timeout twice in a row. A client that sends
a request more often than that (a worker's ledger writes, its lease renewals, a busy
machine running kazoo's loop late) never gives up on a server that has gone silent: it
stays there until the ensemble expires its session. The election's client drops a
connection that has received nothing for the read timeout, as ZooKeeper's own client
does, and kazoo moves to the next server with the session alive.

Judged on a real ensemble behind the fault proxy: the server the client is on goes
silent while the client asks something every 0.4 s (a tenth of the session); the client
must be on another server, with the same session, before that session could expire.
"""

from __future__ import annotations

import threading
import time

import pytest

from common.zkclient import new_client, stop_within
from testbed.processes import wait_until
from tests.integration.helpers import SESSION_TIMEOUT_S, ZK_TICK_S

pytestmark = pytest.mark.integration

ASK_EVERY_S = 0.4  # under kazoo's ping interval (1/3 of the session): no ping goes out


def test_a_client_that_keeps_asking_moves_off_a_silent_server_with_its_session(
    ensemble, proxy, election_path, measure
) -> None:
    fault = proxy()
    client = new_client(fault.connect_string(), SESSION_TIMEOUT_S)
    client.start(timeout=15)
    stop = threading.Event()

    def ask() -> None:
        while not stop.is_set():
            client.exists_async(election_path)  # the answer is not waited for
            stop.wait(ASK_EVERY_S)

    asker = threading.Thread(target=ask, name="asker", daemon=True)
    try:
        session = client.client_id[0]
        (silent,) = wait_until(fault.connected_indexes, 5, message="the client's connection")
        asker.start()
        cut = time.monotonic()
        fault.blackhole(silent)

        def elsewhere() -> bool:
            on = fault.connected_indexes()
            return bool(client.connected and on and silent not in on)

        # The session lives one session timeout (and a ZooKeeper tick) past the last
        # contact, which came before the cut: past that, moving is too late anyway.
        wait_until(
            elsewhere,
            SESSION_TIMEOUT_S + ZK_TICK_S,
            interval=0.02,
            message=f"the client off the silent server {silent} (kazoo never noticed it)",
        )
        moved = time.monotonic() - cut
        assert client.client_id[0] == session, "moved, but with a new session"
        assert client.exists_async("/").get(timeout=5) is not None  # answered where it is
        measure("silent server, a request every 0.4 s: cut -> on another server", moved)
        # The limit is 2/3 of the session from the last answer, which came at most one
        # request interval before the cut; the reconnect is one local round trip.
        assert moved >= SESSION_TIMEOUT_S * 2 / 3 - ASK_EVERY_S - 0.1, "dropped before the limit"
    finally:
        stop.set()
        if asker.is_alive():
            asker.join(timeout=5)
        fault.forward()
        stop_within(client, 5)
