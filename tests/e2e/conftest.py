"""Fixtures for the end-to-end layer: docker-compose.yml itself, on a Docker engine.

``compose_project``  one compose project per Compose generation (``v2``: ``docker
                     compose``, ``v1``: ``docker-compose`` 1.29) for the whole run, under
                     a name of its own (``zke2e<8 hex>``) and with client ports (and
                     the page's, DASHBOARD_PORT, and the workers' metrics ports,
                     SERVICE1_METRICS_PORT and SERVICE2_METRICS_PORT) picked free, so
                     it never touches a user's demo; built and started once,
                     torn down with ``down -v`` at the end, also on failure. Every e2e
                     test runs once per generation (pytest runs all of one generation's
                     tests, then the other's); the scenarios run on it in sequence, each
                     starting from a steady state. A generation that is not installed
                     skips its tests, or fails them under CI (make compose-v2 installs v2).
``project``          the same, made whole again after each test (nodes started, a worker
                     unpaused or reconnected); on failure the containers' logs are printed.

The project's settings are the test's own, whatever a user's `.env` says:
LOG_FORMAT=json (the tests read the workers' JSON lines), a 10 s session, a 1 s tick.

Images: ZOOKEEPER_IMAGE and PYTHON_IMAGE from the environment, else from ``.env`` in
the repository root (``make standins`` sets them there), else the compose file's
defaults (the official images). They must be present locally: the tests never pull.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from testbed.ensemble import free_ports
from tests.e2e.compose_project import (
    GENERATIONS,
    SESSION_TIMEOUT_S,
    ComposeProject,
    compose_works,
    docker_engine_answers,
    image_present,
)
from tests.support import require

_ROOT = Path(__file__).resolve().parents[2]
_DOTENV = _ROOT / ".env"
# The compose file's defaults: the official images.
_DEFAULT_IMAGES = {"ZOOKEEPER_IMAGE": "zookeeper:3.9.4", "PYTHON_IMAGE": "python:3.12-slim"}
# The settings the tests judge by, set for the test's project whatever `.env` says.
_SETTINGS = {
    "LOG_FORMAT": "json",
    "LOG_LEVEL": "INFO",
    "ZK_SESSION_TIMEOUT_S": f"{SESSION_TIMEOUT_S:g}",
    "TICK_INTERVAL_S": "1",
    "ZOO_LOG_LEVEL": "WARN",
}
_INSTALL = {
    "v2": "Compose v2 (docker compose): make compose-v2",
    "v1": "Compose v1 (docker-compose): apt-get install docker-compose",
}


def dotenv_values(path: Path) -> dict[str, str]:
    """KEY=value lines of a Compose .env file (comments, blanks and `export ` allowed)."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.removeprefix("export ").partition("=")
        if sep:
            values[key.strip()] = value.strip().strip("'\"")
    return values


def _images() -> dict[str, str]:
    from_file = dotenv_values(_DOTENV)
    return {
        key: os.environ.get(key) or from_file.get(key) or default
        for key, default in _DEFAULT_IMAGES.items()
    }


@pytest.fixture(scope="session", params=list(GENERATIONS))
def compose_project(request: pytest.FixtureRequest) -> Iterator[ComposeProject]:
    generation = request.param
    require(
        docker_engine_answers(),
        "end-to-end tests need a running Docker engine: apt-get install docker.io",
    )
    require(
        compose_works(GENERATIONS[generation]),
        f"end-to-end tests run on both Compose generations; missing {_INSTALL[generation]}",
    )
    images = _images()
    missing = [image for image in images.values() if not image_present(image)]
    require(
        not missing,
        f"end-to-end tests need the images {', '.join(missing)} locally (they never pull): "
        f"docker pull {' '.join(missing)}; without a registry: make standins",
    )
    *ports, page_port, metrics1, metrics2 = free_ports(6)
    env = {
        **images,
        **_SETTINGS,
        **{f"ZOO{n}_CLIENT_PORT": str(port) for n, port in enumerate(ports, start=1)},
        "DASHBOARD_PORT": str(page_port),
        "SERVICE1_METRICS_PORT": str(metrics1),
        "SERVICE2_METRICS_PORT": str(metrics2),
    }
    project = ComposeProject(
        _ROOT, f"zke2e{secrets.token_hex(4)}", generation, GENERATIONS[generation], env
    )
    try:
        try:
            project.up()
        except AssertionError:
            print(f"\n===== compose project {project.name} ({generation}) failed to start")
            print(project.dump_logs())
            raise
        yield project
    finally:
        project.down()


@pytest.fixture
def project(
    compose_project: ComposeProject, request: pytest.FixtureRequest
) -> Iterator[ComposeProject]:
    failed_before = request.session.testsfailed
    yield compose_project
    if request.session.testsfailed > failed_before:
        print(f"\n===== compose project {compose_project.name} ({compose_project.generation})")
        print(compose_project.dump_logs())
    compose_project.restore()
