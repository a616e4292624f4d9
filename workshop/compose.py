"""The compose project as the host sees it: its command, its containers, their ports.

    compose = compose_command("docker compose")       # or None: detect v2, else v1
    for c in containers(compose):
        print(c.service, c.running, c.client_address)

Containers are found with ``<compose> ps -a -q`` and read with ``docker inspect``, so
a stopped ZooKeeper node still has its published port (from its port bindings) and a
worker that exited still has its exit code.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

__all__ = [
    "ComposeError",
    "Container",
    "compose_command",
    "containers",
    "docker_time",
    "run",
]

ZK_CLIENT_PORT = "2181/tcp"
_TIMEOUT_S = 30.0


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
