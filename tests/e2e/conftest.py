"""Fixtures for the end-to-end layer: docker-compose.yml itself, on a Docker engine.

``compose_project``  one compose project for the whole module, under a name of its own
                     (``zke2e<8 hex>``) and with client ports picked free, so it never
                     touches a user's demo; built and started once, torn down with
                     ``down -v`` at the end, also on failure. The scenarios run on it in
                     sequence, each starting from a steady state.
``project``          the same, made whole again after each test (nodes started, a worker
                     unpaused or reconnected); on failure the containers' logs are printed.

Images: ZOOKEEPER_IMAGE and PYTHON_IMAGE from the environment, else from
``.build/standins.env`` (written by ``make standins``), else the compose file's defaults
(the official images). They must be present locally: the tests never pull.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from testbed.ensemble import free_ports
from tests.e2e.compose_project import (
    ComposeProject,
    compose_command,
    docker_engine_answers,
    image_present,
)
from tests.support import require

_ROOT = Path(__file__).resolve().parents[2]
_STANDINS_ENV = _ROOT / ".build" / "standins.env"
# The compose file's defaults: the official images.
_DEFAULT_IMAGES = {"ZOOKEEPER_IMAGE": "zookeeper:3.9.4", "PYTHON_IMAGE": "python:3.12-slim"}


def _images() -> dict[str, str]:
    from_file: dict[str, str] = {}
    if _STANDINS_ENV.is_file():
        for line in _STANDINS_ENV.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep and key.strip() in _DEFAULT_IMAGES:
                from_file[key.strip()] = value.strip()
    return {
        key: os.environ.get(key) or from_file.get(key) or default
        for key, default in _DEFAULT_IMAGES.items()
    }


@pytest.fixture(scope="module")
def compose_project() -> Iterator[ComposeProject]:
    require(
        docker_engine_answers(),
        "end-to-end tests need a running Docker engine: apt-get install docker.io",
    )
    command = compose_command()
    require(
        command is not None,
        "end-to-end tests need Docker Compose: apt-get install docker-compose",
    )
    images = _images()
    missing = [image for image in images.values() if not image_present(image)]
    require(
        not missing,
        f"end-to-end tests need the images {', '.join(missing)} locally (they never pull): "
        f"docker pull {' '.join(missing)}; without a registry: make standins",
    )
    ports = free_ports(3)
    env = {
        **images,
        **{f"ZOO{n}_CLIENT_PORT": str(port) for n, port in enumerate(ports, start=1)},
    }
    project = ComposeProject(_ROOT, f"zke2e{secrets.token_hex(4)}", command, env)
    try:
        try:
            project.up()
        except AssertionError:
            print(f"\n===== compose project {project.name} failed to start")
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
        print(f"\n===== compose project {compose_project.name}")
        print(compose_project.dump_logs())
    compose_project.restore()
