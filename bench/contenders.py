"""The contenders the benchmark compares, each as "how to start one candidate".

Usage::

    java = JavaCandidateBuild.find(JAVA_PROGRAMS)   # what of it is installed; None: no JDK
    for contender in all_contenders(java):
        worker = contender.candidate(name="ours-1", connect=hosts, path="/bench-ours-1", log=...)
        worker.start()

Every candidate is a process started with ``WorkerProcess`` and signalled by its PID,
exactly as the tests do; every one prints ``processing`` JSON lines, so one checker
reads them all. Names (SERVICE_NAME, or the Java programs' --name) are unique per
candidate: the article's recipe decides leadership by comparing names.

Curator is measured at the release its users run today, 5.7.1 (Debian 13's package on
the ZooKeeper 3.9.3 client, ``make curator``), each recipe used as its documentation
shows; Debian 12's 5.4.0 (the system's ``libcurator-*-java``) runs only through the
ZooKeeper faults, where its double leader (CURATOR-696, fixed in 5.7.0) shows. The
Curator workers (``bench/java/``) are the benchmark's alone, so they live here; the
article's worker is shared with the interop test and lives in ``testbed/java/``.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

from testbed.java_candidates import (
    ARTICLE,
    CANDIDATE_IO,
    JAR_DIR,
    REPO_ROOT,
    JavaCandidateBuild,
    JavaProgram,
)
from testbed.processes import WorkerProcess

_JAVA_DIR = Path(__file__).resolve().parent / "java"
# Where `make curator` (bench/install-curator.sh) puts Curator 5.7.1 and ZooKeeper 3.9.3.
CURATOR_DIR = Path(os.environ.get("CURATOR_DIR", REPO_ROOT / ".build" / "curator-5.7.1"))
# Those jars' manifests name no Class-Path (the installer removes it: on this machine it
# would pull in bookworm's 5.4 and 3.8), so the class path names every jar: Curator's
# three, the ZooKeeper client and its jute, and what they need from Debian 12 (guava,
# slf4j, and netty, whose SSL classes the 3.9 client's configuration loads even for a
# plain connection), as the trixie packages' Depends would.
_CURATOR_571 = (
    *(
        CURATOR_DIR / f"{name}.jar"
        for name in (
            "curator-recipes",
            "curator-framework",
            "curator-client",
            "zookeeper",
            "zookeeper-jute",
        )
    ),
    *(
        JAR_DIR / f"{name}.jar"
        for name in (
            "guava",
            "slf4j-api",
            "netty-buffer",
            "netty-codec",
            "netty-common",
            "netty-handler",
            "netty-resolver",
            "netty-transport",
        )
    ),
)
# Debian 12's libcurator-*-java 5.4.0: their manifests list guava, slf4j-api and
# zookeeper (3.8, the servers' version) as Class-Path, so these three name the rest.
_CURATOR_540 = tuple(
    JAR_DIR / name
    for name in ("curator-recipes.jar", "curator-framework.jar", "curator-client.jar")
)
_LATCH_SOURCES = (
    _JAVA_DIR / "CuratorLatchWorker.java",
    _JAVA_DIR / "WorkerSupport.java",
    CANDIDATE_IO,
)

CURATOR_LATCH = JavaProgram("CuratorLatchWorker", _LATCH_SOURCES, _CURATOR_571, "make curator")
CURATOR_SELECTOR = JavaProgram(
    "CuratorSelectorWorker",
    (_JAVA_DIR / "CuratorSelectorWorker.java", _JAVA_DIR / "WorkerSupport.java", CANDIDATE_IO),
    _CURATOR_571,
    "make curator",
)
CURATOR_540_LATCH = JavaProgram(
    "CuratorLatchWorker",
    _LATCH_SOURCES,
    _CURATOR_540,
    "sudo apt-get install default-jdk-headless libcurator-recipes-java",
    name="CuratorLatchWorker-5.4.0",
)
JAVA_PROGRAMS = (CURATOR_LATCH, CURATOR_SELECTOR, CURATOR_540_LATCH, ARTICLE)
ALL_PHASES = ("failover", "ensemble", "scale")
# Growth is measured for the contenders whose followers only wait for a watch and whose
# candidates fit a thousand to a machine; the JVM recipes' cost at twenty says the rest.
_NO_SCALE = ("failover", "ensemble")


@dataclass(frozen=True)
class Contender:
    """One contender: a stable key for results, a label for the table, how to start it."""

    key: str
    label: str
    kind: str  # "ours" | "kazoo" | "java"
    program: str = ""  # the Java program (JavaProgram.key)
    close_on_term: bool = False  # the article's worker only
    switches: tuple[str, ...] = ()  # the Java program's own flags
    phases: tuple[str, ...] = ALL_PHASES  # the phases it runs in
    java: JavaCandidateBuild | None = field(default=None, compare=False)

    def candidate(
        self,
        name: str,
        connect: str,
        path: str,
        log: Path,
        session_timeout_s: float,
        behind_proxy: bool = False,
        env: dict[str, str] | None = None,
    ) -> WorkerProcess:
        """A not yet started candidate process named ``name`` in election ``path``;
        ``behind_proxy``: ``connect`` is a fault proxy's (see ``WorkerSupport.java`` for
        what the Curator workers do about that; the others need nothing); ``env``:
        settings over the defaults below (ours and kazoo's, which read the environment).
        Ours keeps its ledger at the default, ``<path>-work``, unless ``env`` says
        otherwise (``LEDGER_PATH=off``)."""
        env = {
            "ZK_HOSTS": connect,
            "SERVICE_NAME": name,
            "ELECTION_PATH": path,
            "ZK_SESSION_TIMEOUT_S": f"{session_timeout_s:g}",
            "TICK_INTERVAL_S": "1",
            "LOG_FORMAT": "json",
            **(env or {}),
        }
        if self.kind == "ours":
            return WorkerProcess("service1", env, log, name=name)
        if self.kind == "kazoo":
            module = "bench.baselines.kazoo_election_worker"
            return WorkerProcess(module, env, log, name=name, argv=[sys.executable, "-m", module])
        assert self.java is not None, f"the Java contender {self.key} needs a compiled build"
        argv = self.java.argv(
            connect=connect,
            name=name,
            root=path,
            session_timeout_ms=int(session_timeout_s * 1000),
            close_on_term=self.close_on_term,
            program=self.program,
        )
        argv += self.switches
        if behind_proxy and self.program != ARTICLE.key:
            argv.append("--behind-proxy")
        return WorkerProcess(self.program, {}, log, name=name, argv=argv)

    def crowd(
        self,
        prefix: str,
        first: int,
        count: int,
        connect: str,
        path: str,
        log: Path,
        session_timeout_s: float,
        stagger_s: float,
    ) -> WorkerProcess:
        """A not yet started process hosting candidates ``<prefix><first>`` .. of this
        contender, each with its own session (``bench/crowd.py``; ours and kazoo's only)."""
        if self.kind not in ("ours", "kazoo"):
            raise ValueError(f"{self.key} has no crowd: only ours and kazoo's do")
        argv = [sys.executable, "-m", "bench.crowd", "--kind", self.kind, "--connect", connect]
        argv += ["--root", path, "--prefix", prefix, "--first", str(first)]
        argv += ["--count", str(count), "--session-timeout-s", f"{session_timeout_s:g}"]
        argv += ["--stagger-s", f"{stagger_s:g}"]
        name = f"{prefix}{first}-{first + count - 1}"
        return WorkerProcess("bench.crowd", {}, log, name=name, argv=argv)


OURS = Contender("ours", "ours (python -m service1)", "ours")
KAZOO = Contender("kazoo", "kazoo Election", "kazoo")
_JAVA_CONTENDERS = (
    Contender(
        "curator_latch_listener",
        "Curator 5.7.1 LeaderLatch, LeaderLatchListener (event-driven)",
        "java",
        CURATOR_LATCH.key,
        switches=("--listener",),
        phases=_NO_SCALE,
    ),
    Contender(
        "curator_latch_poll",
        "Curator 5.7.1 LeaderLatch, hasLeadership() polled each second",
        "java",
        CURATOR_LATCH.key,
        phases=_NO_SCALE,
    ),
    Contender(
        "curator_selector",
        "Curator 5.7.1 LeaderSelector, Curator's example (autoRequeue)",
        "java",
        CURATOR_SELECTOR.key,
        phases=_NO_SCALE,
    ),
    Contender(
        "article_close",
        "article recipe, stop()+close() on SIGTERM",
        "java",
        ARTICLE.key,
        True,
        phases=_NO_SCALE,
    ),
    Contender(
        "article_as_written",
        "article recipe as written (nothing closed)",
        "java",
        ARTICLE.key,
        phases=_NO_SCALE,
    ),
    Contender(
        "curator540_latch_poll",
        "Debian 12's Curator 5.4.0 LeaderLatch, polled (CURATOR-696)",
        "java",
        CURATOR_540_LATCH.key,
        phases=("ensemble",),
    ),
)


def all_contenders(java: JavaCandidateBuild | None) -> list[Contender]:
    """Ours first (ratios are to ours), then the baselines; Java ones only if built."""
    contenders = [OURS, KAZOO]
    for contender in _JAVA_CONTENDERS:
        if java is not None and java.has(contender.program):
            contenders.append(replace(contender, java=java))
    return contenders
