"""One run of docker-compose.yml, driven with the user's own commands and read from its logs.

Usage::

    project = ComposeProject(repo_root, "zke2e1a2b3c4d", "v2", ["docker", "compose"], env)
    project.up()
    leader, other = project.wait_steady()
    project.compose("stop", leader)
    project.make("demo-stop")          # the workshop's own verb, on this project
    ...
    project.down()

Everything the tests judge comes from the workers' own log lines (their "time" field,
see testbed.checker) and from `docker inspect`; nothing from the test's sleeps.
Containers are never recreated by the tests (stop/start/kill/pause/network only), so a
service's container id, and with it `docker logs`, covers the whole run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from common.logreader import parse_json_line
from common.logs import Event
from testbed.checker import Tick, parse_time, ticks_from_events
from testbed.processes import wait_until

WORKERS = ("service1", "service2")
ZK_NODES = ("zoo1", "zoo2", "zoo3")
# The compose file's ZK_SESSION_TIMEOUT_S: the demo's own setting, not a test setting.
SESSION_TIMEOUT_S = 10.0
# ZooKeeper's tickTime in the images (their default, which the compose file keeps): the
# servers expire sessions in buckets of one tick.
ZK_TICK_S = 2.0
# A worker leader's longest pause in work when the ZooKeeper node in Mode: leader stops:
# the client finds another server and goes on with its session and token.
ZK_LEADER_PAUSE_BOUND_S = 3.0
# The last events that say where a worker stands in the election.
_ROLE_EVENTS = {
    Event.FOLLOWING,
    Event.LEADER_ELECTED,
    Event.LEADERSHIP_LOST,
    Event.STARTED,
    Event.SHUTDOWN,
}


# The two Compose generations the workshop supports, by the command that runs each.
GENERATIONS: dict[str, tuple[str, ...]] = {
    "v2": ("docker", "compose"),
    "v1": ("docker-compose",),
}


def compose_works(command: Sequence[str]) -> bool:
    """True when `<command> version` runs (the CLI plugin or the program is installed)."""
    if not shutil.which(command[0]):
        return False
    try:
        probe = subprocess.run([*command, "version"], capture_output=True, timeout=30, check=False)
    except subprocess.TimeoutExpired:
        return False
    return probe.returncode == 0


def docker_engine_answers() -> bool:
    """True when a Docker CLI is installed and its engine answers."""
    if not shutil.which("docker"):
        return False
    try:
        probe = subprocess.run(["docker", "info"], capture_output=True, timeout=30, check=False)
    except subprocess.TimeoutExpired:
        return False
    return probe.returncode == 0


def image_present(image: str) -> bool:
    probe = subprocess.run(
        ["docker", "image", "inspect", image], capture_output=True, timeout=30, check=False
    )
    return probe.returncode == 0


class ComposeProject:
    """A compose project with its own name, so a test run never touches a user's demo."""

    def __init__(
        self,
        root: Path,
        name: str,
        generation: str,
        command: Sequence[str],
        env: dict[str, str],
    ):
        self.root = root
        self.name = name
        self.generation = generation
        self.command_words = " ".join(command)
        self._command = [*command, "--project-name", name, "--file", "docker-compose.yml"]
        # What a user's shell would hold for this project: its name, file, ports, settings.
        self.env = {
            **os.environ,
            **env,
            "COMPOSE_PROJECT_NAME": name,
            "COMPOSE_FILE": "docker-compose.yml",
        }
        for inherited in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"):  # pytest run by `make test`
            self.env.pop(inherited, None)
        self._containers: dict[str, str] = {}
        self.up_started: float | None = None

    # -- commands ---------------------------------------------------------------------

    def compose(self, *args: str, timeout: float = 120, env: dict[str, str] | None = None) -> str:
        """Run one compose command (the user's own); its output. Raises on failure.

        ``env`` adds to the project's environment for this command (a changed setting).
        """
        return self._run([*self._command, *args], timeout, env)

    def docker(self, *args: str, timeout: float = 60) -> str:
        return self._run(["docker", *args], timeout)

    def make(self, verb: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        """`make <verb>` of the workshop on this project and generation: its result.

        Runs as a user would, in the repository root, with this project's name, ports
        and settings in the environment and COMPOSE naming this generation's command.
        Output is captured: a verb that leaves a process writing to it behind does not
        return, and fails by its timeout.
        """
        return subprocess.run(
            ["make", "--no-print-directory", verb, f"COMPOSE={self.command_words}"],
            cwd=self.root,
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def _run(self, argv: list[str], timeout: float, env: dict[str, str] | None = None) -> str:
        done = subprocess.run(
            argv,
            cwd=self.root,
            env={**self.env, **(env or {})},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise AssertionError(
                f"`{' '.join(argv)}` exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
            )
        return done.stdout

    def up(self) -> None:
        """`up -d --build`, as two steps so that `up_started` excludes the image build."""
        self.compose("build", timeout=900)
        self.up_started = time.time()
        self.compose("up", "-d", timeout=300)

    def down(self) -> None:
        """`down -v`, plus the images this project built (they are tagged per project)."""
        self.compose("down", "--volumes", "--rmi", "local", "--timeout", "5", timeout=300)

    def judge(self, since: float) -> subprocess.CompletedProcess[str]:
        """`python -m testbed.ledger` (what `make judge` runs) on this project, for the
        units and log lines from `since` (epoch seconds): its result, never raising."""
        return self._tool("testbed.ledger", "--since", f"{since:.3f}")

    def timeline(self, since: float) -> str:
        """`python -m workshop.timeline` (what `make timeline` runs) on this project, as
        text, from `since` (epoch seconds) on; it must exit 0."""
        done = self._tool(
            "workshop.timeline",
            "--no-png",
            "--width",
            "120",
            "--last",
            f"{time.time() - since:.0f}",
        )
        assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
        return done.stdout

    def _tool(self, module: str, *args: str) -> subprocess.CompletedProcess[str]:
        """A host tool of the workshop on this project, run as its make verb runs it."""
        return subprocess.run(
            [sys.executable, "-m", module, "--compose", self.command_words, *args],
            cwd=self.root,
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    # -- containers -------------------------------------------------------------------

    def container(self, service: str) -> str:
        if service not in self._containers:
            # -a: Compose v2 lists only running containers without it.
            found = self.compose("ps", "-a", "-q", service).split()
            assert found, f"no container for {service} in project {self.name}"
            self._containers[service] = found[0]
        return self._containers[service]

    def forget_containers(self) -> None:
        """After Compose recreated containers: look their ids up again."""
        self._containers.clear()

    def inspect(self, service: str) -> dict[str, Any]:
        """`docker inspect` of the service's container."""
        return json.loads(self.docker("inspect", self.container(service)))[0]

    def state(self, service: str) -> dict[str, Any]:
        """`docker inspect`'s State of the service's container."""
        text = self.docker("inspect", "--format", "{{json .State}}", self.container(service))
        return json.loads(text)

    def exec(self, service: str, *argv: str) -> subprocess.CompletedProcess[str]:
        """`docker exec` in the service's container, as the container's user; the result."""
        return subprocess.run(
            ["docker", "exec", self.container(service), *argv],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    def not_running_and_healthy(self) -> list[str]:
        """The containers not running and healthy, as `service: status` (empty: all are)."""
        wrong = []
        for service in (*ZK_NODES, *WORKERS):
            state = self.state(service)
            health = (state.get("Health") or {}).get("Status")
            if not state.get("Running") or state.get("Paused") or health != "healthy":
                wrong.append(f"{service}: {state.get('Status')}, health {health}")
        return wrong

    def network(self, service: str) -> str:
        """The project network the service's container is attached to."""
        text = self.docker(
            "inspect", "--format", "{{json .NetworkSettings.Networks}}", self.container(service)
        )
        names = list(json.loads(text) or {})
        assert names, f"{service} is attached to no network"
        return names[0]

    def cuts(self, service: str, since: float) -> list[float]:
        """When the service's container was disconnected from a network since `since`, as
        the daemon remembers it (its last 256 events: half a minute or so here), in epoch
        seconds. Docker reports one disconnect twice, a few milliseconds apart."""
        lines = self.docker(
            "events", "--since", f"{since:.3f}", "--until", f"{time.time():.3f}",
            "--filter", "type=network", "--filter", "event=disconnect",
            "--format", "{{.TimeNano}} {{.Actor.Attributes.container}}",
        ).splitlines()  # fmt: skip
        found = (line.split() for line in lines)
        mine = self.container(service)
        return sorted(int(words[0]) / 1e9 for words in found if words[1:] == [mine])

    def srvr(self, node: str) -> dict[str, str]:
        """The node's `srvr` answer as {field: value} ({} when it does not answer)."""
        if not self.state(node).get("Running"):
            return {}
        # As the compose file's healthcheck asks (not through nc: see there).
        srvr = "exec 3<>/dev/tcp/127.0.0.1/2181 && printf srvr >&3 && cat <&3"
        probe = self.exec(node, "timeout", "3", "bash", "-c", srvr)
        fields = (line.partition(": ") for line in probe.stdout.splitlines())
        return {key: value.strip() for key, sep, value in fields if sep}

    def zk_mode(self, node: str) -> str | None:
        """The node's `srvr` Mode (leader, follower, ...), None when it does not serve."""
        return self.srvr(node).get("Mode")

    def zk_leader(self) -> str:
        """The ZooKeeper node in Mode: leader (waits for the ensemble to have one)."""

        def find() -> str | None:
            return next((node for node in ZK_NODES if self.zk_mode(node) == "leader"), None)

        return wait_until(
            find, timeout=60, interval=0.5, message="a ZooKeeper node in Mode: leader"
        )

    def wait_healthy(self, nodes: Sequence[str] = ZK_NODES, timeout: float = 90) -> None:
        def healthy() -> bool:
            return all(
                self.state(node).get("Health", {}).get("Status") == "healthy" for node in nodes
            )

        wait_until(healthy, timeout=timeout, interval=0.5, message=f"{', '.join(nodes)} healthy")

    # -- logs -------------------------------------------------------------------------

    def events(self, service: str) -> list[dict[str, Any]]:
        """The service's JSON log lines, across restarts of its container."""
        done = subprocess.run(
            ["docker", "logs", self.container(service)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=30,
            check=False,
        )
        # A line a kill cut short is no event: parse_json_line skips it.
        found = (parse_json_line(line) for line in done.stdout.splitlines())
        return [event for event in found if event is not None]

    def ticks(self) -> list[Tick]:
        """Every "Processing..." line of both workers, in time order."""
        return ticks_from_events([e for service in WORKERS for e in self.events(service)])

    def events_after(self, service: str, name: str, t: float) -> list[dict[str, Any]]:
        return [
            e
            for e in self.events(service)
            if e.get("event") == name and parse_time(str(e["time"])) > t
        ]

    def role(self, service: str) -> str | None:
        """The worker's last election event: following, leader_elected, ... or None."""
        roles = [e["event"] for e in self.events(service) if e.get("event") in _ROLE_EVENTS]
        return roles[-1] if roles else None

    def wait_steady(self, timeout: float = 90) -> tuple[str, str]:
        """Wait for: both workers running, one ticking, the other following. (leader, other)."""

        def steady() -> tuple[str, str] | None:
            now = time.time()
            recent = [tick for tick in self.ticks() if tick.time > now - 2.5]
            leaders = {tick.service for tick in recent}
            if len(recent) < 2 or len(leaders) != 1:
                return None
            (leader,) = leaders
            other = next(service for service in WORKERS if service != leader)
            if self.role(other) != Event.FOLLOWING:
                return None
            return leader, other

        return wait_until(
            steady, timeout=timeout, interval=0.5, message="one worker ticking, the other following"
        )

    def gave_up_at(self, service: str, since: float) -> float:
        """When ``service`` logged giving up its leadership (a stop's SIGTERM) after
        ``since``: where a handover starts, whatever the command that stopped it took to
        reach it (Compose v1's CLI alone took 1.3 s once, both cores busy)."""
        found = self.events_after(service, Event.LEADERSHIP_LOST, since)
        assert found, f"{service} logged no {Event.LEADERSHIP_LOST} after the stop"
        return parse_time(str(found[0]["time"]))

    def wait_following(self, service: str, since: float, timeout: float) -> float:
        """Wait until `service` logs `following` after `since`; that line's time."""
        found = wait_until(
            lambda: self.events_after(service, Event.FOLLOWING, since),
            timeout=timeout,
            interval=0.5,
            message=f"{service} following again",
        )
        return parse_time(str(found[0]["time"]))

    # -- repair and diagnosis -----------------------------------------------------------

    def restore(self) -> None:
        """Undo whatever a scenario may have left: nodes stopped, a worker paused or cut off."""
        for service in WORKERS:
            state = self.state(service)
            if state.get("Paused"):
                self.compose("unpause", service)
            network = self._default_network()
            attached = self.docker(
                "inspect", "--format", "{{json .NetworkSettings.Networks}}", self.container(service)
            )
            if network not in (json.loads(attached) or {}):
                self.docker(
                    "network", "connect", "--alias", service, network, self.container(service)
                )
        self.compose("start", *ZK_NODES, *WORKERS)

    def _default_network(self) -> str:
        return self.network(ZK_NODES[0])

    def dump_logs(self) -> str:
        """The workers' logs and the tail of each ZooKeeper node's, for a failed test."""
        parts = [self.compose("ps", timeout=60)]
        for service in WORKERS:
            parts.append(f"===== {service}")
            parts.append(self.compose("logs", "--no-color", "--tail", "400", service))
        parts.append("===== dashboard (tail)")
        parts.append(self.compose("logs", "--no-color", "--tail", "40", "dashboard"))
        for node in ZK_NODES:
            parts.append(f"===== {node} (tail)")
            parts.append(self.compose("logs", "--no-color", "--tail", "60", node))
        return "\n".join(parts)
