"""The article's worker in Java (``testbed/java/ArticleWorker.java``): compile once, build argv.

Usage::

    java = JavaCandidateBuild.find()        # None when javac or the recipe jar is missing
    java.compile()                          # cached in .build/java/<source hash>/
    argv = java.argv(connect="127.0.0.1:2181", name="service1", close_on_term=True)

Both the benchmark and the interop test run this one program, so what the interop test
proves about the recipe is what the benchmark measures.

The classpath is Debian's: ``zookeeper-recipes-election.jar`` and ``zookeeper.jar``,
whose manifests name their own dependencies (``Class-Path``), plus slf4j's simple
binding so the client's warnings reach stderr instead of a "no binding" notice.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SOURCE = REPO_ROOT / "testbed" / "java" / "ArticleWorker.java"
BUILD_ROOT = REPO_ROOT / ".build" / "java"
MAIN_CLASS = "ArticleWorker"

JAR_DIR = Path(os.environ.get("ZK_JAVA_JARS", "/usr/share/java"))
RECIPE_JAR = JAR_DIR / "zookeeper-recipes-election.jar"
_CLASSPATH_JARS = ("zookeeper-recipes-election.jar", "zookeeper.jar", "slf4j-simple.jar")

MISSING_MESSAGE = (
    "the article's Java recipe needs javac and Debian's ZooKeeper jars: "
    "`sudo apt-get install default-jdk-headless zookeeper` "
    f"(looked for {RECIPE_JAR})"
)

# Twenty of these run at once on two cores: a small heap, the serial collector and
# the C1 compiler only keep each one to a second of start-up CPU and ~40 MB.
_JVM_FLAGS = (
    "-Xmx64m",
    "-Xss512k",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-Djava.net.preferIPv4Stack=true",
    "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
    "-Dorg.slf4j.simpleLogger.showDateTime=true",
)


@dataclass(frozen=True)
class JavaCandidateBuild:
    """Where java, javac and the jars are; ``compile()`` then ``argv()``."""

    java: str
    javac: str
    jars: tuple[str, ...]

    @classmethod
    def find(cls) -> JavaCandidateBuild | None:
        """The toolchain and jars, or None (then show MISSING_MESSAGE)."""
        java, javac = shutil.which("java"), shutil.which("javac")
        jars = tuple(str(JAR_DIR / name) for name in _CLASSPATH_JARS)
        if java is None or javac is None or not all(Path(j).is_file() for j in jars[:2]):
            return None
        return cls(java, javac, tuple(j for j in jars if Path(j).is_file()))

    @property
    def build_dir(self) -> Path:
        """One directory per source version: a stale class is never run."""
        digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:16]
        return BUILD_ROOT / digest

    def compile(self) -> Path:
        """javac into build_dir unless it is there already; return build_dir."""
        target = self.build_dir
        if (target / f"{MAIN_CLASS}.class").is_file():
            return target
        BUILD_ROOT.mkdir(parents=True, exist_ok=True)
        # Compile beside the target and rename: two runs racing never see half a build.
        scratch = Path(tempfile.mkdtemp(prefix="javac-", dir=BUILD_ROOT))
        try:
            result = subprocess.run(
                [
                    self.javac,
                    "-Xlint:all,-path",
                    "-cp",
                    os.pathsep.join(self.jars),
                    "-d",
                    str(scratch),
                    str(SOURCE),
                ],
                capture_output=True,
                text=True,
                timeout=180,
                check=False,
            )
            if result.returncode != 0:
                raise RuntimeError(f"javac failed ({result.returncode}):\n{result.stderr}")
            try:
                scratch.rename(target)
            except OSError:
                if not (target / f"{MAIN_CLASS}.class").is_file():
                    raise
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return target

    def argv(
        self,
        connect: str,
        name: str,
        root: str = "/leader-election",
        session_timeout_ms: int = 10_000,
        close_on_term: bool = False,
        report_leader: bool = False,
    ) -> list[str]:
        """The command line of one candidate (compile() first)."""
        classpath = os.pathsep.join((str(self.build_dir), *self.jars))
        argv = [
            self.java,
            *_JVM_FLAGS,
            "-cp",
            classpath,
            MAIN_CLASS,
            "--connect",
            connect,
            "--name",
            name,
            "--root",
            root,
            "--session-timeout-ms",
            str(session_timeout_ms),
        ]
        if close_on_term:
            argv.append("--close-on-term")
        if report_leader:
            argv.append("--report-leader")
        return argv
