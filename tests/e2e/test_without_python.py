"""Docker and nothing else: the guide's tools with a PATH that holds no Python.

A participant's machine has Docker and Compose, maybe no Python at all. The compose
file's `tools` service runs `status`, `logs` and `timeline` in a container of the
project; here they run from a PATH of three programs (docker, docker-compose, sh),
as docs/workshop.md prints them. `sh docker/preflight.sh` (make preflight) names a
taken port, with its fix.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from testbed.ensemble import free_ports
from tests.e2e.compose_project import ComposeProject

pytestmark = pytest.mark.e2e


def _docker_only_path(tmp_path: Path) -> str:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for program in ("docker", "docker-compose", "sh"):
        found = shutil.which(program)
        assert found, f"{program} is not installed"
        (bin_dir / program).symlink_to(found)
    assert shutil.which("python3", path=str(bin_dir)) is None
    assert shutil.which("python", path=str(bin_dir)) is None
    return str(bin_dir)


def _shell(project: ComposeProject, path: str, command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", "-c", command],
        cwd=project.root,
        env={**project.env, "PATH": path},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_tools_run_with_docker_and_no_python(project: ComposeProject, tmp_path: Path) -> None:
    leader, other = project.wait_steady()
    path = _docker_only_path(tmp_path)
    compose = project.command_words

    status = _shell(project, path, f"{compose} run --rm tools status")
    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    assert any(line.split()[:2] == ["leader", leader] for line in lines), status.stdout
    assert any(line.split()[:2] == ["candidate", other] for line in lines), status.stdout
    assert sorted(line.split()[-1] for line in lines if line.startswith("  zoo")) == [
        "follower",
        "follower",
        "leader",
    ], status.stdout

    piped = f"{compose} logs --timestamps service1 service2 | {compose} run --rm -T tools"
    logs = _shell(project, path, f"{piped} logs")
    assert logs.returncode == 0, logs.stderr
    tick = re.compile(rf"{leader}  Processing\.\.\. unit \d+, token 0x")
    assert tick.search(logs.stdout), logs.stdout[-2000:]
    timeline = _shell(project, path, f"{piped} timeline --last 60")
    assert timeline.returncode == 0, timeline.stderr
    assert leader in timeline.stdout and "PNG" not in timeline.stdout


def test_preflight_names_a_taken_port_with_its_fix(project: ComposeProject) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        # The other ports: free ones, whatever else runs on this machine.
        zoo1, zoo2, zoo3, metrics1, metrics2 = (str(p) for p in free_ports(5))
        free = {
            "ZOO1_CLIENT_PORT": zoo1,
            "ZOO2_CLIENT_PORT": zoo2,
            "ZOO3_CLIENT_PORT": zoo3,
            "SERVICE1_METRICS_PORT": metrics1,
            "SERVICE2_METRICS_PORT": metrics2,
        }
        done = subprocess.run(
            ["sh", "docker/preflight.sh"],
            cwd=project.root,
            env={
                **os.environ,
                **free,
                "DASHBOARD_PORT": str(port),
                "COMPOSE": project.command_words,
            },
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 1, done.stdout
    failures = [line for line in done.stdout.splitlines() if line.startswith("  FAIL ")]
    assert len(failures) == 1, done.stdout
    assert f"port {port} (DASHBOARD_PORT) is taken" in failures[0]
    assert "DASHBOARD_PORT=<free port> docker compose up" in failures[0]
