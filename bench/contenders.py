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

The Curator workers (``bench/java/``) are the benchmark's alone, so they live here;
the article's worker is shared with the interop test and lives in ``testbed/java/``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from testbed.java_candidates import ARTICLE, CANDIDATE_IO, JavaCandidateBuild, JavaProgram
from testbed.processes import WorkerProcess

_JAVA_DIR = Path(__file__).resolve().parent / "java"
# Debian's libcurator-*-java 5.4: their manifests list guava, slf4j-api and zookeeper
# (3.8, the servers' version) as Class-Path, so these three name the whole classpath.
_CURATOR_JARS = ("curator-recipes.jar", "curator-framework.jar", "curator-client.jar")
_CURATOR_PACKAGES = "libcurator-recipes-java libcurator-framework-java libcurator-client-java"

CURATOR_LATCH = JavaProgram(
    "CuratorLatchWorker",
    (_JAVA_DIR / "CuratorLatchWorker.java", _JAVA_DIR / "WorkerSupport.java", CANDIDATE_IO),
    _CURATOR_JARS,
    _CURATOR_PACKAGES,
)
CURATOR_SELECTOR = JavaProgram(
    "CuratorSelectorWorker",
    (_JAVA_DIR / "CuratorSelectorWorker.java", _JAVA_DIR / "WorkerSupport.java", CANDIDATE_IO),
    _CURATOR_JARS,
    _CURATOR_PACKAGES,
)
JAVA_PROGRAMS = (CURATOR_LATCH, CURATOR_SELECTOR, ARTICLE)


@dataclass(frozen=True)
class Contender:
    """One contender: a stable key for results, a label for the table, how to start it."""

    key: str
    label: str
    kind: str  # "ours" | "kazoo" | "java"
    main: str = ""  # the Java program's main class
    close_on_term: bool = False  # the article's worker only
    java: JavaCandidateBuild | None = field(default=None, compare=False)

    def candidate(
        self,
        name: str,
        connect: str,
        path: str,
        log: Path,
        session_timeout_s: float,
        behind_proxy: bool = False,
    ) -> WorkerProcess:
        """A not yet started candidate process named ``name`` in election ``path``;
        ``behind_proxy``: ``connect`` is a fault proxy's (see ``WorkerSupport.java`` for
        what the Curator workers do about that; the others need nothing)."""
        env = {
            "ZK_HOSTS": connect,
            "SERVICE_NAME": name,
            "ELECTION_PATH": path,
            "ZK_SESSION_TIMEOUT_S": f"{session_timeout_s:g}",
            "TICK_INTERVAL_S": "1",
            "LOG_FORMAT": "json",
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
            main=self.main,
        )
        if behind_proxy and self.main != ARTICLE.main:
            argv.append("--behind-proxy")
        return WorkerProcess(self.main, {}, log, name=name, argv=argv)


OURS = Contender("ours", "ours (python -m service1)", "ours")
KAZOO = Contender("kazoo", "kazoo Election", "kazoo")
_JAVA_CONTENDERS = (
    ("curator_latch", "Curator LeaderLatch, hasLeadership() each second", CURATOR_LATCH, False),
    ("curator_selector", "Curator LeaderSelector, autoRequeue", CURATOR_SELECTOR, False),
    ("article_close", "article recipe, stop()+close() on SIGTERM", ARTICLE, True),
    ("article_as_written", "article recipe as written (nothing closed)", ARTICLE, False),
)


def all_contenders(java: JavaCandidateBuild | None) -> list[Contender]:
    """Ours first (ratios are to ours), then the baselines; Java ones only if built."""
    contenders = [OURS, KAZOO]
    for key, label, program, close_on_term in _JAVA_CONTENDERS:
        if java is not None and java.has(program.main):
            contenders.append(
                Contender(key, label, "java", program.main, close_on_term=close_on_term, java=java)
            )
    return contenders
