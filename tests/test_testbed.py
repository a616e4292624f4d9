"""The harness's own pieces that need no ZooKeeper: require(), wait_until(), WorkerProcess.

WorkerProcess is driven with a tiny stand-in program (python -c), not a worker, so a
harness bug shows here and not as a puzzling election failure.
"""

from __future__ import annotations

import signal
import sys
import textwrap
import time
from pathlib import Path

import pytest

from common.logs import Event
from testbed.ensemble import MISSING_MESSAGE, find_zookeeper
from testbed.processes import REPO_ROOT, WorkerProcess, event_named, run_process, wait_until
from testbed.zklog import forming_exceptions
from tests.support import in_ci, require

# Prints a JSON line, a plain line, a half line; then one JSON line per SIGUSR1 and
# exits 0 on SIGTERM.
# The worker's own event names; the others are the stand-in's.
STARTED, SHUTDOWN = Event.STARTED, Event.SHUTDOWN
_STAND_IN = r"""
import json, signal, sys, time
def say(event, **fields):
    print(json.dumps({"event": event, **fields}), flush=True)
def on_usr1(*_):
    say("poked", at=time.time())
def on_term(*_):
    say(SHUTDOWN, exit_code=0)
    sys.exit(0)
signal.signal(signal.SIGUSR1, on_usr1)
signal.signal(signal.SIGTERM, on_term)
say(STARTED, n=1)
print("not json at all", flush=True)
print("{broken json", flush=True)
sys.stdout.write('{"event": "partial"')
sys.stdout.flush()
time.sleep(0.3)
sys.stdout.write(', "n": 2}\n')
sys.stdout.flush()
while True:
    time.sleep(0.05)
"""


@pytest.fixture
def stand_in(tmp_path: Path):
    worker = WorkerProcess(
        "stand-in",
        {"STAND_IN": "1"},
        tmp_path / "stand-in.log",
        name="stand-in",
        argv=[sys.executable, "-c", f"STARTED, SHUTDOWN = {STARTED!r}, {SHUTDOWN!r}\n{_STAND_IN}"],
    )
    worker.start()
    yield worker
    worker.stop(timeout=5)


def test_require_skips_outside_ci_and_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    require(True, "never shown")
    monkeypatch.delenv("CI", raising=False)
    assert not in_ci()
    with pytest.raises(pytest.skip.Exception, match="install me"):
        require(False, "install me")
    monkeypatch.setenv("CI", "true")
    assert in_ci()
    with pytest.raises(pytest.fail.Exception, match="prerequisite missing under CI: install me"):
        require(None, "install me")
    monkeypatch.setenv("CI", "false")
    assert not in_ci()


def test_find_zookeeper_none_for_an_empty_zookeeper_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ZOOKEEPER_HOME", str(tmp_path))
    assert find_zookeeper() is None
    assert "apt-get install zookeeper" in MISSING_MESSAGE and "ZOOKEEPER_HOME" in MISSING_MESSAGE


def test_wait_until_returns_the_value_or_says_what_and_how_long() -> None:
    started = time.monotonic()
    assert wait_until(lambda: time.monotonic() - started > 0.1 and "done", 2) == "done"
    with pytest.raises(AssertionError, match=r"timed out after 0\.[2-9] s waiting for: nothing"):
        wait_until(lambda: None, 0.2, message="nothing")


def test_worker_process_events_skip_non_json_and_wait_for_whole_lines(stand_in) -> None:
    partial = stand_in.wait_for_event(event_named("partial"), timeout=10)
    assert partial == {"event": "partial", "n": 2}
    assert [e["event"] for e in stand_in.events()] == [STARTED, "partial"]
    assert "not json at all" in stand_in.log_text()


def test_worker_process_signals_pause_resume_and_stop(stand_in) -> None:
    stand_in.wait_for_event(event_named("partial"), timeout=10)
    stand_in.pause()
    stand_in.signal(signal.SIGUSR1)
    time.sleep(0.3)  # a paused process must not answer: nothing to poll for
    assert not any(e["event"] == "poked" for e in stand_in.events())
    stand_in.resume()
    stand_in.wait_for_event(event_named("poked"), timeout=5)
    assert stand_in.stop(timeout=5) == 0
    assert stand_in.events()[-1] == {"event": SHUTDOWN, "exit_code": 0}
    assert not stand_in.is_running()


def test_a_program_not_ours_starts_with_its_stop_signals_as_they_are(tmp_path: Path) -> None:
    """The kazoo baseline (``python -m``, a plain SIGTERM handler) must get its SIGTERM:
    started with it blocked, as our workers are, it never did, and the benchmark's
    kazoo handoff failed in 4 runs of 4. Ours still start with it blocked."""
    (tmp_path / "plain_handler.py").write_text(
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))\n"
        "print('up', flush=True)\ntime.sleep(60)\n"
    )
    plain = WorkerProcess("plain_handler", {}, tmp_path / "plain.log", name="plain", cwd=tmp_path)
    assert not plain.unblocks_stop_signals
    plain.start()
    wait_until(lambda: "up" in plain.log_text(), 10, message="plain_handler started")
    assert plain.stop(timeout=10) == 0
    assert WorkerProcess("service1", {}, tmp_path / "w.log", name="w").unblocks_stop_signals
    crowd = WorkerProcess("bench.crowd", {}, tmp_path / "c.log", name="c")
    assert crowd.unblocks_stop_signals


def test_a_session_under_nohup_starts_its_programs_with_sighup_at_default() -> None:
    """A test session started under ``nohup`` ignores SIGHUP, and so would every program
    it starts (an ignored signal survives exec), which then keeps it ignored on purpose:
    the signal tests would wait for a SIGHUP handler that never comes. The session
    catches it instead: it survives a hangup, and its programs start at the default."""
    program = textwrap.dedent(
        """
        import os, signal, subprocess, sys
        from testbed.processes import hangups_reach_children

        def child():
            look = "import signal; print(signal.getsignal(signal.SIGHUP).name)"
            return subprocess.run([sys.executable, "-c", look], capture_output=True,
                                  text=True, check=True).stdout.strip()

        assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN, "not under nohup"
        print("before:", child())
        assert hangups_reach_children()
        assert not hangups_reach_children()  # once is enough
        os.kill(os.getpid(), signal.SIGHUP)  # the session lives on
        print("after:", child())
        """
    )
    done = run_process(["nohup", sys.executable, "-c", program], timeout=60, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["before: SIG_IGN", "after: SIG_DFL"], done.stdout


def test_worker_process_stop_kills_a_paused_or_stubborn_process(tmp_path: Path) -> None:
    stubborn = WorkerProcess(
        "stubborn",
        {},
        tmp_path / "stubborn.log",
        name="stubborn",
        argv=[
            sys.executable,
            "-c",
            "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
            "print('up', flush=True)\ntime.sleep(60)",
        ],
    ).start()
    wait_until(lambda: "up" in stubborn.log_text(), 10, message="stubborn started")
    stubborn.pause()
    assert stubborn.stop(timeout=0.5) == -signal.SIGKILL
    assert stubborn.returncode == -signal.SIGKILL


def test_worker_process_wait_for_event_names_the_worker_on_timeout(stand_in) -> None:
    with pytest.raises(AssertionError, match=r"worker stand-in, pid \d+"):
        stand_in.wait_for_event(event_named("never"), timeout=0.2)


def test_test_modules_have_unique_basenames() -> None:
    # pytest's default import mode imports a test module by its basename when its
    # folder has no __init__.py: two test_x.py in different folders abort collection
    # ("import file mismatch") on a clean checkout.
    tests = Path(__file__).parent
    seen: dict[str, list[str]] = {}
    for module in tests.rglob("test_*.py"):
        seen.setdefault(module.name, []).append(str(module.relative_to(tests)))
    assert {name: paths for name, paths in seen.items() if len(paths) > 1} == {}


# A follower whose elected leader never led, as `docker compose logs` prints it (Compose v2
# names, the pattern of docker/zookeeper/logback.xml), with another node's line between.
_RETRY = (
    "zoo1-1  | 2026-12-02 17:40:01,123 [myid:1] - ERROR [LeaderConnector-zoo2/172.20.0.3:2888"
    ":Learner$LeaderConnector@440] - Unexpected exception, retries exceeded. tries=4,"
    " remaining init limit=19581, connecting to zoo2/172.20.0.3:2888\n"
    "zoo3-1  | 2026-12-02 17:40:01,130 [myid:3] - WARN  [main:ZooKeeperServer@1000] - a line\n"
    "zoo1-1  | java.net.ConnectException: Connection refused\n"
    "zoo1-1  | 2026-12-02 17:40:01,124 [myid:1] - ERROR [LeaderConnector-zoo2/172.20.0.3:2888"
    ":Learner$LeaderConnector@401] - Failed connect to zoo2/172.20.0.3:2888\n"
    "zoo1-1  | java.net.ConnectException: Connection refused\n"
)


def test_forming_exceptions_excuse_only_an_elections_retry_and_its_refusals() -> None:
    named, excused = forming_exceptions(_RETRY)
    assert named == []
    assert len(excused) == 4
    assert all("zoo1-1" in line for line in excused)


@pytest.mark.parametrize(
    "after",
    [
        # the same exception from another logger: a peer not reachable is not excused
        "zoo1-1  | 2026-12-02 17:40:02,000 [myid:1] - WARN  [QuorumConnectionThread-[myid=1]-2"
        ":QuorumCnxManager@401] - Cannot open channel to 2\nzoo1-1  | java.net.ConnectException: x",
        # a refusal printed by another node right after zoo1's retry
        "zoo2-1  | java.net.ConnectException: Connection refused",
        # another exception after the retry
        "zoo1-1  | java.io.IOException: Missing signature",
        # the refusal after another line of the same node
        "zoo1-1  | 2026-12-02 17:40:02,000 [myid:1] - ERROR [x:Follower@1] - other\n"
        "zoo1-1  | java.net.ConnectException: Connection refused",
    ],
)
def test_forming_exceptions_name_every_other_exception(after: str) -> None:
    named, _ = forming_exceptions(_RETRY + after + "\n")
    assert len(named) == 1 and "Exception" in named[0], named


# A follower leaving and rejoining: its leader's side as a real ensemble of the stand-in
# image (ZooKeeper 3.8.0) printed it through `docker compose logs` (v2.26, its erase-line
# prefix kept), the follower paused, then the leader paused, for 7 s each.
_LEAVER_AT_ITS_LEADER = (
    "\x1b[2Kzoo2-1  | 2026-12-04 08:22:08,036 [myid:] - ERROR [LearnerHandler-/172.18.0.3:59910"
    ":o.a.z.s.q.LearnerHandler@719] - Unexpected exception in LearnerHandler: \n"
    "\x1b[2Kzoo2-1  | java.net.SocketTimeoutException: Read timed out\n"
    "\x1b[2Kzoo2-1  | 2026-12-04 08:22:28,632 [myid:] - ERROR [LearnerHandler-/172.18.0.2:49692"
    ":o.a.z.s.q.LearnerHandler@719] - Unexpected exception in LearnerHandler: \n"
    "\x1b[2Kzoo2-1  | java.io.EOFException: null\n"
)
# The follower rejoining, its data-tree bean left registered (ZooKeeper 3.8.0's lines,
# LearnerZooKeeperServer.java:104 and MBeanRegistry's exception).
_REJOINED = (
    "zoo1-1  | 2026-12-04 08:22:30,101 [myid:] - WARN  [QuorumPeer[myid=1](plain=0.0.0.0:2181)"
    "(secure=disabled):o.a.z.s.q.LearnerZooKeeperServer@104] - Failed to register with JMX\n"
    "zoo1-1  | javax.management.InstanceAlreadyExistsException: org.apache.ZooKeeperService:"
    "name0=ReplicatedServer_id1,name1=replica.1,name2=Follower,name3=InMemoryDataTree\n"
)


# The leaving follower's sync thread dying on ZOOKEEPER-4409, as CI's fresh up printed it
# (the stand-in's ZooKeeper 3.8.0, Java 17, Compose v2); its WARN before it
# (SendAckRequestProcessor, "Socket closed") is below the compose file's logging level.
_SYNC_THREAD_ENDED = (
    "\x1b[2Kzoo1-1  | 2026-12-04 11:55:47,870 [myid:] - ERROR [SyncThread:1:o.a.z.s."
    "ZooKeeperCriticalThread@49] - Severe unrecoverable error, from thread : SyncThread:1\n"
    '\x1b[2Kzoo1-1  | java.lang.NullPointerException: Cannot invoke "java.net.Socket.isClosed()"'
    ' because "this.learner.sock" is null\n'
)


# An election connection's sender thread, its socket closed by the connection that
# replaced it (the stand-in's ZooKeeper 3.8.0, through Compose v2, in a fresh up).
_SENDER_REPLACED = (
    "\x1b[2Kzoo2-1  | 2026-12-04 13:54:43,978 [myid:] - ERROR [SendWorker:1:o.a.z.s.q."
    "QuorumCnxManager$SendWorker@1265] - Failed to send last message. Shutting down thread.\n"
    "\x1b[2Kzoo2-1  | java.net.SocketException: Socket closed\n"
)


# A leader stepping down, its followers gone to another, as CI's fresh up printed it
# (Compose v1, the stand-in's ZooKeeper 3.8.0; round 7 of ten): zoo2's only lines; zoo3,
# leading, then synced zoo2 (its ZKDatabase warning carries no exception).
_STEPPED_DOWN = (
    "zoo2_1       | 2026-12-04 19:38:40,499 [myid:] - WARN  [LearnerCnxAcceptorHandler-zoo2/"
    "172.22.0.4:2888:o.a.z.s.q.Leader$LearnerCnxAcceptor$LearnerCnxAcceptorHandler@530] - "
    "Exception while shutting down acceptor.\n"
    "zoo2_1       | java.net.SocketException: Socket closed\n"
    "zoo3_1       | 2026-12-04 19:38:40,562 [myid:] - WARN  [LearnerHandler-/172.22.0.4:60714"
    ":o.a.z.s.ZKDatabase@387] - Unable to find proposals from txnlog for zxid: 0x0\n"
)


def test_forming_exceptions_excuse_a_leader_stepping_down() -> None:
    named, excused = forming_exceptions(_RETRY + _STEPPED_DOWN)
    assert named == []
    assert len(excused) == 4 + 2
    assert all("zoo2_1" in line for line in excused[4:])


def test_forming_exceptions_excuse_an_election_connection_replaced() -> None:
    named, excused = forming_exceptions(_RETRY + _SENDER_REPLACED)
    assert named == []
    assert len(excused) == 4 + 2


def test_forming_exceptions_excuse_a_follower_leaving_and_rejoining() -> None:
    named, excused = forming_exceptions(
        _RETRY + _LEAVER_AT_ITS_LEADER + _SYNC_THREAD_ENDED + _REJOINED
    )
    assert named == []
    assert len(excused) == 4 + 4 + 2 + 2


@pytest.mark.parametrize(
    "lines",
    [
        # the leader's acceptor failing while it is not stopping
        _STEPPED_DOWN.replace(
            "Exception while shutting down acceptor.", "Exception while accepting follower"
        ),
        # the stepping down's exception printed by another node
        _STEPPED_DOWN.replace("zoo2_1       | java.net", "zoo3_1       | java.net"),
        # the acceptor's port failing another way
        _STEPPED_DOWN.replace("Socket closed", "Connection reset"),
        # "Socket closed" after a learner's reader ended, not after the acceptor
        _LEAVER_AT_ITS_LEADER + "\x1b[2Kzoo2-1  | java.net.SocketException: Socket closed\n",
        # the learner's reader ending another way
        _LEAVER_AT_ITS_LEADER.replace("java.io.EOFException: null", "java.io.IOException: x"),
        # its other failure ("LearnerHandler.", with a period)
        "zoo2-1  | 2026-12-04 08:22:28,632 [myid:] - ERROR [LearnerHandler-/172.18.0.2:49692"
        ":o.a.z.s.q.LearnerHandler@722] - Unexpected exception in LearnerHandler.\n"
        "zoo2-1  | java.lang.InterruptedException: null\n",
        # another bean than a follower's data tree
        _REJOINED.replace("name2=Follower,name3=InMemoryDataTree", "name2=Leader"),
        # the bean's exception from another node than the one that warned
        _REJOINED.replace("zoo1-1  | javax", "zoo3-1  | javax"),
        # another critical thread dying the same way
        _SYNC_THREAD_ENDED.replace("thread : SyncThread:1", "thread : CommitProcessor:1"),
        # the sync thread dying of something else
        _SYNC_THREAD_ENDED.replace('"this.learner.sock" is null', '"this.zk" is null'),
        # the sync thread's exception printed by another node
        _SYNC_THREAD_ENDED.replace("zoo1-1  | java.lang", "zoo2-1  | java.lang"),
        # the sender failing on a connection its peer reset
        _SENDER_REPLACED.replace("Socket closed", "Connection reset"),
        # the sender's exception printed by another node
        _SENDER_REPLACED.replace("zoo2-1  | java.net", "zoo3-1  | java.net"),
        # "Socket closed" after another of the election's errors
        _SENDER_REPLACED.replace("Failed to send last message.", "Failed to send."),
    ],
)
def test_forming_exceptions_name_what_a_rejoin_does_not_print(lines: str) -> None:
    named, _ = forming_exceptions(lines)
    assert len(named) == 1 and "Exception" in named[0], named


def test_forming_exceptions_read_compose_v1_and_lines_without_a_prefix() -> None:
    v1 = _RETRY.replace("zoo1-1  |", "zoo1_1  |").replace("zoo3-1  |", "zoo3_1  |")
    assert forming_exceptions(v1)[0] == []
    bare = "java.lang.InterruptedException: null\n"
    assert forming_exceptions(bare) == (["java.lang.InterruptedException: null"], [])
