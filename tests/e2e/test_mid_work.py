"""The mid-work exercise (`make demo-mid-work-pause`), ten rounds each way, on each
Compose generation: why fencing matters, shown by the store.

The workers are recreated with a slow unit of work (WORK_S=2) and a short session
(ZK_SESSION_TIMEOUT_S=4, the least ZooKeeper grants with its default tickTime), so a
round takes about ten seconds. A round: wait until the leader logs that it started a
unit, freeze it (`docker pause`), wait until the other worker leads and records a unit
in the ledger, thaw it. The thawed leader finishes its unit and writes it with its old
fencing token:

- with the ledger's checks on (the default), ZooKeeper refuses the write: the leader
  logs ``unit_refused`` with the reason ``node_gone`` (its election node went with its
  session) or ``older_token`` (the ledger holds a newer token), and no Processing;
- with LEDGER_FENCING=off (teaching only), the write is accepted, and the ledger's
  judge (`python -m testbed.ledger`, what `make judge` runs) flags it and exits 1.

Each is asserted in every one of the ten rounds; the rounds' durations are measured.
The workers are put back (WORK_S=0, fencing on, the project's session) at the end.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from common.ledger import Why
from common.logs import Event
from testbed.checker import parse_time
from testbed.processes import wait_until
from tests.e2e.compose_project import WORKERS, ComposeProject

# Ten rounds of about ten seconds, a wait for a steady project before each, and the
# workers recreated twice (Compose v1 is the slower): more than the default 300 s.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

ROUNDS = 10
WORK_S = 2
SESSION_S = 4
_SLOW = {"WORK_S": str(WORK_S), "ZK_SESSION_TIMEOUT_S": str(SESSION_S)}
_REFUSED_FOR = (Why.NODE_GONE, Why.OLDER_TOKEN)


def _recreate(project: ComposeProject, env: dict[str, str]) -> None:
    """The workers again with `env` (Compose recreates them: their settings changed)."""
    project.compose("up", "-d", "--no-deps", *WORKERS, env=env, timeout=180)
    project.forget_containers()


@pytest.fixture
def slow(project: ComposeProject, request: pytest.FixtureRequest) -> Iterator[ComposeProject]:
    """The project with slow workers, fenced as the test's parameter says; put back after."""
    started = time.time()
    _recreate(project, {**_SLOW, "LEDGER_FENCING": request.param})
    print(f"slow workers recreated in {time.time() - started:.1f} s")
    try:
        yield project
    finally:
        started = time.time()
        _recreate(project, {"WORK_S": "0", "LEDGER_FENCING": "on"})
        project.wait_steady(timeout=90)
        print(f"workers put back and steady in {time.time() - started:.1f} s")


def _after(project: ComposeProject, service: str, name: str, t: float) -> list[dict[str, Any]]:
    return project.events_after(service, name, t)


def _slow_steady(project: ComposeProject) -> tuple[str, str]:
    """One worker recording units (one every WORK_S + 1 s), the other following."""

    def steady() -> tuple[str, str] | None:
        recent = [t for t in project.ticks() if t.time > time.time() - 2 * (WORK_S + 1) - 1]
        if len(recent) < 2 or len({t.service for t in recent}) != 1:
            return None
        leader = recent[-1].service
        other = next(w for w in WORKERS if w != leader)
        return (leader, other) if project.role(other) == Event.FOLLOWING else None

    return wait_until(steady, timeout=60, interval=0.3, message="one slow worker leading")


def _round(project: ComposeProject) -> tuple[str, str, float, float, dict[str, Any]]:
    """Freeze the leader mid-unit past its session, let the other record, thaw it.

    (leader, other, when the round began, when the leader was thawed, its first answer
    after the thaw: a unit_refused or a processing line)."""
    waited = time.time()
    leader, other = _slow_steady(project)
    began = time.time()
    print(f"steady after {began - waited:.1f} s")
    wait_until(
        lambda: _after(project, leader, Event.WORK_STARTED, began),
        timeout=WORK_S + 10,
        interval=0.1,
        message=f"{leader} to start a unit",
    )
    project.docker("pause", project.container(leader))
    try:
        paused = time.time()
        wait_until(
            lambda: _after(project, other, Event.PROCESSING, paused),
            timeout=SESSION_S + WORK_S + 20,
            interval=0.3,
            message=f"{other} to lead and record a unit while {leader} is frozen",
        )
    finally:
        # Taken before the unpause: the frozen worker wrote nothing since the pause, and
        # its first lines (lost leadership, following) may come before `unpause` returns.
        thawed = time.time()
        project.docker("unpause", project.container(leader))

    def answer() -> dict[str, Any] | None:
        found = [
            e
            for e in project.events(leader)
            if e.get("event") in (Event.UNIT_REFUSED, Event.PROCESSING)
            and parse_time(str(e["time"])) > thawed
        ]
        return found[0] if found else None

    first = wait_until(answer, timeout=20, interval=0.2, message=f"{leader}'s write answered")
    project.wait_following(leader, thawed, timeout=30)
    return leader, other, began, thawed, first


@pytest.mark.parametrize("slow", ["on"], indirect=True)
def test_mid_work_pause_fenced_the_thawed_leader_is_refused(slow: ComposeProject, measure) -> None:
    refused, reasons, first_began = 0, [], time.time()
    for n in range(1, ROUNDS + 1):
        leader, other, began, thawed, first = _round(slow)
        measure(f"mid-work round {n} (fencing on)", time.time() - began)
        assert first.get("event") == Event.UNIT_REFUSED, f"round {n}: {leader} wrote: {first}"
        assert first.get("reason") in _REFUSED_FOR, f"round {n}: {first}"
        late = _after(slow, leader, Event.PROCESSING, thawed)
        assert late == [], f"round {n}: {leader} recorded after it was thawed: {late}"
        refused += 1
        reasons.append(first["reason"])
    print(f"refused {refused}/{ROUNDS} ({', '.join(reasons)})")
    measure(f"mid-work rounds refused (fencing on, {slow.generation})", refused, "of 10")
    judged = slow.judge(since=first_began)
    assert judged.returncode == 0, judged.stdout + judged.stderr


@pytest.mark.parametrize("slow", ["off"], indirect=True)
def test_mid_work_pause_unfenced_the_judge_flags_the_stale_unit(
    slow: ComposeProject, measure
) -> None:
    flagged = 0
    for n in range(1, ROUNDS + 1):
        leader, _other, began, _thawed, first = _round(slow)
        assert first.get("event") == Event.PROCESSING, f"round {n}: {first}"
        judged = slow.judge(since=began)
        measure(f"mid-work round {n} (fencing off, judged)", time.time() - began)
        verdict = judged.stdout
        assert judged.returncode == 1, f"round {n}: the judge found nothing:\n{verdict}"
        stale = f"unit {first['unit']} by {leader} has token {int(first['fencing_token'])} after"
        assert f"VIOLATION token down: {stale}" in verdict, f"round {n}:\n{verdict}"
        flagged += 1
    print(f"flagged {flagged}/{ROUNDS}")
    measure(f"mid-work rounds flagged (fencing off, {slow.generation})", flagged, "of 10")
