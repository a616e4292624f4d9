"""docker-compose.yml, run for real: the README's demo and its faults, judged from the logs.

One compose project per Compose generation serves every scenario, in file order; each
starts from a steady state (one worker ticking, the other following, the ensemble
healthy) and the ``project`` fixture makes the project whole again afterwards. The
faults are the user's own commands: `stop`, `kill`, `pause`, `docker network
disconnect`. Times are the workers' own log times against the moment the test issued
the command, both read off this host's clock. The containers' hardening and the
workers' secret are read with `docker inspect` and `docker exec`.

The property codes (E1-E12) are defined in docs/properties.md.
"""

from __future__ import annotations

import subprocess
import time

import pytest

from common.logs import Event
from testbed.checker import (
    first_tick_after,
    spacings,
    summary,
    ticks_after,
    ticks_between,
    violations,
)
from testbed.processes import wait_until
from tests.e2e.compose_project import (
    SESSION_TIMEOUT_S,
    WORKERS,
    ZK_LEADER_PAUSE_BOUND_S,
    ZK_NODES,
    ZK_TICK_S,
    ComposeProject,
)
from workshop.compose import docker_time

pytestmark = pytest.mark.e2e

# The workers' secret, as committed: the compose file mounts it at /run/secrets/zk-auth.
AUTH_SECRET = "docker/zk-auth.secret"


def _assert_one_leader_at_a_time(project: ComposeProject) -> None:
    """E1 over the whole run so far: tokens never go down, no two leaders overlap."""
    ticks = project.ticks()
    assert violations(ticks) == [], summary(ticks)


def _takeover(project: ComposeProject, old_leader: str, since: float, timeout: float):
    """The first tick after `since` by a worker other than `old_leader` (waits for it)."""
    return wait_until(
        lambda: first_tick_after(project.ticks(), since, exclude_service=old_leader),
        timeout=timeout,
        interval=0.25,
        message=f"a worker other than {old_leader} ticking",
    )


def _observe(seconds_until: float) -> None:
    """Let the clock run to `seconds_until` (epoch): a window judged afterwards from the logs."""
    time.sleep(max(0.0, seconds_until - time.time()))


def test_up_one_worker_processes_once_per_second(project: ComposeProject, measure) -> None:
    leader, other = project.wait_steady()
    first = project.ticks()[0]
    assert project.up_started is not None
    measure("up -d (images built) to the first Processing", first.time - project.up_started)

    start = time.time()
    wait_until(
        lambda: len(ticks_after(project.ticks(), leader, start)) >= 6,
        timeout=15,
        interval=0.5,
        message=f"six ticks of {leader}",
    )
    window = ticks_between(project.ticks(), start, time.time())
    assert {tick.service for tick in window} == {leader}, summary(window)
    gaps = spacings(window, leader)
    assert all(0.7 <= gap <= 1.3 for gap in gaps), f"tick spacings {gaps}"
    assert project.role(other) == Event.FOLLOWING
    _assert_one_leader_at_a_time(project)


def test_zookeeper_is_quiet_in_steady_state(project: ComposeProject) -> None:
    """`docker compose up` reads as the workers' story: over 20 s of steady state the
    ZooKeeper nodes log fewer lines than the workers, and none says "Processing" (at
    INFO every node logs "Processing srvr command" for each healthcheck)."""
    project.wait_steady()
    start = time.time()
    _observe(start + 20)
    end = time.time()

    def lines(service: str) -> list[str]:
        done = subprocess.run(
            ["docker", "logs", "--since", f"{start:.3f}", "--until", f"{end:.3f}"]
            + [project.container(service)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=30,
            check=True,
        )
        return done.stdout.splitlines()

    zookeeper = [line for node in ZK_NODES for line in lines(node)]
    workers = [line for service in WORKERS for line in lines(service)]
    assert len(workers) >= 15, f"the leader hardly worked: {workers}"
    assert len(zookeeper) < len(workers), "\n".join(zookeeper)
    assert not [line for line in zookeeper if "Processing" in line], "\n".join(zookeeper)


def test_containers_run_with_least_privilege(project: ComposeProject) -> None:
    """Read-only root file systems, no capabilities, no-new-privileges, memory and pid
    limits, not root: as `docker inspect` and the kernel (/proc/1/status) see them."""
    for service in (*WORKERS, *ZK_NODES):
        info = project.inspect(service)
        host = info["HostConfig"]
        assert host["ReadonlyRootfs"] is True, service
        assert host["CapDrop"] == ["ALL"] and not host["CapAdd"], (service, host["CapAdd"])
        assert any(opt.startswith("no-new-privileges") for opt in host["SecurityOpt"]), service
        assert host["Memory"] > 0 and (host["PidsLimit"] or 0) > 0, service
        assert info["Config"]["User"] not in ("", "0", "root"), service

        status = project.exec(service, "cat", "/proc/1/status").stdout
        fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
        assert fields["CapEff"].strip() == "0000000000000000", (service, fields["CapEff"])
        assert fields["NoNewPrivs"].strip() == "1", service
        assert fields["Uid"].split()[0] != "0", service
        assert project.exec(service, "touch", "/probe").returncode != 0, f"{service}: / writable"
        assert project.exec(service, "touch", "/tmp/probe").returncode == 0, service


def test_workers_read_their_auth_secret(project: ComposeProject) -> None:
    """The compose file's secret reaches each worker, readable by its own user (10001)."""
    expected = (project.root / AUTH_SECRET).read_text(encoding="utf-8")
    for service in WORKERS:
        env = dict(item.split("=", 1) for item in project.inspect(service)["Config"]["Env"])
        path = env.get("ZK_AUTH_FILE")
        assert path == "/run/secrets/zk-auth", env
        read = project.exec(service, "python", "-c", f"print(open({path!r}).read(), end='')")
        assert read.returncode == 0, read.stderr
        assert read.stdout == expected
        assert project.exec(service, "id", "-u").stdout.strip() == "10001"


def test_stop_leader_hands_over_at_once_and_exits_zero(project: ComposeProject, measure) -> None:
    leader, other = project.wait_steady()

    issued = time.time()
    project.compose("stop", leader)
    first = _takeover(project, leader, issued, timeout=10)
    takeover_s = first.time - issued
    measure("stop: command to the other's first Processing", takeover_s)
    assert first.service == other
    # The handover from the leader's giving up (its SIGTERM), not from the command, whose
    # CLI may take a second to start on a busy machine; the 10 s wait above already says
    # no session timeout was waited for.
    gave_up = project.gave_up_at(leader, issued)
    handover_s = first.time - gave_up
    measure("stop: the leader giving up to the other's first Processing", handover_s)
    assert handover_s < 2.0, summary(project.ticks())

    state = project.state(leader)
    finished = docker_time(state["FinishedAt"])
    measure("stop: command to the stopped container's exit", finished - issued)
    assert not state["Running"]
    assert state["ExitCode"] == 0, state
    # From the SIGTERM's line too: Docker's SIGKILL would come 10 s after the signal.
    exited_s = finished - gave_up
    measure("stop: the leader giving up to its container's exit", exited_s)
    assert exited_s < 3.0, "exited on Docker's SIGKILL after the grace period, not on SIGTERM"

    restarted = time.time()
    project.compose("start", leader)
    project.wait_following(leader, restarted, timeout=30)
    _assert_one_leader_at_a_time(project)


def test_kill_leader_fails_over_within_session_timeout(project: ComposeProject, measure) -> None:
    leader, other = project.wait_steady()

    issued = time.time()
    project.compose("kill", leader)
    first = _takeover(project, leader, issued, timeout=SESSION_TIMEOUT_S + 10)
    measure("kill: command to the other's first Processing", first.time - issued)
    assert first.service == other
    state = project.state(leader)
    assert state["ExitCode"] == 137  # SIGKILL
    # From the leader's death (its container's exit), not from the command, whose CLI
    # took over 0.5 s to reach it once with both cores busy. ZooKeeper expires a session in
    # buckets of one tickTime (the images' 2 s): between the timeout and the timeout plus
    # a tick after the last packet it heard, which came before the death. Then 1 s for
    # the close to reach the other and its first unit to be written.
    takeover_s = first.time - docker_time(state["FinishedAt"])
    measure("kill: the leader's death to the other's first Processing", takeover_s)
    assert takeover_s <= SESSION_TIMEOUT_S + ZK_TICK_S + 1, summary(project.ticks())

    restarted = time.time()
    project.compose("start", leader)
    project.wait_following(leader, restarted, timeout=30)
    _assert_one_leader_at_a_time(project)


def test_paused_leader_never_processes_after_takeover(project: ComposeProject, measure) -> None:
    leader, other = project.wait_steady()

    issued = time.time()
    project.compose("pause", leader)
    first = _takeover(project, leader, issued, timeout=SESSION_TIMEOUT_S + 10)
    measure("pause: command to the other's first Processing", first.time - issued)
    assert first.service == other
    # The takeover needed the session's expiry, which ZooKeeper counts from the last
    # ping it heard, maybe before the pause; keep it frozen past a full timeout anyway.
    _observe(issued + SESSION_TIMEOUT_S + 1)

    unpaused = time.time()
    project.compose("unpause", leader)
    project.wait_following(leader, unpaused, timeout=30)
    late = ticks_after(project.ticks(), leader, first.time)
    assert late == [], f"{leader} processed after {other} took over: {late}"
    assert project.events_after(leader, Event.LEADERSHIP_LOST, unpaused) or project.events_after(
        leader, Event.ZK_STATE, unpaused
    ), f"{leader} logged nothing about its lost session after unpause"
    _assert_one_leader_at_a_time(project)


def test_disconnected_leader_stops_and_rejoins_as_follower(
    project: ComposeProject, measure
) -> None:
    leader, other = project.wait_steady()
    network = project.network(leader)
    container = project.container(leader)

    issued = time.time()
    project.docker("network", "disconnect", network, container)
    # Read at once: the daemon forgets events within half a minute (its last 256).
    cuts = project.cuts(leader, issued)
    assert cuts, f"Docker reports no disconnect of {leader}'s container"
    first = _takeover(project, leader, issued, timeout=SESSION_TIMEOUT_S + 15)
    measure("partition: disconnect to the other's first Processing", first.time - issued)
    assert first.service == other
    # Cut off, the leader works on only while its last lease lasts (half a session
    # timeout from the last read ZooKeeper answered, sent before the cut, common.election),
    # so it stops before its session can expire. Bounded from the cut itself (the daemon's
    # disconnect event), not from the command, whose CLI can take over half a second to
    # reach the daemon with both cores busy.
    cut = cuts[0]
    cut_off = ticks_after(project.ticks(), leader, issued)
    last = cut_off[-1].time if cut_off else cut
    measure("partition: the cut to the cut-off leader's last Processing", last - cut)
    assert last - cut <= SESSION_TIMEOUT_S / 2 + 0.5, f"{leader} kept processing: {cut_off}"

    reconnected = time.time()
    project.docker("network", "connect", "--alias", leader, network, container)
    following_at = project.wait_following(leader, reconnected, timeout=40)
    measure("partition: reconnect to following again", following_at - reconnected)
    assert project.state(leader)["Running"], "the worker restarted or died instead of rejoining"
    assert ticks_after(project.ticks(), leader, last) == [], "it led again after rejoining"
    _assert_one_leader_at_a_time(project)


def test_zookeeper_leader_loss_keeps_the_worker_leader(project: ComposeProject, measure) -> None:
    leader, other = project.wait_steady()
    token = ticks_after(project.ticks(), leader, 0)[-1].token
    node = project.zk_leader()

    issued = time.time()
    project.compose("stop", node)
    node_down = time.time()
    resumed = wait_until(
        lambda: ticks_after(project.ticks(), leader, node_down),
        timeout=SESSION_TIMEOUT_S + 5,
        interval=0.25,
        message=f"{leader} processing again after {node} stopped",
    )
    # Long enough that a lost session would have shown: expiry plus the other's takeover.
    _observe(issued + SESSION_TIMEOUT_S + 3)
    after = ticks_between(project.ticks(), issued, time.time())
    pause_s = _longest_gap(after, issued)
    measure("ZooKeeper leader stopped: longest pause in Processing", pause_s)
    assert {tick.service for tick in after} == {leader}, summary(after)
    assert pause_s < ZK_LEADER_PAUSE_BOUND_S, summary(after)
    assert {tick.token for tick in after} == {token}, "the worker leader was elected anew"
    assert resumed

    project.compose("start", node)
    project.wait_healthy()
    _assert_one_leader_at_a_time(project)


def test_quorum_loss_stops_everyone_and_its_return_elects_one(
    project: ComposeProject, measure
) -> None:
    project.wait_steady()
    # The ZooKeeper leader and one follower: the survivor, a follower, stops serving at
    # once (a surviving leader would serve on for up to syncLimit ticks).
    zk_leader = project.zk_leader()
    followers = [node for node in ZK_NODES if node != zk_leader]
    stopped = [zk_leader, followers[0]]

    project.compose("stop", *stopped)
    down = time.time()
    _observe(down + SESSION_TIMEOUT_S + 2)
    during = ticks_between(project.ticks(), down + 1.0, time.time())
    assert during == [], f"processing without a quorum: {summary(during)}"

    restarted = time.time()
    project.compose("start", *stopped)
    leader, _ = project.wait_steady(timeout=90)
    first = first_tick_after(project.ticks(), restarted)
    assert first is not None
    measure("quorum back: start command to the first Processing", first.time - restarted)
    assert {tick.service for tick in ticks_after(project.ticks(), leader, restarted)} == {leader}
    _assert_one_leader_at_a_time(project)


def _longest_gap(ticks, since: float) -> float:
    times = [since] + [tick.time for tick in ticks]
    return max((b - a for a, b in zip(times, times[1:], strict=False)), default=0.0)
