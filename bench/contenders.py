"""The contenders the benchmark compares, each as "how to start one candidate".

Usage::

    for contender in all_contenders(java_build):
        worker = contender.candidate(name="ours-1", connect=hosts, path="/bench-ours-1", log=...)
        worker.start()

Every candidate is a process started with ``WorkerProcess`` and signalled by its PID,
exactly as the tests do; every one prints "processing" JSON lines, so one checker
reads them all. Names (SERVICE_NAME, or the Java recipe's host name) are unique per
candidate: the article's recipe decides leadership by comparing names.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from testbed.java_candidates import JavaCandidateBuild
from testbed.processes import WorkerProcess


@dataclass(frozen=True)
class Contender:
    """One contender: a stable key for results, a label for the table, how to start it."""

    key: str
    label: str
    kind: str  # "ours" | "kazoo" | "java"
    close_on_term: bool = True
    java: JavaCandidateBuild | None = field(default=None, compare=False)

    def candidate(
        self, name: str, connect: str, path: str, log: Path, session_timeout_s: float
    ) -> WorkerProcess:
        """A not yet started candidate process named ``name`` in election ``path``."""
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
        assert self.java is not None, "the Java contenders need a compiled ArticleWorker"
        argv = self.java.argv(
            connect=connect,
            name=name,
            root=path,
            session_timeout_ms=int(session_timeout_s * 1000),
            close_on_term=self.close_on_term,
        )
        return WorkerProcess("ArticleWorker", {}, log, name=name, argv=argv)


OURS = Contender("ours", "ours (python -m service1)", "ours")
KAZOO = Contender("kazoo", "kazoo Election", "kazoo")


def all_contenders(java: JavaCandidateBuild | None) -> list[Contender]:
    """Ours first (ratios are to ours), then the baselines; Java ones only if built."""
    contenders = [OURS, KAZOO]
    if java is not None:
        contenders.append(
            Contender(
                "article_close",
                "article recipe, stop()+close() on SIGTERM",
                "java",
                close_on_term=True,
                java=java,
            )
        )
        contenders.append(
            Contender(
                "article_as_written",
                "article recipe as written (nothing closed)",
                "java",
                close_on_term=False,
                java=java,
            )
        )
    return contenders
