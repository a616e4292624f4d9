"""Interop: ZooKeeper's own Java LeaderElectionSupport and our workers in one election.

The candidate on the Java side is the article's worker (``testbed/java/ArticleWorker.java``,
compiled against Debian's ``zookeeper-recipes-election.jar``), the same program the
benchmark measures. Both sides use the recipe's layout (``n_<seq>``, data = identity,
lowest leads), so whichever joined first leads, and both sides say so: the Java
candidate through ``getLeaderHostName()`` (its "leader_seen" lines), ours through its
``following`` line and by not ticking. When the leader leaves, the other one takes over.
"""

from __future__ import annotations

import secrets
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from common.logs import Event
from testbed.java_candidates import MISSING_MESSAGE as JAVA_MISSING
from testbed.java_candidates import JavaCandidateBuild
from testbed.processes import WorkerProcess, wait_until
from tests.integration.helpers import (
    SESSION_TIMEOUT_S,
    assert_one_leader_history,
    event_time,
    events_named,
    now,
    wait_following,
    worker_ticks,
)
from tests.support import require

pytestmark = pytest.mark.integration

JAVA_NAME = "article-java"
# A takeover by the Java side is seen at its next once-a-second poll.
POLL_S = 1.0


@pytest.fixture(scope="module")
def java_build() -> JavaCandidateBuild:
    build = JavaCandidateBuild.find()
    require(build is not None, JAVA_MISSING)
    assert build is not None
    build.compile()
    return build


@pytest.fixture
def flat_path() -> str:
    """A one-level root: the Java recipe, like the article, creates only the last level."""
    return f"/interop-{secrets.token_hex(4)}"


JavaCandidate = Callable[..., WorkerProcess]


@pytest.fixture
def java_candidate(
    java_build: JavaCandidateBuild, ensemble, tmp_path: Path
) -> Iterator[JavaCandidate]:
    """Factory: a started Java candidate in ``path``; stopped by PID at teardown."""
    started: list[WorkerProcess] = []

    def start(path: str, close_on_term: bool = True) -> WorkerProcess:
        argv = java_build.argv(
            connect=ensemble.connect_string(),
            name=JAVA_NAME,
            root=path,
            session_timeout_ms=int(SESSION_TIMEOUT_S * 1000),
            close_on_term=close_on_term,
            report_leader=True,
        )
        worker = WorkerProcess("ArticleWorker", {}, tmp_path / "java.log", JAVA_NAME, argv=argv)
        started.append(worker)
        return worker.start()

    yield start
    for worker in started:
        code = worker.stop(timeout=5)
        # Captured: pytest shows it only when the test failed.
        print(f"\n===== {worker.name} (exit {code}) {worker.log_path}\n{worker.log_text()[-8000:]}")


def _leaders_seen(java: WorkerProcess, after: float = 0) -> list[str | None]:
    return [e.get("leader") for e in events_named(java, "leader_seen", after=after)]


def _wait_leader_seen(java: WorkerProcess, name: str, count: int, after: float = 0) -> None:
    wait_until(
        lambda: _leaders_seen(java, after).count(name) >= count,
        timeout=15,
        interval=0.1,
        message=f"{java.name} to see {name} as leader {count} times",
    )


def test_interop_java_first_leads_and_ours_follows_then_takes_over(
    spawn_worker, java_candidate, flat_path
) -> None:
    java = java_candidate(flat_path)
    java.wait_for_event(lambda e: e.get("event") == Event.PROCESSING, timeout=30)

    ours = spawn_worker("service1", ELECTION_PATH=flat_path)
    following = wait_following(ours, timeout=20)
    assert following["leader"] == JAVA_NAME, following
    joined = event_time(following)
    _wait_leader_seen(java, JAVA_NAME, count=3, after=joined)

    assert set(_leaders_seen(java)) == {JAVA_NAME}, "the Java side saw another leader"
    assert worker_ticks(ours) == [], "ours ticked while the Java candidate led"

    left = now()
    java.signal(signal.SIGTERM)  # --close-on-term: stop() deletes its offer, then close()
    ours.wait_for_event(
        lambda e: e.get("event") == Event.PROCESSING and event_time(e) > left, timeout=10
    )
    first = worker_ticks(ours, after=left)[0]
    assert first.time - left < 2.0, f"ours took over {first.time - left:.2f} s after SIGTERM"
    assert java.wait(timeout=5) is not None, "the Java candidate did not exit on SIGTERM"
    assert_one_leader_history([java, ours])


def test_interop_ours_first_leads_and_java_sees_it_then_takes_over(
    spawn_worker, java_candidate, flat_path
) -> None:
    ours = spawn_worker("service1", ELECTION_PATH=flat_path)
    ours.wait_for_event(lambda e: e.get("event") == Event.PROCESSING, timeout=30)

    java = java_candidate(flat_path)
    _wait_leader_seen(java, "service1", count=3)
    assert set(_leaders_seen(java)) == {"service1"}, _leaders_seen(java)
    assert worker_ticks(java) == [], "the Java candidate ticked while ours led"

    left = now()
    ours.signal(signal.SIGTERM)
    assert ours.wait(timeout=5) == 0
    java.wait_for_event(
        lambda e: e.get("event") == Event.PROCESSING and event_time(e) > left, timeout=10
    )
    first = worker_ticks(java, after=left)[0]
    assert first.time - left < 2.0 + POLL_S, f"Java took over {first.time - left:.2f} s later"
    assert _leaders_seen(java, after=first.time - 0.01)[0] == JAVA_NAME
    assert_one_leader_history([ours, java])


def test_interop_mixed_candidates_follow_the_lowest_node(
    spawn_worker, java_candidate, flat_path
) -> None:
    """ours, then Java, then ours again: one leader, and every follower names it."""
    first = spawn_worker("service1", ELECTION_PATH=flat_path)
    first.wait_for_event(lambda e: e.get("event") == Event.PROCESSING, timeout=30)
    java = java_candidate(flat_path)
    _wait_leader_seen(java, "service1", count=1)
    third = spawn_worker("service2", ELECTION_PATH=flat_path)
    following = wait_following(third, timeout=20)
    # The third watches the Java candidate's node (its predecessor) but names the leader.
    assert following["leader"] == "service1", following
    _wait_leader_seen(java, "service1", count=3, after=event_time(following))

    # The leader crashes: its node goes only when its session expires; then the Java
    # candidate (next in line) leads, and ours keeps following without ticking.
    killed = now()
    first.kill()
    java.wait_for_event(
        lambda e: e.get("event") == Event.PROCESSING and event_time(e) > killed,
        timeout=SESSION_TIMEOUT_S + 10,
    )
    _wait_leader_seen(java, JAVA_NAME, count=3, after=killed)
    assert worker_ticks(third) == [], "ours ticked while the Java candidate led"
    assert_one_leader_history([first, java, third])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (["--bogus"], "unknown argument --bogus"),
        (["--session-timeout-ms", "ten"], "--session-timeout-ms must be a positive integer"),
        (["--interval-ms", "0"], "--interval-ms must be a positive integer"),
        (["--root"], "--root needs a value"),
        (["--name", ""], "--name is required"),
    ],
)
def test_interop_java_candidate_refuses_a_bad_command_line_in_one_line(
    java_build: JavaCandidateBuild, change: list[str], message: str
) -> None:
    """The command line every Java candidate shares (testbed/java/CandidateIO.java): a bad
    flag is one line on stderr and exit 2, before any connection is tried."""
    argv = java_build.argv("127.0.0.1:9", "bad-flags", report_leader=True) + change
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2, done
    (line,) = done.stderr.splitlines()  # one line, no stack trace
    assert line.startswith(f"ArticleWorker: {message}"), line
    assert done.stdout == "", done.stdout
