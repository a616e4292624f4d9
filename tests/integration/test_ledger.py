"""The ledger (common/ledger.py) against a real ensemble: every unit recorded once, a
stale leader refused by ZooKeeper itself, and accepted (and caught by the judge) only
when the teaching switch turns the fences off.

The property codes (E1-E12) are defined in docs/properties.md.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError, NoNodeError

from common.leadership import Leadership
from common.ledger import REFUSED_DIR, UNIT_PREFIX, Ledger, Why, read_history, unit_name
from common.logs import Event
from testbed.ledger import judge, logged_units
from testbed.processes import event_named, wait_until
from tests.integration.helpers import (
    SESSION_TIMEOUT_S,
    assert_no_traceback,
    assert_one_leader_history,
    event_time,
    events_named,
    leader_and_followers,
    ledger_of,
    ledger_verdict,
    read_ledger,
    worker_ticks,
)

pytestmark = pytest.mark.integration

AUTH = "election:integration-secret-1"
WORK_S = 2.0  # a unit's work: long enough to be frozen in the middle of it


@pytest.fixture
def zk(ensemble) -> Iterator[KazooClient]:
    client = KazooClient(hosts=ensemble.connect_string(), timeout=10)
    client.start(timeout=15)
    yield client
    client.stop()
    client.close()


def test_every_unit_recorded_once_under_the_elections_acl(ensemble, spawn_worker, zk) -> None:
    workers = spawn_worker("service1", ZK_AUTH=AUTH), spawn_worker("service2", ZK_AUTH=AUTH)
    leader, _ = leader_and_followers(workers, timeout=30, min_ticks=5)
    assert_one_leader_history(workers)  # both judges, every line held to its unit
    verdict = ledger_verdict(workers)
    assert verdict is not None
    logged = logged_units(r for w in workers for r in w.records())
    assert len(logged) >= 5 and {u.seq for u in logged} <= {u.seq for u in verdict.units}
    assert {u.worker for u in verdict.units} == {leader.name}
    assert all(u.fenced for u in verdict.units)

    path = ledger_of(leader)
    acls, _ = zk.get_acls(path)
    # (ZooKeeper shows a digest without its hash to a client not holding it.)
    shown = {(a.id.scheme, a.id.id.partition(":")[0], a.perms) for a in acls}
    assert shown == {("digest", "election", 31), ("world", "anyone", 1)}, acls
    # Anyone reads; only the election's identity writes.
    assert read_history(zk, path).units
    with pytest.raises(NoAuthError):
        zk.create(f"{path}/{unit_name(10**9)}", b"{}")
    with pytest.raises(NoAuthError):
        zk.set(path, b"{}")
    assert_no_traceback(*workers)


def _freeze_mid_work(spawn_worker, **env):
    """Both workers with slow units; the leader frozen (SIGSTOP) right after it began
    one, until the other has recorded two units of its own; then thawed. Returns
    (stale, successor) once the stale one's write has had its answer."""
    workers = [spawn_worker(name, WORK_S=WORK_S, **env) for name in ("service1", "service2")]
    stale, (successor,) = leader_and_followers(workers, timeout=30, min_ticks=1)
    seen = len(events_named(stale, Event.WORK_STARTED))
    wait_until(
        lambda: len(events_named(stale, Event.WORK_STARTED)) > seen,
        timeout=WORK_S + 10,
        message=f"{stale.name} beginning a unit",
    )
    stale.pause()  # in the middle of the unit: its lease was good when it began
    try:
        wait_until(
            lambda: len(events_named(successor, Event.PROCESSING)) >= 2,
            timeout=3 * SESSION_TIMEOUT_S + 4 * WORK_S + 10,
            message=f"{successor.name} recording units while {stale.name} is frozen",
        )
    finally:
        stale.resume()
    return workers, stale, successor


def test_a_leader_thawed_mid_work_is_refused_by_zookeeper(ensemble, spawn_worker, zk) -> None:
    workers, stale, successor = _freeze_mid_work(spawn_worker)
    refused = stale.wait_for_event(
        event_named(Event.UNIT_REFUSED),
        timeout=SESSION_TIMEOUT_S + 10,
        message=f"{stale.name}'s stale unit refused",
    )
    assert refused["reason"] == Why.NODE_GONE, refused
    (elected,) = events_named(successor, Event.LEADER_ELECTED)
    assert refused["newest_token"] == elected["fencing_token"] > refused["fencing_token"]
    # No line claims the refused unit; both judges find one leader at a time.
    assert_one_leader_history(workers)
    history = read_ledger(ensemble.connect_string(), ledger_of(stale))
    stored = [r for r in history.refusals if r.worker == stale.name]
    assert [r.reason for r in stored] == [Why.NODE_GONE]
    assert stored[0].token == refused["fencing_token"]
    # It stepped down and joined again: the successor keeps leading.
    stale.wait_for_event(event_named(Event.JOINED), timeout=10)
    assert_one_leader_history(workers)
    assert_no_traceback(*workers)


def test_with_fencing_off_the_stale_unit_is_accepted_and_the_judge_says_so(
    ensemble, spawn_worker
) -> None:
    workers, stale, successor = _freeze_mid_work(spawn_worker, LEDGER_FENCING="off")
    (elected,) = events_named(successor, Event.LEADER_ELECTED)
    old_token = events_named(stale, Event.LEADER_ELECTED)[0]["fencing_token"]

    def stale_unit():
        lines = events_named(stale, Event.PROCESSING)
        return next(
            (
                e
                for e in lines
                if e.get("unit", 0) > 0
                and e["unit"] > 1
                and e["fencing_token"] == old_token
                and _after_successor(e, successor)
            ),
            None,
        )

    accepted = wait_until(stale_unit, SESSION_TIMEOUT_S + 10, message="the stale unit accepted")
    assert events_named(stale, Event.LEDGER_UNFENCED), "no warning that fencing is off"
    verdict = ledger_verdict(workers)
    assert verdict is not None
    assert any(
        f.startswith(f"token down: unit {accepted['unit']} by {stale.name}")
        for f in verdict.violations
    ), verdict.text
    assert elected["fencing_token"] > old_token


def _after_successor(event: dict, successor) -> bool:
    firsts = events_named(successor, Event.PROCESSING)
    return bool(firsts) and event["unit"] > firsts[0]["unit"]


def test_a_unit_answered_after_its_lease_ran_out_has_a_late_line_where_the_work_was(
    ensemble, spawn_worker, proxy, election_path
) -> None:
    """The first unit's answer is held by the proxy: the request landed, the worker hears
    nothing on that connection (nor its lease renewals, queued behind), drops it as
    silent, finds its session again on another server and, reading, finds the unit
    there. The unit was written under its lease; the line comes after the lease ran out
    and says by how much, and the judges place the work when it was sent."""
    fault = proxy()
    hold = fault.hold_next_reply(f"{election_path}-work/{UNIT_PREFIX}")
    leader = spawn_worker("service1", hosts=fault.connect_string())
    try:
        wait_until(hold.held.is_set, 30, message="service1's first unit answered, and held")
        line = leader.wait_for_event(
            lambda e: e.get("event") in (Event.PROCESSING, Event.UNIT_UNCONFIRMED),
            timeout=SESSION_TIMEOUT_S + 10,
            message="service1's line for the unit it had sent",
        )
    finally:
        hold.release()
    assert line["event"] == Event.PROCESSING, line
    assert line["confirmed_after_s"] > SESSION_TIMEOUT_S / 2, line  # a lease's length
    assert line["message"].endswith("after it was sent, under the lease)"), line
    lost = [e for e in events_named(leader, Event.ZK_STATE) if e["state"] == "SUSPENDED"]
    assert lost and event_time(lost[0]) < event_time(line), "answered on the held connection"
    wait_until(lambda: len(worker_ticks(leader)) >= 3, 15, message="service1 works on")
    ticks = assert_one_leader_history([leader])
    assert ticks[0].time == pytest.approx(event_time(line) - line["confirmed_after_s"], abs=0.01)
    verdict = ledger_verdict([leader])
    assert verdict is not None and verdict.units[0].seq == line["unit"], verdict and verdict.text
    assert_no_traceback(leader)


def test_ledger_off_writes_nowhere(ensemble, spawn_worker, zk) -> None:
    worker = spawn_worker("service1", LEDGER_PATH="off")
    worker.wait_for_event(event_named(Event.PROCESSING), timeout=30)
    worker.wait_for_event(lambda e: len(events_named(worker, Event.PROCESSING)) >= 3, 10)
    assert all("unit" not in e for e in events_named(worker, Event.PROCESSING))
    assert zk.exists(worker.env["ELECTION_PATH"] + "-work") is None


# ------------------------------------------------------ the Ledger itself, by hand


@pytest.fixture
def ledger_parts(zk, election_path) -> Iterator[tuple[KazooClient, str, list[Leadership]]]:
    """A client, a ledger path, and a factory of leaderships on real ephemeral nodes."""
    zk.ensure_path(election_path)
    yield zk, election_path + "-work", []


def _leadership(client: KazooClient, root: str) -> Leadership:
    path, stat = client.create(f"{root}/n_", b"x", ephemeral=True, sequence=True, include_data=True)
    return Leadership(stat.czxid, path, client.client_id[0])


def _never() -> bool:
    return False


def test_the_three_fences_each_refuse(ledger_parts) -> None:
    client, path, _ = ledger_parts
    root = path.removesuffix("-work")
    older, newer = _leadership(client, root), _leadership(client, root)
    ledger = Ledger(lambda: client, path, "service1")
    assert ledger.record(newer, _never).unit.seq == 1
    # An older token than the ledger's, read at its first write: refused, nothing sent.
    other = Ledger(lambda: client, path, "service2")
    outcome = other.record(older, _never)
    assert (outcome.refused, outcome.newest.seq) == (Why.OLDER_TOKEN, 1)
    # Someone wrote since the leader last looked: its cached head version is stale.
    client.set(path, client.get(path)[0])
    assert ledger.record(newer, _never).refused == Why.SOMEONE_ELSE_WROTE
    assert ledger.record(newer, _never).unit.seq == 2  # a new look, then accepted
    # Deposed (its node's data set), then gone: the check on the node refuses.
    client.set(newer.node, b"resign")
    assert ledger.record(newer, _never).refused == Why.DEPOSED
    client.delete(newer.node)
    outcome = ledger.record(newer, _never)
    assert outcome.refused == Why.NODE_GONE and "is gone" in outcome.detail
    history = read_history(client, path)
    assert [u.seq for u in history.units] == [1, 2]
    assert [r.reason for r in history.refusals] == [
        Why.OLDER_TOKEN,
        Why.SOMEONE_ELSE_WROTE,
        Why.DEPOSED,
        Why.NODE_GONE,
    ]
    assert judge(history.units, tick_interval_s=0.001) == []


def test_history_is_pruned_to_its_bound_without_gaps(ledger_parts) -> None:
    client, path, _ = ledger_parts
    lead = _leadership(client, path.removesuffix("-work"))
    ledger = Ledger(lambda: client, path, "service1", keep_units=64)
    for _ in range(300):
        assert ledger.record(lead, _never).accepted

    def pruned():
        names = [n for n in client.get_children(path) if n.startswith("u_")]
        return names if len(names) <= 64 + 64 else None

    names = wait_until(pruned, timeout=10, message="the old units deleted")
    seqs = sorted(int(n[2:]) for n in names)
    assert seqs[-1] == 300 and seqs[0] <= 300 - 64 + 1, seqs[:3]
    assert seqs == list(range(seqs[0], 301)), "a gap among the kept units"
    assert client.exists(f"{path}/{REFUSED_DIR}") is not None


def test_an_unanswered_write_that_landed_is_counted_once(ledger_parts, monkeypatch) -> None:
    """The reply of a committed unit lost (as a dropped connection would): the retry's
    version check fails, the unit is read back, and counted once."""
    client, path, _ = ledger_parts
    lead = _leadership(client, path.removesuffix("-work"))
    ledger = Ledger(lambda: client, path, "service1")
    assert ledger.record(lead, _never).accepted
    real = client.transaction
    lost: list[bool] = []

    def losing_transaction():
        txn = real()
        commit = txn.commit_async

        def commit_then_lose():
            result = commit()
            result.get(timeout=5)  # it landed
            if not lost:
                lost.append(True)
                from kazoo.exceptions import ConnectionLoss

                raise ConnectionLoss()
            return result

        txn.commit_async = commit_then_lose
        return txn

    monkeypatch.setattr(client, "transaction", losing_transaction)
    outcome = ledger.record(lead, _never)
    assert outcome.accepted and outcome.unit.seq == 2 and lost
    monkeypatch.undo()
    assert ledger.record(lead, _never).unit.seq == 3
    assert [u.seq for u in read_history(client, path).units] == [1, 2, 3]


def _losing(client, monkeypatch, *, lands: bool) -> list[int]:
    """Every commit's reply lost; ``lands``: the commit reached ZooKeeper first.
    Returns the list the losses are counted in."""
    from kazoo.exceptions import ConnectionLoss

    real = client.transaction
    lost: list[int] = []

    def losing_transaction():
        txn = real()
        commit = txn.commit_async

        def lose():
            if lands:
                commit().get(timeout=5)
            lost.append(1)
            raise ConnectionLoss()

        txn.commit_async = lose
        return txn

    monkeypatch.setattr(client, "transaction", losing_transaction)
    return lost


def test_a_write_given_up_is_unconfirmed_with_its_number(ledger_parts, monkeypatch) -> None:
    """No answer within answer_within_s, and the unit did not land: the outcome names
    the unit (the worker's unit_unconfirmed line), and the next write takes that
    number, without a gap."""
    client, path, _ = ledger_parts
    lead = _leadership(client, path.removesuffix("-work"))
    ledger = Ledger(lambda: client, path, "service1", answer_within_s=0.5)
    assert ledger.record(lead, _never).unit.seq == 1
    lost = _losing(client, monkeypatch, lands=False)
    outcome = ledger.record(lead, _never)
    assert not outcome.accepted and lost
    assert (outcome.refused, outcome.unconfirmed, outcome.stopped) == (Why.UNANSWERED, True, False)
    assert (outcome.seq, outcome.token) == (2, lead.token)
    monkeypatch.undo()
    assert ledger.record(lead, _never).unit.seq == 2
    assert [u.seq for u in read_history(client, path).units] == [1, 2]


def test_a_stop_while_a_landed_write_waits_still_counts_it(ledger_parts, monkeypatch) -> None:
    """The unit landed, its reply was lost, and a stop signal came while the write
    waited: one last look finds it, so the worker logs it as done (it is in the
    ledger); without that look the unit would have no line."""
    client, path, _ = ledger_parts
    lead = _leadership(client, path.removesuffix("-work"))
    ledger = Ledger(lambda: client, path, "service1")
    lost = _losing(client, monkeypatch, lands=True)
    outcome = ledger.record(lead, lambda: bool(lost))
    assert outcome.accepted and outcome.unit.seq == 1 and lost == [1]
    monkeypatch.undo()
    assert [u.seq for u in read_history(client, path).units] == [1]


def test_a_stop_before_anything_was_sent_is_no_unit(ledger_parts) -> None:
    client, path, _ = ledger_parts
    lead = _leadership(client, path.removesuffix("-work"))
    outcome = Ledger(lambda: client, path, "service1").record(lead, lambda: True)
    assert (outcome.stopped, outcome.unconfirmed, outcome.seq) == (True, False, 0)


def test_a_ledger_root_deleted_between_units_is_made_again(ledger_parts) -> None:
    """Deleted by hand between two units (the head cached, the next write sent to a
    root that is gone): the leader is not refused, the ledger starts again at unit 1
    with its refusals' directory, and a reader sees a clean history."""
    client, path, _ = ledger_parts
    lead = _leadership(client, path.removesuffix("-work"))
    ledger = Ledger(lambda: client, path, "service1")
    assert [ledger.record(lead, _never).unit.seq for _ in range(3)] == [1, 2, 3]
    client.delete(path, recursive=True)
    outcome = ledger.record(lead, _never)
    assert outcome.accepted and outcome.unit.seq == 1, outcome
    assert ledger.record(lead, _never).unit.seq == 2
    assert client.exists(f"{path}/{REFUSED_DIR}") is not None
    assert judge(read_history(client, path).units, tick_interval_s=0.001) == []


def test_missing_parents_of_a_ledger_are_made_open(zk, election_path) -> None:
    """A LEDGER_PATH below nodes that do not exist: the parents are open (as the
    election root's are), the ledger root has the client's ACL."""
    from kazoo.security import OPEN_ACL_UNSAFE

    zk.ensure_path(election_path)
    path = f"{election_path}-deep/a/b/work"
    lead = _leadership(zk, election_path)
    assert Ledger(lambda: zk, path, "service1").record(lead, _never).accepted
    for parent in (f"{election_path}-deep", f"{election_path}-deep/a/b"):
        assert zk.get_acls(parent)[0] == OPEN_ACL_UNSAFE, parent
    zk.delete(f"{election_path}-deep", recursive=True)


def test_reading_a_ledger_that_does_not_exist_says_so(zk) -> None:
    with pytest.raises(NoNodeError):
        read_history(zk, "/no-such-ledger-work")
