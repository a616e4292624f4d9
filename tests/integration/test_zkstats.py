"""The benchmark's instruments read a real ensemble right (``testbed.zkstats``).

Its traffic rows (packets and requests per second per follower, who woke up around a
change) are only as true as the parsing of ``cons``, ``dump`` and ``wchp`` on the
ZooKeeper that runs here; these tests hold that parsing to what two clients of known
sessions really did.
"""

from __future__ import annotations

import pytest

from common.zkclient import new_client, stop_within
from testbed.processes import wait_until
from testbed.zkstats import Connection, ZkProbe, normal_session

pytestmark = pytest.mark.integration


def test_zkstats_probe_sees_owners_watchers_and_requests(ensemble, election_path) -> None:
    hosts = ensemble.connect_string()
    owner, watcher = new_client(hosts, 10.0), new_client(hosts, 4.0)  # it pings every ~1.3 s
    try:
        owner.start(timeout=15)
        watcher.start(timeout=15)
        owner_sid = normal_session(hex(owner.client_id[0]))
        watcher_sid = normal_session(hex(watcher.client_id[0]))
        owner.ensure_path(election_path)
        node = owner.create(f"{election_path}/n_", ephemeral=True, sequence=True)
        owner.create(f"{election_path}/persistent")  # not ephemeral: not in dump
        assert watcher.exists(node, watch=lambda event: None) is not None
        probe = ZkProbe(ensemble)

        wait_until(
            lambda: probe.ephemerals(election_path) == {node: owner_sid},
            15,
            interval=0.2,
            message=f"dump on the leader shows {node} owned by {owner_sid}",
        )
        wait_until(
            lambda: probe.watchers().get(node) == {watcher_sid},
            15,
            interval=0.2,
            message=f"wchp shows {watcher_sid} alone watching {node}",
        )

        before = probe.connections()
        assert {owner_sid, watcher_sid} <= before.keys(), before
        for _ in range(5):
            owner.get(node)

        def watcher_pinged() -> bool:
            now = probe.connections()
            return now[watcher_sid].recved > before[watcher_sid].recved

        wait_until(watcher_pinged, 10, interval=0.2, message=f"{watcher_sid} pinged")
        after = probe.connections()
        owner_did = Connection.delta(before[owner_sid], after[owner_sid])
        watcher_did = Connection.delta(before[watcher_sid], after[watcher_sid])
        assert owner_did is not None and watcher_did is not None
        assert owner_did.requests == 5, owner_did  # the gets
        assert owner_did.recved >= 5 and owner_did.sent >= 5, owner_did
        # Pings are packets both ways but carry no xid: no request.
        assert watcher_did.recved >= 1 and watcher_did.sent >= 1, watcher_did
        assert watcher_did.requests == 0, watcher_did
        moved = Connection(
            watcher_sid, before[watcher_sid].server % 3 + 1, 1, 0, 0, 0
        )  # the same session, now on another server
        assert Connection.delta(before[watcher_sid], moved) is None
    finally:
        stop_within(watcher, 5.0)
        stop_within(owner, 5.0)
