"""Java candidates: compile their sources once, build each one's command line.

Usage::

    java = JavaCandidateBuild.find()        # the article's worker; None: no javac or jar
    java.compile()                          # cached in .build/java/<hash of sources and jars>/
    argv = java.argv(connect="127.0.0.1:2181", name="service1", close_on_term=True)

    # several programs, one build (the benchmark adds its Curator workers this way):
    mine = JavaProgram("MyWorker", (src,), ("x.jar",), "libx-java")
    java = JavaCandidateBuild.find((ARTICLE, mine))
    java.argv(connect=..., name=..., main="MyWorker")

The interop test and the benchmark run the one ``ArticleWorker`` program
(``testbed/java/ArticleWorker.java``), so what the interop test proves about the recipe
is what the benchmark measures. A program is a main class, its sources, and the jars it
needs; every jar is Debian's, in ``/usr/share/java``, and its manifest names its own
dependencies (``Class-Path``), which the JVM follows. slf4j's simple binding is added
when present, so a library's warnings reach stderr instead of a "no binding" notice.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .processes import run_process

REPO_ROOT = Path(__file__).resolve().parents[1]
BUILD_ROOT = REPO_ROOT / ".build" / "java"
JAR_DIR = Path(os.environ.get("ZK_JAVA_JARS", "/usr/share/java"))
_LOG_BINDING = "slf4j-simple.jar"


@dataclass(frozen=True)
class JavaProgram:
    """One candidate program: its main class, the sources it needs, the jars it runs on."""

    main: str
    sources: tuple[Path, ...]
    jars: tuple[str, ...]  # file names under JAR_DIR, every one required
    packages: str  # the Debian packages that ship them, for the message when missing

    def missing_jars(self) -> list[Path]:
        return [JAR_DIR / name for name in self.jars if not (JAR_DIR / name).is_file()]

    def missing_message(self) -> str:
        return (
            f"{self.main} needs javac and Debian's jars: "
            f"`sudo apt-get install default-jdk-headless {self.packages}` "
            f"(looked for {', '.join(str(JAR_DIR / name) for name in self.jars)})"
        )


# What every Java candidate shares, its log contract and its common command line
# (testbed/java/CandidateIO.java): a program's sources name it beside its own.
CANDIDATE_IO = REPO_ROOT / "testbed" / "java" / "CandidateIO.java"

ARTICLE = JavaProgram(
    "ArticleWorker",
    (REPO_ROOT / "testbed" / "java" / "ArticleWorker.java", CANDIDATE_IO),
    ("zookeeper-recipes-election.jar", "zookeeper.jar"),
    "zookeeper",
)
MAIN_CLASS = ARTICLE.main
RECIPE_JAR = JAR_DIR / ARTICLE.jars[0]
MISSING_MESSAGE = ARTICLE.missing_message()

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
    """Where java and javac are, and the programs to build; ``compile()`` then ``argv()``."""

    java: str
    javac: str
    programs: tuple[JavaProgram, ...]

    @classmethod
    def find(cls, programs: Iterable[JavaProgram] = (ARTICLE,)) -> JavaCandidateBuild | None:
        """A build of those ``programs`` whose jars are installed; None when there is no
        JDK or none of them can be built (then show ``missing_message()``)."""
        java, javac = shutil.which("java"), shutil.which("javac")
        available = tuple(p for p in programs if not p.missing_jars())
        if java is None or javac is None or not available:
            return None
        return cls(java, javac, available)

    def has(self, main: str) -> bool:
        return any(program.main == main for program in self.programs)

    def program(self, main: str) -> JavaProgram:
        for program in self.programs:
            if program.main == main:
                return program
        raise KeyError(f"{main} is not in this build (missing jars?)")

    def classpath(self, main: str | None = None) -> tuple[str, ...]:
        """The jars of one program (or of all, to compile), slf4j's binding last."""
        chosen = self.programs if main is None else (self.program(main),)
        names = [name for program in chosen for name in program.jars] + [_LOG_BINDING]
        jars = (str(JAR_DIR / name) for name in dict.fromkeys(names))
        return tuple(jar for jar in jars if Path(jar).is_file())

    @property
    def sources(self) -> tuple[Path, ...]:
        return tuple(dict.fromkeys(s for program in self.programs for s in program.sources))

    @property
    def build_dir(self) -> Path:
        """One directory per version of the sources and the jars: a stale class never runs."""
        digest = hashlib.sha256()
        for source in sorted(self.sources):
            digest.update(source.name.encode() + b"\0" + source.read_bytes() + b"\0")
        digest.update("\0".join(self.classpath()).encode())
        return BUILD_ROOT / digest.hexdigest()[:16]

    def _built(self, target: Path) -> bool:
        return all((target / f"{program.main}.class").is_file() for program in self.programs)

    def compile(self) -> Path:
        """javac every source into build_dir unless it is there already; return build_dir."""
        target = self.build_dir
        if self._built(target):
            return target
        BUILD_ROOT.mkdir(parents=True, exist_ok=True)
        # Compile beside the target and rename: two runs racing never see half a build.
        scratch = Path(tempfile.mkdtemp(prefix="javac-", dir=BUILD_ROOT))
        try:
            result = run_process(
                [
                    self.javac,
                    "-Xlint:all,-path",
                    "-cp",
                    os.pathsep.join(self.classpath()),
                    "-d",
                    str(scratch),
                    *(str(source) for source in self.sources),
                ],
                timeout=300,
            )
            if result.returncode != 0:
                raise RuntimeError(f"javac failed ({result.returncode}):\n{result.stderr}")
            try:
                scratch.rename(target)
            except OSError:
                if not self._built(target):
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
        main: str = ARTICLE.main,
    ) -> list[str]:
        """The command line of one candidate of program ``main`` (compile() first).

        Every program takes --connect, --name, --root and --session-timeout-ms; the
        article's worker also --close-on-term and --report-leader.
        """
        classpath = os.pathsep.join((str(self.build_dir), *self.classpath(main)))
        argv = [
            self.java,
            *_JVM_FLAGS,
            "-cp",
            classpath,
            main,
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
