"""The live page of the compose file's `dashboard` service, in headless Chromium.

On each Compose generation: the page names the leader; while `make demo-stop` runs it
names the other within 2 s of the old leader giving up (the worker's own
``leadership_lost`` time), without a reload; during `make demo-quorum` it says there is
no quorum; the browser's console stays free of errors. The service itself runs as the
workers do (no root, no capability, nothing writable, limits) and publishes on
127.0.0.1 only, with one log line giving its address.

Screenshots, 1024x768 as on a projector: one per demo it watches, in the directory
DASHBOARD_SHOTS (``make dashboard-pictures`` sets docs/), else under the test's tmp.
The page also watches the other demos: it names the leader after each, unreloaded.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from common.logs import Event
from testbed.checker import parse_time
from testbed.processes import wait_until
from tests.e2e.browser import MISSING, Browser, installed
from tests.e2e.compose_project import ComposeProject
from tests.support import require

pytestmark = pytest.mark.e2e

TAKEOVER_SHOWN_WITHIN_S = 2.0
# The demos the page must keep up through (tests/e2e/test_demos.py judges the demos
# themselves from the logs).
OTHER_DEMOS = ("kill", "pause", "partition", "zk-leader")


@pytest.fixture
def shots(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    given = os.environ.get("DASHBOARD_SHOTS")
    return Path(given) if given else tmp_path_factory.mktemp("dashboard-shots")


@pytest.fixture
def page(project: ComposeProject) -> Iterator[Browser]:
    require(installed(), MISSING)
    project.wait_steady()
    with Browser.open(_url(project)) as browser:
        yield browser
        errors = browser.console_errors()
        assert errors == [], f"the page's console: {errors}"


def _url(project: ComposeProject) -> str:
    return f"http://127.0.0.1:{project.env['DASHBOARD_PORT']}/"


def _demo(project: ComposeProject, verb: str) -> subprocess.Popen[str]:
    """`make demo-<verb>` in the background, as ComposeProject.make runs it."""
    return subprocess.Popen(
        ["make", "--no-print-directory", f"demo-{verb}", f"COMPOSE={project.command_words}"],
        cwd=project.root,
        env=project.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(demo: subprocess.Popen[str], verb: str, timeout: float = 240) -> None:
    try:
        out, err = demo.communicate(timeout=timeout)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.communicate(timeout=10)
    assert demo.returncode == 0, f"make demo-{verb} exited {demo.returncode}:\n{out}\n{err}"


def test_dashboard_runs_least_privileged_on_loopback_and_says_where(
    project: ComposeProject,
) -> None:
    info = project.inspect("dashboard")
    host = info["HostConfig"]
    assert host["ReadonlyRootfs"] is True and host["CapDrop"] == ["ALL"]
    assert any(opt.startswith("no-new-privileges") for opt in host["SecurityOpt"])
    assert host["Memory"] > 0 and (host["PidsLimit"] or 0) > 0
    assert info["Config"]["User"] not in ("", "0", "root")
    assert not [m for m in info["Mounts"] if "docker.sock" in m.get("Source", "")]
    assert not [m for m in info["Mounts"] if m.get("Destination", "").startswith("/run/secrets")]
    bindings = [b for port in host["PortBindings"].values() for b in port]
    assert bindings and {b["HostIp"] for b in bindings} == {"127.0.0.1"}, bindings
    health = wait_until(
        lambda: (project.state("dashboard").get("Health") or {}).get("Status") == "healthy",
        timeout=60,
        interval=0.5,
        message="the dashboard healthy",
    )
    assert health
    lines = project.compose("logs", "--no-color", "dashboard").splitlines()
    said = [line for line in lines if "the live page is at" in line]
    assert len(said) == 1 and _url(project) in said[0], lines


def test_dashboard_names_the_leader_then_the_other_after_demo_stop(
    project: ComposeProject, page: Browser, shots: Path, measure
) -> None:
    leader, other = project.wait_steady()
    page.wait_text("#headline", f"{leader} leads", timeout=10)
    assert "0x" in page.text("#subline")  # the fencing token
    loaded = page.page_load_count()

    started = time.time()
    demo = _demo(project, "stop")
    try:
        page.wait_text("#headline", f"{other} leads", timeout=60)
        shown_at = time.time()
        page.screenshot(shots / f"dashboard-stop-{project.generation}.png")
    finally:
        _finish(demo, "stop")
    lost = project.events_after(leader, Event.LEADERSHIP_LOST, started)
    assert lost, f"{leader} logged no leadership_lost"
    shown_s = shown_at - parse_time(str(lost[0]["time"]))
    measure("page: the leader gives up -> the page names the other", shown_s)
    assert shown_s < TAKEOVER_SHOWN_WITHIN_S
    assert page.page_load_count() == loaded, "the page was reloaded"
    assert f"leader {leader} -> {other}" in page.text("#changes")


def test_dashboard_says_no_quorum_during_demo_quorum(
    project: ComposeProject, page: Browser, shots: Path
) -> None:
    leader, _ = project.wait_steady()
    page.wait_text("#headline", f"{leader} leads", timeout=10)
    demo = _demo(project, "quorum")
    try:
        page.wait_text("#headline", "NO QUORUM", timeout=60)
        assert page.text("#quorum") == "no quorum"
        page.screenshot(shots / f"dashboard-quorum-{project.generation}.png")
        page.wait_text("#quorum", "quorum 3/3", timeout=120)  # the quorum back
    finally:
        _finish(demo, "quorum")
    leader, _ = project.wait_steady(timeout=30)
    page.wait_text("#headline", f"{leader} leads", timeout=10)


@pytest.mark.parametrize("verb", OTHER_DEMOS)
def test_dashboard_keeps_up_through_the_other_demos(
    project: ComposeProject, page: Browser, shots: Path, verb: str
) -> None:
    """After each demo, without a reload, the page names the worker that the logs say
    leads, with a quorum; its picture is taken then."""
    project.wait_steady()
    loaded = page.page_load_count()
    demo = _demo(project, verb)
    _finish(demo, verb)
    leader, _ = project.wait_steady(timeout=30)
    page.wait_text("#headline", f"{leader} leads", timeout=10)
    assert page.text("#quorum") == "quorum 3/3"
    assert page.page_load_count() == loaded, "the page was reloaded"
    page.screenshot(shots / f"dashboard-{verb}-{project.generation}.png")
