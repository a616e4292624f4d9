"""Only the candidates can touch the election (E11): digest ACLs, squatters, storms,
roots made by others, and a safe way to depose.

Workers run with ZK_AUTH; the test's own clients are made with or without those
credentials (setup and attack only). A client without them may read the election but
not change it: every change it tries is refused (NoAuth) and the work goes on.

The property codes (E1-E12) are defined in docs/properties.md.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError, NoNodeError
from kazoo.security import make_acl, make_digest_acl

from common.logs import Event
from common.observer import Unavailable, depose, read_candidates
from common.zkclient import election_acl
from testbed.processes import REPO_ROOT, wait_until
from tests.integration.helpers import (
    assert_alive,
    assert_no_traceback,
    assert_one_leader_history,
    event_time,
    events_named,
    leader_and_followers,
    now,
    wait_following,
    wait_for_leader,
    worker_ticks,
)

pytestmark = pytest.mark.integration

AUTH = "election:integration-secret-1"
OTHER_AUTH = "someone:else-entirely-2"

ZkClient = Callable[..., KazooClient]


@pytest.fixture
def zk(ensemble) -> Iterator[ZkClient]:
    """Factory: ``zk(auth="")`` -> a started plain kazoo client; all closed at teardown."""
    made: list[KazooClient] = []

    def make(auth: str = "") -> KazooClient:
        client = KazooClient(
            hosts=ensemble.connect_string(),
            timeout=10,
            auth_data=[("digest", auth)] if auth else None,
        )
        client.start(timeout=15)
        made.append(client)
        return client

    yield make
    for client in made:
        client.stop()
        client.close()


def _pair(spawn_worker, **env):
    return spawn_worker("service1", ZK_AUTH=AUTH, **env), spawn_worker(
        "service2", ZK_AUTH=AUTH, **env
    )


def test_security_client_without_credentials_is_refused_and_work_goes_on(
    ensemble, spawn_worker, election_path, zk
) -> None:
    workers = _pair(spawn_worker)
    leader, (other,) = leader_and_followers(workers, timeout=30, min_ticks=2)
    wait_following(other, timeout=10)
    node = events_named(leader, Event.LEADER_ELECTED)[-1]["node"]
    stranger = zk()

    assert [c.identity for c in read_candidates(ensemble.connect_string(), election_path)] == [
        leader.name,
        other.name,
    ], "anyone may still see who leads"
    attacks = {
        "delete the leader's node": lambda: stranger.delete(node),
        "depose the leader (set its data)": lambda: stranger.set(node, b"x"),
        "create a node under the root": lambda: stranger.create(
            f"{election_path}/n_0000000000", b"squatter"
        ),
        "join as a candidate": lambda: stranger.create(
            f"{election_path}/n_", b"intruder", ephemeral=True, sequence=True
        ),
        "take the root's ACL": lambda: stranger.set_acls(
            election_path, [make_acl("world", "anyone", all=True)]
        ),
        "take the node's ACL": lambda: stranger.set_acls(
            node, [make_acl("world", "anyone", all=True)]
        ),
    }
    attacked = now()
    for what, attack in attacks.items():
        with pytest.raises(NoAuthError):
            attack()
            pytest.fail(f"a client without credentials could {what}")
    # ZooKeeper shows a digest's hash only to who may administer the node ("user:x").
    acls, _ = stranger.get_acls(election_path)
    assert sorted(_who(a) for a in acls) == sorted(_who(a) for a in election_acl(AUTH))

    wait_until(
        lambda: len(worker_ticks(leader, after=attacked)) >= 3, 10, message="the leader works on"
    )
    assert worker_ticks(other) == [], "leadership moved"
    assert events_named(leader, Event.ELECTION_OPEN) == []
    assert_one_leader_history(workers)
    assert_alive(*workers)
    assert_no_traceback(*workers)


def _who(acl) -> tuple[int, str, str]:
    return acl.perms, acl.id.scheme, acl.id.id.partition(":")[0]


def test_security_deletion_storm_without_credentials_breaks_nothing(
    ensemble, spawn_worker, election_path, zk
) -> None:
    workers = _pair(spawn_worker)
    leader = wait_for_leader(workers, timeout=30, min_ticks=1)
    stormer = zk()
    stop, refused = threading.Event(), [0]

    def storm() -> None:
        while not stop.is_set():
            for name in stormer.get_children(election_path):
                try:
                    stormer.delete(f"{election_path}/{name}")
                except NoAuthError:
                    refused[0] += 1
                except NoNodeError:
                    pass

    thread = threading.Thread(target=storm, daemon=True)
    began = now()
    thread.start()
    time.sleep(8)  # the storm's length; the workers are judged from their logs
    stop.set()
    thread.join(timeout=10)
    ended = now()

    assert refused[0] > 100, f"the storm hardly ran: {refused[0]} deletions refused"
    ticks = [t for t in worker_ticks(leader) if began <= t.time <= ended]
    assert 6 <= len(ticks) <= 10, f"{len(ticks)} ticks in 8 s of storm: {ticks}"
    assert_one_leader_history(workers)  # no token down, no overlap
    assert_alive(*workers)
    for worker in workers:
        assert events_named(worker, Event.LEADERSHIP_LOST) == [], f"{worker.name} lost leadership"


def test_security_squatter_made_before_start_delays_nobody(
    ensemble, spawn_worker, election_path, zk
) -> None:
    """A persistent node named like the first candidate, made on a root then open:
    never followed; the first worker to join closes the root."""
    opener = zk()
    opener.create(f"{election_path}/n_0000000000", b"squatter", makepath=True)
    workers = _pair(spawn_worker)
    leader, (other,) = leader_and_followers(workers, timeout=15, min_ticks=1)
    wait_following(other, timeout=10)
    reports = [e["message"] for w in workers for e in events_named(w, Event.FOREIGN_CHILD)]
    assert any("not ephemeral" in r for r in reports), f"the squatter was not reported: {reports}"
    (tightened,) = [e for w in workers for e in events_named(w, Event.ROOT_ACL_TIGHTENED)]
    assert "world:anyone" in tightened["opened_to"]
    _hand_over_in_milliseconds(leader, other)
    assert_one_leader_history(workers)
    assert_no_traceback(*workers)


def test_security_squatter_below_a_running_leader_delays_nobody(
    ensemble, spawn_worker, election_path, zk
) -> None:
    """A client holding the credentials makes a persistent n_0000000000 below the
    running leader: when the leader resigns, the next candidate does not follow it."""
    insider = zk(AUTH)
    insider.create(election_path, b"", acl=election_acl(AUTH), makepath=True)
    burnt = insider.create(f"{election_path}/n_", b"", ephemeral=True, sequence=True)
    assert burnt.endswith("n_0000000000")
    insider.delete(burnt)  # the workers' nodes come after it
    workers = _pair(spawn_worker)
    leader, (other,) = leader_and_followers(workers, timeout=15, min_ticks=1)
    wait_following(other, timeout=10)
    insider.create(f"{election_path}/n_0000000000", b"squatter below a leader")
    _hand_over_in_milliseconds(leader, other)
    assert_one_leader_history(workers)
    assert_no_traceback(*workers)


def _hand_over_in_milliseconds(leader, other) -> None:
    handed = now()
    leader.signal(signal.SIGTERM)
    assert leader.wait(timeout=2.0) == 0
    first = wait_until(
        lambda: worker_ticks(other, after=handed), 5, message=f"{other.name} takes over"
    )[0]
    assert first.time - handed < 1.0, "the next candidate followed a squatter"


def test_security_root_owned_by_another_identity_fails_health_and_says_why(
    ensemble, spawn_worker, election_path, zk, tmp_path
) -> None:
    owner = zk(OTHER_AUTH)
    user, _, password = OTHER_AUTH.partition(":")
    owner.create(
        election_path,
        b"",
        acl=[make_digest_acl(user, password, all=True), make_acl("world", "anyone", read=True)],
        makepath=True,
    )
    health = tmp_path / "health"
    worker = spawn_worker("service1", ZK_AUTH=AUTH, HEALTH_FILE=health, ZK_SESSION_TIMEOUT_S=4)
    error = worker.wait_for_event(
        lambda e: e.get("event") == Event.ELECTION_ERROR, timeout=20, message="the refusal"
    )
    assert "NoAuth" in error["message"] and "ELECTION_PATH" in error["message"], error
    checked = wait_until(
        lambda: (c := _health(health)).returncode == 1 and c, 10, message="unhealthy"
    )
    assert "failing" in checked.stdout and "NoAuth" in checked.stdout, checked.stdout
    time.sleep(3)  # retried meanwhile, with backoff, and not logged again
    assert len(events_named(worker, Event.ELECTION_ERROR)) == 1
    assert worker_ticks(worker) == []
    assert_alive(worker)
    assert_no_traceback(worker)


def _health(path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "common.health"],
        cwd=REPO_ROOT,
        env={"HEALTH_FILE": str(path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=20,
    )


def test_security_depose_hands_over_without_overlap(
    ensemble, spawn_worker, election_path, measure
) -> None:
    hosts = ensemble.connect_string()
    workers = _pair(spawn_worker, TICK_INTERVAL_S=0.2)
    leader, (other,) = leader_and_followers(workers, timeout=30, min_ticks=3)
    wait_following(other, timeout=10)

    with pytest.raises(Unavailable, match="NoAuth"):
        depose(hosts, election_path)  # without the credentials
    asked = now()
    done = depose(hosts, election_path, auth=AUTH)
    assert done.resigned and done.leader.identity == leader.name
    assert done.successor is not None and done.successor.identity == other.name

    first = wait_until(lambda: worker_ticks(other, after=asked), 5, message="the next leads")[0]
    measure("depose -> next leader's first tick", first.time - asked)
    (deposed,) = events_named(leader, Event.DEPOSED)
    last_old = max(t.time for t in worker_ticks(leader))
    assert last_old < first.time, "the deposed leader worked on after the next began"
    assert first.time - asked < 1.0
    following = wait_following(leader, timeout=10, after=event_time(deposed))
    assert following["leader"] == other.name, "the deposed leader joins again at the back"
    queue = [c.identity for c in read_candidates(hosts, election_path)]
    assert queue == [other.name, leader.name]
    assert_one_leader_history(workers)
    assert_no_traceback(*workers)
