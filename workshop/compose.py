"""The compose project as the host sees it: its command, its containers, their ports.

    compose = compose_command("docker compose")       # or None: detect v2, else v1
    for c in containers(compose):
        print(c.service, c.running, c.client_address)
    docker_events(compose, since, ["service1", "service2"])   # kill, die, pause, ...

Containers are found with ``<compose> ps -a -q`` and read with ``docker inspect``, so
a stopped ZooKeeper node still has its published port (from its port bindings) and a
worker that exited still has its exit code. Docker's own events for the project's
containers (``docker events``, and ``docker inspect`` for the exits its buffer forgot)
come as Records beside the workers' own, for the timeline.
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

from common.logreader import Record

__all__ = [
    "DOCKER_EVENTS",
    "ComposeError",
    "Container",
    "compose_command",
    "containers",
    "docker_events",
    "docker_time",
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


def docker_events(compose: Sequence[str], since: float, workers: Sequence[str]) -> list[Record]:
    """The project's container and network events since `since`, as Records whose
    events start with DOCKER_EVENTS (a killed worker logs nothing: Docker tells)."""
    found = containers(compose)
    projects = {c.project for c in found if c.project}
    service_of = {c.id: c.service for c in found}
    out: list[Record] = []
    out += _inspect_records(found, since, workers)
    for project in projects:
        text = run(
            [
                "docker",
                "events",
                "--since",
                f"{since:.3f}",
                "--until",
                f"{time.time():.3f}",
                "--filter",
                f"label=com.docker.compose.project={project}",
                "--format",
                "{{json .}}",
            ]
        )
        for line in text.splitlines():
            record = _docker_record(line, service_of)
            if record is not None and not any(
                o.service == record.service
                and o.event == record.event
                and abs(o.time - record.time) < 1
                for o in out
            ):
                out.append(record)
    return out


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


def _docker_record(line: str, service_of: dict[str, str]) -> Record | None:
    try:
        event = json.loads(line)
    except ValueError:
        return None
    kind, action = event.get("Type"), str(event.get("Action", ""))
    attributes = (event.get("Actor") or {}).get("Attributes") or {}
    when = int(event.get("timeNano") or 0) / 1e9
    if kind == "container" and action in ("kill", "die", "stop", "pause", "unpause", "start"):
        lane = attributes.get("com.docker.compose.service")
        if not lane:
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
