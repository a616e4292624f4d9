"""The workshop's own verbs, `make demo-*`, run as a user runs them, on each Compose generation.

Each test runs one verb on the test's compose project (its name, ports and settings in
the environment, COMPOSE naming the generation's command) and fails when the verb
exits non-zero, prints to stderr, or does not put the project back: every container
running and healthy, one worker ticking and the other following. What the fault did is
judged from the workers' logs (testbed.checker) and from `docker inspect` (when a
ZooKeeper node was stopped and started), never from the verb's own narration.

The order is the workshop's: stop, kill, pause, partition, quorum, then zk-leader right
after quorum, the sequence in which the ZooKeeper-leader pause used to reach 10 s. Last,
as it recreates containers: a changed ZooKeeper setting applied with `up -d`.
"""

from __future__ import annotations

import re
import subprocess
import time

import pytest

from common.logs import Event
from testbed.checker import (
    Tick,
    first_tick_after,
    parse_time,
    summary,
    ticks_after,
    ticks_between,
    violations,
)
from testbed.processes import wait_until
from tests.e2e.compose_project import (
    SESSION_TIMEOUT_S,
    ZK_LEADER_PAUSE_BOUND_S,
    ZK_NODES,
    ComposeProject,
)
from workshop.compose import docker_time

pytestmark = pytest.mark.e2e

# A worker's JSON line as the demo shows it: "  12:00:01.234  service1  Processing... ...".
_SHOWN_TICK = re.compile(r"^  \d\d:\d\d:\d\d\.\d{3}  service[12]  Processing\.\.\. ", re.M)
# The judge's first line (python -m testbed.ledger): the span the ledger and logs share.
_BOTH_COVER = re.compile(r"where both cover: (?P<units>\d+) units, (?P<lines>\d+) lines")
# The timeline's line for a refused unit, in the demo's output (wrapped where it is long).
_TIMELINE_REFUSED = re.compile(
    r"refused:\s+service[12]'s\s+unit\s+\d+\s+\(token\s+0x[0-9a-f]+\)\s+REFUSED\s+by\s+"
    r"ZooKeeper:\s+(node_gone|older_token)"
)


def _run_demo(project: ComposeProject, verb: str) -> tuple[str, str, float, str]:
    """Run `make demo-<verb>` from a steady state: (leader, other, start time, output)."""
    leader, other = project.wait_steady()
    started = time.time()
    done = project.make(f"demo-{verb}")
    project.forget_containers()  # demo-mid-work-pause recreates the workers
    output = f"{done.stdout}\n----- stderr\n{done.stderr}"
    assert done.returncode == 0, f"make demo-{verb} exited {done.returncode}:\n{output}"
    assert done.stderr.strip() == "", output
    assert "==> " in done.stdout and _SHOWN_TICK.search(done.stdout), output
    wrong = project.not_running_and_healthy()
    assert not wrong, f"make demo-{verb} returned with {wrong}:\n{output}"
    project.wait_steady(timeout=15)
    ticks = project.ticks()
    assert violations(ticks) == [], summary(ticks)
    _judged_from_the_ledger(project, started)
    return leader, other, started, done.stdout


def _judged_from_the_ledger(project: ComposeProject, since: float) -> None:
    """The ledger's judge finds no violation in the demo's window, and where the ledger
    and the logs both reach, every unit has its processing line: as many of each."""
    judged = project.judge(since)
    assert judged.returncode == 0, f"{judged.stdout}\n{judged.stderr}"
    counts = _BOTH_COVER.search(judged.stdout)
    assert counts, judged.stdout
    units, lines = int(counts["units"]), int(counts["lines"])
    assert units == lines > 0, judged.stdout


def _restarted_nodes(project: ComposeProject, since: float) -> dict[str, tuple[float, float]]:
    """ZooKeeper nodes stopped and started since `since`: {node: (stopped, started)}."""
    found = {}
    for node in ZK_NODES:
        state = project.state(node)
        started = docker_time(state["StartedAt"])
        if started > since:
            found[node] = (docker_time(state["FinishedAt"]), started)
    return found


def _longest_gap(ticks: list[Tick]) -> float:
    times = [tick.time for tick in ticks]
    return max((b - a for a, b in zip(times, times[1:], strict=False)), default=0.0)


def test_demo_stop(project: ComposeProject, measure) -> None:
    leader, other, started, _ = _run_demo(project, "stop")
    shutdown = project.events_after(leader, Event.SHUTDOWN, started)
    assert shutdown and shutdown[0]["signal"] == "SIGTERM" and shutdown[0]["exit_code"] == 0
    lost = project.events_after(leader, Event.LEADERSHIP_LOST, started)[0]
    first = first_tick_after(project.ticks(), started, exclude_service=leader)
    assert first is not None and first.service == other
    takeover_s = first.time - parse_time(str(lost["time"]))
    measure("demo-stop: leadership given up to the other's first Processing", takeover_s)
    assert takeover_s < 1.0, summary(project.ticks())
    assert project.role(leader) == Event.FOLLOWING


def test_demo_kill(project: ComposeProject, measure) -> None:
    leader, other, started, output = _run_demo(project, "kill")
    assert "exited with code 137" in output
    ticks = project.ticks()
    first = first_tick_after(ticks, started, exclude_service=leader)
    assert first is not None and first.service == other
    last = [tick for tick in ticks if tick.service == leader and tick.time < first.time][-1]
    silence_s = first.time - last.time
    measure("demo-kill: the killed leader's last Processing to the other's first", silence_s)
    assert silence_s <= SESSION_TIMEOUT_S + 3, summary(ticks)
    assert project.events_after(leader, Event.STARTED, started), f"{leader} was not started again"
    assert project.role(leader) == Event.FOLLOWING


def test_demo_pause(project: ComposeProject) -> None:
    leader, other, started, _ = _run_demo(project, "pause")
    ticks = project.ticks()
    first = first_tick_after(ticks, started, exclude_service=leader)
    assert first is not None and first.service == other
    late = ticks_after(ticks, leader, first.time)
    assert late == [], f"{leader} processed after {other} took over: {late}"
    assert project.role(leader) == Event.FOLLOWING
    _assert_drawn_over(project.timeline(started), leader, "=", "frozen (docker pause)")


def test_demo_partition(project: ComposeProject) -> None:
    leader, _ = project.wait_steady()
    leader_started_at = project.state(leader)["StartedAt"]
    leader, other, started, _ = _run_demo(project, "partition")
    ticks = project.ticks()
    first = first_tick_after(ticks, started, exclude_service=leader)
    assert first is not None and first.service == other
    assert ticks_after(ticks, leader, first.time) == [], "it led again after rejoining"
    assert project.state(leader)["StartedAt"] == leader_started_at, "the worker restarted"
    assert project.role(leader) == Event.FOLLOWING
    # The timeline draws the cut once the daemon has forgotten it (it keeps its last 256
    # events, the health checks make several a second): from the demo's saved events.
    wait_until(
        lambda: not project.cuts(leader, started),
        timeout=120,
        interval=2,
        message="Docker's daemon to forget the demo's network disconnect",
    )
    _assert_drawn_over(project.timeline(started), leader, "x", "cut off (network disconnect)")


def _assert_drawn_over(timeline: str, lane: str, char: str, legend: str) -> None:
    """The timeline's text shows `lane` with `char` over some of its row, and the legend
    names it."""
    # The lane's row: its name padded to the labels' width, then the row ("service1  AA==").
    rows = [line for line in timeline.splitlines() if re.match(rf"{lane}  +\S", line)]
    assert len(rows) == 1 and char in rows[0][len(lane) :], timeline
    assert f"'{char}' {legend}" in " ".join(timeline.split()), timeline


def test_demo_quorum(project: ComposeProject, measure) -> None:
    _, _, started, _ = _run_demo(project, "quorum")
    nodes = _restarted_nodes(project, started)
    assert len(nodes) == 2, nodes
    down = max(stopped for stopped, _ in nodes.values())
    back = min(started_again for _, started_again in nodes.values())
    measure("demo-quorum: seconds without a quorum", back - down)
    # The survivor stops serving when the second node goes; a lease lasts at most half a
    # session, but the connection drops at once: no tick a second after that.
    during = ticks_between(project.ticks(), down + 1.0, back)
    assert during == [], f"processing without a quorum: {summary(during)}"
    assert first_tick_after(project.ticks(), back) is not None


def test_demo_zk_leader_right_after_quorum(project: ComposeProject, measure) -> None:
    """Right after demo-quorum: the worker leader pauses under 3 s, same token, alone."""
    leader, _, started, _ = _run_demo(project, "zk-leader")
    nodes = _restarted_nodes(project, started)
    assert len(nodes) == 1, nodes
    ((node, (stopped, started_again)),) = nodes.items()
    window = ticks_between(project.ticks(), stopped - 2.0, started_again + 1.0)
    assert {tick.service for tick in window} == {leader}, summary(window)
    assert len({tick.token for tick in window}) == 1, "the worker leader was elected anew"
    pause_s = _longest_gap(window)
    measure(f"demo-zk-leader ({node} stopped): longest pause in Processing", pause_s)
    assert pause_s < ZK_LEADER_PAUSE_BOUND_S, summary(window)


def test_demo_mid_work_pause(project: ComposeProject) -> None:
    """The leader frozen in the middle of a slow unit: on thaw its write reaches ZooKeeper
    with its old token and is refused, shown by the demo, by the timeline it draws and
    by the judge it runs; the workers are put back as they were (WORK_S=0, fenced)."""
    _, _, _, output = _run_demo(project, "mid-work-pause")
    assert "REFUSED: ZooKeeper turned down the stale leader's unit" in output, output
    assert re.search(r"service[12]  Unit refused by ZooKeeper: ", output), output
    assert _TIMELINE_REFUSED.search(output), output
    assert "verdict: no violation" in output, output
    for worker in ("service1", "service2"):
        env = project.inspect(worker)["Config"]["Env"]
        assert "WORK_S=0" in env and "LEDGER_FENCING=on" in env, env


def test_demo_without_the_project_says_so_in_one_line(project: ComposeProject) -> None:
    """A verb run where no project is up fails at once, in one line, without a traceback."""
    done = subprocess.run(
        ["make", "--no-print-directory", "demo-stop", f"COMPOSE={project.command_words}"],
        cwd=project.root,
        env={**project.env, "COMPOSE_PROJECT_NAME": f"{project.name}absent"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    errors = [line for line in done.stderr.splitlines() if line.startswith("demo: ")]
    assert len(errors) == 1 and "no containers" in errors[0], done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_recreated_nodes_keep_their_data_and_the_workers_go_on(project: ComposeProject) -> None:
    """`ZOO_LOG_LEVEL=INFO docker compose up -d` recreates the three nodes; their data
    must stay (named volumes): Compose v1 gave a recreated node new, empty anonymous
    volumes, and every server then refused the workers, which had seen newer zxids."""
    project.wait_steady()
    before = {node: project.container(node) for node in ZK_NODES}
    zxid_before = max(int(project.srvr(node).get("Zxid", "0x0"), 16) for node in ZK_NODES)
    project.compose("up", "-d", timeout=300, env={"ZOO_LOG_LEVEL": "INFO"})
    project.forget_containers()
    recreated = [node for node in ZK_NODES if project.container(node) != before[node]]
    assert recreated == list(ZK_NODES), f"only {recreated} were recreated"
    project.wait_healthy()
    zxid_after = max(int(project.srvr(node).get("Zxid", "0x0"), 16) for node in ZK_NODES)
    assert zxid_after >= zxid_before, f"zxid {zxid_after:#x} < {zxid_before:#x}: data lost"
    project.wait_steady(timeout=90)
