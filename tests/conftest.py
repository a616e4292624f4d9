"""Fixtures for every test layer: the ensemble, workers, the fault proxy, measurements.

Fixtures (see each docstring):

``ensemble_session``  one real three-node ZooKeeper ensemble for the whole run
                      (tickTime 500 ms), started on first use.
``ensemble``          the same ensemble, made whole again after each test: any server a
                      test killed is restarted and quorum awaited.
``election_path``     a fresh election path per test: ``/t/<test name>-<random>``.
``spawn_worker``      ``spawn_worker(module="service1", name=None, hosts=None, **env)``
                      starts a worker (``python -m <module>``) with test settings; every
                      worker is stopped by PID at teardown, and on failure every worker's
                      log and the tail of every ZooKeeper server's log are printed.
``proxy``             ``proxy(upstreams=None)`` a started FaultProxy, in front of the
                      ensemble by default; closed at teardown.
``measure``           ``measure(name, value, unit)`` prints a number and lists it in the
                      run's summary (latencies the README quotes).
``busy_machine``      both cores kept busy for one test (``testbed.load.CpuHogs``), for
                      the tests that signal commands at random moments.

``--cpu-hogs N`` (``make test-under-load``: 2) keeps N cores busy for the whole run: a
test that passes only on an idle machine waited for a moment, not for a condition.

A missing ZooKeeper skips the integration tests with one line saying how to install it,
or fails them when CI is set (see ``tests.support.require``).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings

from testbed.ensemble import MISSING_MESSAGE, Ensemble, find_zookeeper
from testbed.faultproxy import FaultProxy
from testbed.load import CpuHogs
from testbed.processes import WorkerProcess, hangups_reach_children
from tests.support import ci_gate, in_ci, require

# Test defaults for workers: a short session so expiry takes seconds, not ten.
WORKER_TEST_ENV = {
    "ZK_SESSION_TIMEOUT_S": "4",
    "TICK_INTERVAL_S": "1",
    "LOG_FORMAT": "json",
    "LOG_LEVEL": "INFO",
}
ZK_TICK_MS = 500
# Sessions granted: 4 s (the tests' own) to 10 s (20 ticks). The floor is that of a
# server with the default tickTime of 2 s, so asking for less is clamped up, as there.
ZK_MIN_SESSION_MS = 4000

_FAILED_KEY = pytest.StashKey[bool]()


# Fuzz tests: no per-example deadline (a busy 2-core box is slow, not wrong); under CI
# the same examples every run, so a red run is one anyone can replay.
hypothesis_settings.register_profile("default", deadline=None)
hypothesis_settings.register_profile("ci", deadline=None, derandomize=True)
hypothesis_settings.load_profile("ci" if in_ci() else "default")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--cpu-hogs",
        type=int,
        default=0,
        metavar="N",
        help="keep N cores busy for the whole run (make test-under-load: 2)",
    )


@pytest.fixture(scope="session", autouse=True)
def cpu_hogs(request: pytest.FixtureRequest) -> Iterator[CpuHogs]:
    """The run's own load (--cpu-hogs N), started first and stopped by PID last."""
    count = request.config.getoption("--cpu-hogs")
    if count < 0:
        raise pytest.UsageError(f"--cpu-hogs must be 0 or more, got {count}")
    with CpuHogs(count) as hogs:
        yield hogs


# How many cores the signal tests keep busy: all of this kind of machine's.
BUSY_CORES = 2


@pytest.fixture
def busy_machine(cpu_hogs: CpuHogs) -> Iterator[CpuHogs]:
    """Both cores busy for this test; none added where the run is loaded already."""
    with CpuHogs(max(0, BUSY_CORES - cpu_hogs.count)) as hogs:
        yield hogs


def pytest_configure(config: pytest.Config) -> None:
    # Under CI, a skip fails and a full run without an integration or e2e test is refused.
    config.pluginmanager.register(ci_gate, "ci_gate")
    # Under nohup, the programs the tests start still get SIGHUP's default action.
    hangups_reach_children()


_MEASUREMENTS: list[tuple[str, str, float, str]] = []


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Remember whether setup or the test itself failed, for the log dumps at teardown."""
    report = yield
    if report.when in ("setup", "call") and report.failed:
        item.stash[_FAILED_KEY] = True
    return report


def _test_failed(request: pytest.FixtureRequest) -> bool:
    return request.node.stash.get(_FAILED_KEY, False)


@pytest.fixture(scope="session")
def ensemble_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ensemble]:
    """A three-node ensemble on loopback for the whole run; stopped by PID at the end."""
    install = find_zookeeper()
    require(install is not None, MISSING_MESSAGE)
    ens = Ensemble(
        tmp_path_factory.mktemp("zookeeper"),
        size=3,
        tick_ms=ZK_TICK_MS,
        install=install,
        min_session_ms=ZK_MIN_SESSION_MS,
    )
    try:
        ens.start(timeout=90)
        yield ens
    finally:
        ens.stop()


@pytest.fixture
def ensemble(ensemble_session: Ensemble, request: pytest.FixtureRequest) -> Iterator[Ensemble]:
    """The session's ensemble, whole before the test and made whole again after it."""
    ensemble_session.restart_missing(timeout=60)
    yield ensemble_session
    if _test_failed(request):
        print(f"\n===== ZooKeeper modes: {ensemble_session.modes()}")
        print(ensemble_session.log_tails(lines=30))
    ensemble_session.restart_missing(timeout=60)


@pytest.fixture
def election_path(request: pytest.FixtureRequest) -> str:
    """``/t/<test name>-<8 hex>``: no test sees another's candidates."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)[:80]
    return f"/t/{name}-{secrets.token_hex(4)}"


SpawnWorker = Callable[..., WorkerProcess]


@pytest.fixture
def spawn_worker(
    request: pytest.FixtureRequest, tmp_path: Path, election_path: str
) -> Iterator[SpawnWorker]:
    """Factory: ``spawn_worker(module="service1", name=None, hosts=None, start=True, **env)``.

    ``name`` is the SERVICE_NAME (default: the module, then ``<module>-2``...);
    ``hosts`` is ZK_HOSTS (default: the ensemble's connect string, which starts the
    ensemble). ``env`` overrides WORKER_TEST_ENV and ELECTION_PATH; values are str()-ed.
    The log is ``<tmp_path>/<name>.log``.
    """
    workers: list[WorkerProcess] = []
    names: set[str] = set()

    def spawn(
        module: str = "service1",
        name: str | None = None,
        hosts: str | None = None,
        start: bool = True,
        **env: Any,
    ) -> WorkerProcess:
        name = name or _unique(module, names)
        names.add(name)
        if hosts is None:
            hosts = request.getfixturevalue("ensemble").connect_string()
        settings = {
            **WORKER_TEST_ENV,
            "ZK_HOSTS": hosts,
            "SERVICE_NAME": name,
            "ELECTION_PATH": election_path,
            **{key: str(value) for key, value in env.items()},
        }
        worker = WorkerProcess(module, settings, tmp_path / f"{name}.log", name=name)
        worker.ledger_hosts = request.getfixturevalue("ensemble").connect_string()
        workers.append(worker)
        if start:
            worker.start()
        return worker

    yield spawn

    codes = {worker.name: worker.stop(timeout=5) for worker in workers}
    if _test_failed(request):
        for worker in workers:
            print(
                f"\n===== worker {worker.name} (pid {worker.pid}, exit {codes[worker.name]}) "
                f"{worker.log_path}"
            )
            print(worker.log_text()[-20000:])


def _unique(base: str, taken: set[str]) -> str:
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


@pytest.fixture
def proxy(request: pytest.FixtureRequest) -> Iterator[Callable[..., FaultProxy]]:
    """Factory: ``proxy(upstreams=None)`` -> a started FaultProxy (default: the ensemble)."""
    proxies: list[FaultProxy] = []

    def make(upstreams: list[tuple[str, int]] | None = None) -> FaultProxy:
        if upstreams is None:
            ens = request.getfixturevalue("ensemble")
            upstreams = [("127.0.0.1", server.client_port) for server in ens.servers]
        fault_proxy = FaultProxy(upstreams)
        proxies.append(fault_proxy)
        fault_proxy.start()
        return fault_proxy

    yield make
    for fault_proxy in proxies:
        fault_proxy.close()


@pytest.fixture
def measure(request: pytest.FixtureRequest) -> Callable[[str, float, str], None]:
    """``measure("handoff latency", 0.42, "s")``: printed now, listed at the end of the run."""

    def record(name: str, value: float, unit: str = "s") -> None:
        print(f"MEASURED {name}: {value:.3f} {unit}")
        request.node.user_properties.append((name, value))
        _MEASUREMENTS.append((request.node.nodeid, name, value, unit))

    return record


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """List every measured number after the run, so they appear without ``-s``."""
    if not _MEASUREMENTS:
        return
    terminalreporter.section("measurements")
    for nodeid, name, value, unit in _MEASUREMENTS:
        terminalreporter.write_line(f"{name}: {value:.3f} {unit}  ({nodeid})")
