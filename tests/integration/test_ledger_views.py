"""Seeing the ledger against a real ensemble: `status` (once, --json, --watch), `status
--ledger` and the dashboard's strip show the units the workers recorded, and a refusal
(a leader deposed in the middle of a slow unit: its write is refused by ZooKeeper).
"""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

import pytest

from common.logs import Event
from common.observer import depose
from testbed.processes import event_named, wait_until
from tests.integration.helpers import events_named, leader_and_followers, wait_following
from tests.integration.test_dashboard_live import dashboard  # noqa: F401 - a fixture
from tests.integration.test_status_command import WatchProcess, _status, watch  # noqa: F401

pytestmark = pytest.mark.integration

WORK_S = 1.0  # a slow unit, so that the leader can be deposed in the middle of one


def _json_status(ensemble, path: str) -> dict[str, Any]:
    done = _status(ensemble, path, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _state(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/state", timeout=5) as answer:
        return json.loads(answer.read())


def _logged_units(worker) -> list[int]:
    return [e["unit"] for e in events_named(worker, Event.PROCESSING) if "unit" in e]


def test_units_and_a_refusal_show_in_status_the_watch_the_history_and_the_page(
    ensemble,
    spawn_worker,
    election_path,
    dashboard,  # noqa: F811
    watch,  # noqa: F811
    measure,
) -> None:
    # The page and the watch start before any ledger exists: they wait for its creation.
    watcher = WatchProcess(ensemble, election_path, "--json")
    watch.append(watcher)
    workers = [spawn_worker(name, WORK_S=WORK_S) for name in ("service1", "service2")]
    leader, (follower,) = leader_and_followers(workers, timeout=30, min_ticks=2)
    wait_following(follower, timeout=10)

    # Once: the newest units, newest first, the leader's; nothing refused.
    status = _json_status(ensemble, election_path)["ledger"]
    assert status["path"] == election_path + "-work" and status["exists"], status
    seqs = [u["seq"] for u in status["units"]]
    assert seqs == sorted(seqs, reverse=True) and len(seqs) >= 2, status
    assert {u["worker"] for u in status["units"]} == {leader.name}
    assert seqs[0] >= max(_logged_units(leader)) and status["units"][0]["fenced"]
    assert (status["refused"], status["last_refusal"], status["error"]) == (0, None, None)

    # Deposed in the middle of a unit: its write reaches ZooKeeper after its node is gone.
    began = len(events_named(leader, Event.WORK_STARTED))
    wait_until(
        lambda: len(events_named(leader, Event.WORK_STARTED)) > began,
        timeout=WORK_S * 3 + 10,
        message=f"{leader.name} beginning a unit",
    )
    deposed_at = time.time()
    depose(ensemble.connect_string(), election_path)
    refused = leader.wait_for_event(
        event_named(Event.UNIT_REFUSED), timeout=WORK_S + 10, message="the unit refused"
    )

    status = wait_until(
        lambda: (s := _json_status(ensemble, election_path)["ledger"])["refused"] and s,
        timeout=10,
        message="status counting the refusal",
    )
    last = status["last_refusal"]
    assert status["refused"] == 1 and last["worker"] == leader.name, status
    assert (last["seq"], last["reason"]) == (refused["unit"], refused["reason"])
    assert last["fencing_token"] == refused["fencing_token"]

    # The history: one line per unit, the refusal marked among them.
    done = _status(ensemble, election_path, "--ledger", "50")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"ledger {election_path}-work: the newest unit is ")
    marked = [line for line in lines if " REFUSED " in line]
    assert len(marked) == 1 and leader.name in marked[0] and refused["reason"] in marked[0]
    units = [int(line.split()[2]) for line in lines[1:] if line.split()[1] == "unit"]
    assert units == sorted(units) and set(_logged_units(leader)) <= set(units)

    # The watch: a JSON line per change of the ledger; the refusal among its changes.
    def watched_refusal() -> tuple[float, dict] | None:
        return next(((at, s) for at, s in watcher.json_after(0) if s["ledger"]["refused"]), None)

    at, seen = wait_until(watched_refusal, timeout=10, message="the watch showing the refusal")
    measure("status --watch: depose -> the refusal on screen", at - deposed_at)
    assert any("REFUSED" in text and leader.name in text for text in seen["changes"]), seen
    growing = [
        s["ledger"]["units"][0]["seq"] for _, s in watcher.json_after(0) if s["ledger"]["units"]
    ]
    assert len(set(growing)) >= 2, "the watch did not follow the units"

    # The page: one mark per unit from the ledger, the refused one marked.
    def page_with_refusal() -> dict | None:
        work = _state(dashboard)["work"]
        return work if any(u["refused"] for u in work["units"]) else None

    work = wait_until(page_with_refusal, timeout=10, message="the page marking the refusal")
    assert work["source"] == "ledger"
    (mark,) = [u for u in work["units"] if u["refused"]]
    assert (mark["seq"], mark["worker"]) == (refused["unit"], leader.name)
    accepted = {u["seq"] for u in work["units"] if not u["refused"]}
    assert set(_logged_units(leader)) <= accepted
    watcher.interrupt()
