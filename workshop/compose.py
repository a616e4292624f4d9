"""The compose project as the host sees it: its command, its containers, their ports.

    compose = compose_command("docker compose")       # or None: detect v2, else v1
    for c in containers(compose):
        print(c.service, c.running, c.client_address)
    docker_events(compose, since, ["service1", "service2"])   # kill, die, pause, ...

Containers are found with ``<compose> ps -a -q`` and read with ``docker inspect``, so
a stopped ZooKeeper node still has its published port (from its port bindings) and a
worker that exited still has its exit code. Docker's own events for the project's
containers and their networks come as Records beside the workers' own, for the
timeline: from ``docker events``, from ``docker inspect`` for the exits the daemon's
buffer forgot, and from the events the demos saved as they made each fault
(``.build/docker-events.jsonl``), for the pauses and cuts it forgot.
"""

from __future__ import annotations

import json
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from common.logreader import Record

__all__ = [
    "DOCKER_EVENTS",
    "ComposeError",
    "Container",
    "compose_command",
    "containers",
    "docker_events",
    "docker_time",
    "event_records",
    "run",
]

ZK_CLIENT_PORT = "2181/tcp"
_TIMEOUT_S = 30.0
# The events docker_events() makes start so: container_kill, network_disconnect, ...
DOCKER_EVENTS = ("container_", "network_")


class ComposeError(Exception):
    """Docker or Compose could not answer; the message is one line saying why."""


@dataclass(frozen=True)
class Container:
    """One container of the project, as ``docker inspect`` describes it."""

    service: str
    project: str
    id: str
    name: str
    running: bool
    status: str  # running, exited, paused, ...
    exit_code: int
    started_at: float | None  # epoch seconds, the last start
    finished_at: float | None  # epoch seconds, the last exit; None if it never stopped
    client_address: str | None  # 127.0.0.1:32181, the published ZooKeeper client port
    env: dict[str, str] = field(default_factory=dict)


def compose_command(given: str | None = None) -> list[str]:
    """`given` split into words ("docker compose -p demo"); else Compose v2 where it
    answers, else v1. Raises ComposeError when neither is installed."""
    if given:
        return shlex.split(given)
    if shutil.which("docker"):
        probe = subprocess.run(
            ["docker", "compose", "version"], capture_output=True, timeout=_TIMEOUT_S, check=False
        )
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    raise ComposeError("neither `docker compose` nor `docker-compose` is installed")


def run(argv: Sequence[str], timeout: float = _TIMEOUT_S) -> str:
    """One command's stdout; ComposeError with its first stderr line if it fails."""
    try:
        done = subprocess.run(
            list(argv),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as exc:
        raise ComposeError(f"`{argv[0]}` is not installed") from exc
    except subprocess.TimeoutExpired as exc:
        raise ComposeError(f"`{' '.join(argv)}` did not answer within {timeout:g} s") from exc
    if done.returncode != 0:
        why = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[0]
        raise ComposeError(f"`{' '.join(argv)}` failed: {why}")
    return done.stdout


def docker_time(text: str) -> float | None:
    """Docker's RFC 3339 time with nanoseconds -> epoch seconds; None for its zero time."""
    if not text or text.startswith("0001-"):
        return None
    head, _, fraction = text.rstrip("Z").partition(".")
    offset = ""
    for sign in ("+", "-"):
        if sign in fraction:
            fraction, _, rest = fraction.partition(sign)
            offset = sign + rest
    moment = datetime.fromisoformat(f"{head}.{(fraction or '0')[:6]:0<6}{offset}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def containers(compose: Sequence[str]) -> list[Container]:
    """Every container of the project, running or not, sorted by service name."""
    ids = run([*compose, "ps", "-a", "-q"]).split()
    if not ids:
        return []
    described = json.loads(run(["docker", "inspect", *ids]))
    return sorted((_container(d) for d in described), key=lambda c: c.service)


def _container(d: dict) -> Container:
    state = d.get("State") or {}
    config = d.get("Config") or {}
    labels = config.get("Labels") or {}
    env = dict(item.split("=", 1) for item in config.get("Env") or [] if "=" in item)
    return Container(
        service=labels.get("com.docker.compose.service", d.get("Name", "?").lstrip("/")),
        project=labels.get("com.docker.compose.project", ""),
        id=d.get("Id", ""),
        name=d.get("Name", "").lstrip("/"),
        running=bool(state.get("Running")),
        status=str(state.get("Status", "?")),
        exit_code=int(state.get("ExitCode") or 0),
        started_at=docker_time(str(state.get("StartedAt") or "")),
        finished_at=docker_time(str(state.get("FinishedAt") or "")),
        client_address=_published(d),
        env=env,
    )


def _published(d: dict) -> str | None:
    """Where the host reaches the container's port 2181: the live mapping if it runs,
    else the binding it will get again on `start`."""
    live = ((d.get("NetworkSettings") or {}).get("Ports") or {}).get(ZK_CLIENT_PORT)
    bound = ((d.get("HostConfig") or {}).get("PortBindings") or {}).get(ZK_CLIENT_PORT)
    for binding in (live or []) + (bound or []):
        port = binding.get("HostPort")
        if port:
            host = binding.get("HostIp") or "127.0.0.1"
            if host in ("0.0.0.0", "::"):
                host = "127.0.0.1"
            return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return None


# Where the demos keep Docker's own record of each fault they make, as soon as they make
# it (docker/demo.sh, `docker events` lines): the daemon keeps only its last 256 events,
# and six containers' health checks every 2 s make about nine a second, so a cut made
# half a minute before `make timeline` asks is gone from the daemon by then.
SAVED_EVENTS = Path(".build/docker-events.jsonl")
# A container's network wiring as it exits (Docker disconnects it about 60 ms after its
# `die`) and starts (connects it about 0.5 s before its `start`): no cut, no reconnect.
_WIRING_S = 2.0


def docker_events(
    compose: Sequence[str],
    since: float,
    workers: Sequence[str],
    saved: Path | None = SAVED_EVENTS,
) -> list[Record]:
    """The project's container and network events since `since`, as Records whose
    events start with DOCKER_EVENTS (a killed worker logs nothing: Docker tells): the
    daemon's, and those `saved` kept (docker/demo.sh) that it has forgotten."""
    found = containers(compose)
    projects = {c.project for c in found if c.project}
    service_of = {c.id: c.service for c in found}
    until = time.time()
    lines: list[str] = []
    # A container's events carry the project's label; a network's carry no labels (its
    # attributes name the container), so they are asked for by type and kept by the
    # container's id.
    filters = [["--filter", f"label=com.docker.compose.project={p}"] for p in projects]
    if projects:
        filters.append(["--filter", "type=network"])
    for only in filters:
        lines += run(
            [
                "docker",
                "events",
                "--since",
                f"{since:.3f}",
                "--until",
                f"{until:.3f}",
                *only,
                "--format",
                "{{json .}}",
            ]
        ).splitlines()
    lines += _saved_lines(saved)
    known = _inspect_records(found, since, workers)
    return event_records(lines, known, service_of, projects, since, until)


def event_records(
    lines: Sequence[str],
    known: Sequence[Record],
    service_of: dict[str, str],
    projects: set[str],
    since: float,
    until: float,
) -> list[Record]:
    """`known` and the events of `lines` (`docker events --format '{{json .}}'`, the
    daemon's and the saved ones) between `since` and `until`: those of `projects`'
    containers, and network events of the containers in `service_of` (id -> service),
    each once (the same event twice within a second is one: Docker reports a `network
    disconnect` twice, 5 ms apart), without a container's wiring as it exits or starts."""
    out = list(known)
    for line in lines:
        record = _docker_record(line, service_of, projects)
        if (
            record is not None
            and since <= record.time <= until
            and not any(
                o.service == record.service
                and o.event == record.event
                and abs(o.time - record.time) < 1
                for o in out
            )
        ):
            out.append(record)
    return _without_wiring(out)


def _saved_lines(saved: Path | None) -> list[str]:
    if saved is None:
        return []
    try:
        return saved.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:  # none saved yet
        return []


def _without_wiring(records: Sequence[Record]) -> list[Record]:
    """`records` without the network events of a container exiting or starting: Docker
    disconnects a container from its networks as it exits and connects it before it
    starts, and neither is a cut or a reconnection."""

    def near(lane: str, event: str, start: float, end: float) -> bool:
        return any(
            r.service == lane and r.event == event and start <= r.time <= end for r in records
        )

    return [
        r
        for r in records
        if not (
            r.event == "network_disconnect"
            and near(r.service, "container_die", r.time - _WIRING_S, r.time)
        )
        and not (
            r.event == "network_connect"
            and near(r.service, "container_start", r.time, r.time + _WIRING_S)
        )
    ]


def _inspect_records(
    found: Sequence[Container], since: float, workers: Sequence[str]
) -> list[Record]:
    """Each worker container's last exit and start, from `docker inspect`: these stay
    when Docker's event buffer (a few hundred events, health checks included) has
    moved on."""
    out = []
    for c in found:
        if c.service not in workers:
            continue
        if c.finished_at is not None and c.finished_at >= since:
            # A container started again has its exit code reset to 0 by Docker.
            code = {} if c.running else {"exit_code": c.exit_code}
            out.append(Record(c.finished_at, c.service, "container_die", code))
        restarted = c.started_at is not None and c.finished_at is not None
        if restarted and c.started_at >= since and c.started_at > c.finished_at:
            out.append(Record(c.started_at, c.service, "container_start", {}))
    return out


def _docker_record(
    line: str, service_of: dict[str, str], projects: set[str] | None = None
) -> Record | None:
    """One `docker events` line as a Record of its container's service, or None: not a
    line, not an event the timeline draws, or not of `projects` (or, for a network's
    event, not of a container in `service_of`)."""
    try:
        event = json.loads(line)
    except ValueError:
        return None
    if not isinstance(event, dict):
        return None
    kind, action = event.get("Type"), str(event.get("Action", ""))
    attributes = (event.get("Actor") or {}).get("Attributes") or {}
    when = int(event.get("timeNano") or 0) / 1e9
    if kind == "container" and action in ("kill", "die", "stop", "pause", "unpause", "start"):
        lane = attributes.get("com.docker.compose.service")
        project = attributes.get("com.docker.compose.project")
        if not lane or (projects is not None and project not in projects):
            return None
        fields: dict[str, object] = {}
        if action == "kill":
            fields["signal"] = _signal_name(attributes.get("signal", "?"))
        if action == "die":
            fields["exit_code"] = attributes.get("exitCode", "?")
        return Record(when, lane, f"container_{action}", fields)
    if kind == "network" and action in ("disconnect", "connect"):
        lane = service_of.get(str(attributes.get("container", "")))
        return Record(when, lane, f"network_{action}", {}) if lane else None
    return None


def _signal_name(number: str) -> str:
    try:
        return signal.Signals(int(number)).name
    except ValueError:
        return str(number)
