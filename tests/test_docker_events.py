"""Docker's events as the timeline reads them (workshop/compose.py: event_records).

The lines are Docker 20.10's own (`docker events --format '{{json .}}'`), recorded on a
labelled container of a one-container network: `docker network disconnect`, `connect`,
`pause`, `unpause`, then `stop`; its ids and times kept, its attributes trimmed to what
the timeline reads.
"""

from __future__ import annotations

import json

import pytest

from workshop.compose import event_records
from workshop.records import Record

C1 = "4e5b5f4c24899f30cefce060c19635d8c9b665432ca4478fdb6c6800c37f99f7"
NET = "80d6fc6863b364ff9eeb01c0c08db82c57ee6a9e64f4ded8a4f6ecc1fcdad046"
PROJECT = "zkcap"


def _container(action: str, nanos: int, project: str = PROJECT, **extra: str) -> str:
    attributes = {
        "com.docker.compose.project": project,
        "com.docker.compose.service": "service1",
        "name": "zkcap_c1",
        **extra,
    }
    return json.dumps(
        {
            "status": action,
            "id": C1,
            "Type": "container",
            "Action": action,
            "Actor": {"ID": C1, "Attributes": attributes},
            "scope": "local",
            "time": nanos // 10**9,
            "timeNano": nanos,
        }
    )


def _network(action: str, nanos: int, container: str = C1) -> str:
    return json.dumps(
        {
            "Type": "network",
            "Action": action,
            "Actor": {
                "ID": NET,
                "Attributes": {"container": container, "name": "zkcap_net", "type": "bridge"},
            },
            "scope": "local",
            "time": nanos // 10**9,
            "timeNano": nanos,
        }
    )


# In the order Docker reported them; a container's start is wired 0.46 s before it, its
# stop unwired 49 ms after its `die`, and one `network disconnect` is reported twice.
RECORDED = [
    _network("connect", 1796414933196119944),  # `run`: wiring, not a reconnection
    _container("start", 1796414933657422868),
    _network("disconnect", 1796414934745418855),  # the cut
    _network("disconnect", 1796414934750146732),  # ... reported again
    _network("connect", 1796414934794228411),  # back on the network
    _container("pause", 1796414934823883500),
    _container("unpause", 1796414934851533700),
    _container("kill", 1796414935891789700, signal="15"),
    _container("die", 1796414935922055700, exitCode="0"),
    _network("disconnect", 1796414935971329360),  # `stop`: unwiring, not a cut
    _container("stop", 1796414935989682400),
]
SINCE, UNTIL = 1796414933.0, 1796414936.5


def _events(lines, known=(), since=SINCE, until=UNTIL) -> list[tuple[str, float]]:
    records = event_records(lines, list(known), {C1: "service1"}, {PROJECT}, since, until)
    return [(r.event, round(r.time - SINCE, 3)) for r in sorted(records, key=lambda r: r.time)]


def test_a_cut_and_a_reconnection_are_drawn_and_a_containers_wiring_is_not() -> None:
    assert _events(RECORDED) == [
        ("container_start", 0.657),
        ("network_disconnect", 1.745),
        ("network_connect", 1.794),
        ("container_pause", 1.824),
        ("container_unpause", 1.852),
        ("container_kill", 2.892),
        ("container_die", 2.922),
        ("container_stop", 2.99),
    ]


def test_the_signal_and_the_exit_code_come_with_their_events() -> None:
    records = event_records(RECORDED, [], {C1: "service1"}, {PROJECT}, SINCE, UNTIL)
    fields = {r.event: r.fields for r in records}
    assert fields["container_kill"] == {"signal": "SIGTERM"}
    assert fields["container_die"] == {"exit_code": "0"}


def test_an_exit_known_from_docker_inspect_still_explains_its_unwiring() -> None:
    # The daemon forgot the `die`: `docker inspect` knows the exit, and its unwiring
    # is still no cut.
    known = [Record(1796414935.922, "service1", "container_die", {"exit_code": 0})]
    assert _events(RECORDED[9:], known) == [("container_die", 2.922), ("container_stop", 2.99)]


def test_saved_and_live_copies_of_one_event_are_one() -> None:
    assert _events(RECORDED[2:5] + RECORDED[2:5]) == [
        ("network_disconnect", 1.745),
        ("network_connect", 1.794),
    ]


@pytest.mark.parametrize(
    "line",
    [
        _container("pause", 1796414934823883500, project="another"),  # another project
        _network("disconnect", 1796414934745418855, container="f" * 64),  # not ours
        _container("pause", 1796414932_900000000),  # before the window
        _container("pause", 1796414936_600000000),  # after it
        _container("exec_start: zkOk.sh", 1796414934823883500),  # a health check
        "not json",
        "[]",
    ],
)
def test_what_is_not_the_projects_or_not_in_the_window_is_left_out(line: str) -> None:
    assert _events([line]) == []
