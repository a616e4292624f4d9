"""Java candidates: compile their sources once, build each one's command line.

Usage::

    java = JavaCandidateBuild.find()        # the article's worker; None: no javac or jar
    java.compile()                          # cached in .build/java/<hash of sources and jars>/
    argv = java.argv(connect="127.0.0.1:2181", name="service1", close_on_term=True)

    # several programs, one build (the benchmark adds its Curator workers this way):
    mine = JavaProgram("MyWorker", (src,), (Path("/opt/x.jar"),), "apt-get install libx-java")
    java = JavaCandidateBuild.find((ARTICLE, mine))
    java.argv(connect=..., name=..., program="MyWorker")

The interop test and the benchmark run the one ``ArticleWorker`` program
(``testbed/java/ArticleWorker.java``), so what the interop test proves about the recipe
is what the benchmark measures. A program is a name, a main class, its sources, and the
jars it runs on, each named by its full path: Debian's in ``/usr/share/java`` (whose
manifests name their own dependencies, ``Class-Path``, which the JVM follows), or a set
fetched beside them (Curator 5.7.1, ``make curator``), which names every jar itself.
One main class may run as several programs on several jar sets (Curator 5.7.1 and
Debian 12's 5.4.0): each set is compiled on its own, against the jars it runs on.
slf4j's simple binding is added when present, so a library's warnings reach stderr
instead of a "no binding" notice.
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
    """One candidate program: its main class, the sources it needs, the jars it runs on.

    ``name`` tells programs apart in a build; it is the main class unless one main class
    runs on two jar sets (then each has a name of its own)."""

    main: str
    sources: tuple[Path, ...]
    jars: tuple[Path, ...]  # every one required
    install: str  # the command that installs what is missing, for the message
    name: str = ""

    @property
    def key(self) -> str:
        return self.name or self.main

    def missing_jars(self) -> list[Path]:
        return [jar for jar in self.jars if not jar.is_file()]

    def missing_message(self) -> str:
        return (
            f"{self.key} needs javac and its jars: `{self.install}` "
            f"(looked for {', '.join(str(jar) for jar in self.jars)})"
        )


# What every Java candidate shares, its log contract and its common command line
# (testbed/java/CandidateIO.java): a program's sources name it beside its own.
CANDIDATE_IO = REPO_ROOT / "testbed" / "java" / "CandidateIO.java"

ARTICLE = JavaProgram(
    "ArticleWorker",
    (REPO_ROOT / "testbed" / "java" / "ArticleWorker.java", CANDIDATE_IO),
    (JAR_DIR / "zookeeper-recipes-election.jar", JAR_DIR / "zookeeper.jar"),
    "sudo apt-get install default-jdk-headless zookeeper",
)
MAIN_CLASS = ARTICLE.main
RECIPE_JAR = ARTICLE.jars[0]
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

    def has(self, key: str) -> bool:
        return any(program.key == key for program in self.programs)

    def program(self, key: str) -> JavaProgram:
        for program in self.programs:
            if program.key == key:
                return program
        raise KeyError(f"{key} is not in this build (missing jars?)")

    def _groups(self) -> dict[tuple[Path, ...], tuple[JavaProgram, ...]]:
        """The programs by the jars they run on: each set is compiled on its own."""
        groups: dict[tuple[Path, ...], list[JavaProgram]] = {}
        for program in self.programs:
            groups.setdefault(program.jars, []).append(program)
        return {jars: tuple(programs) for jars, programs in groups.items()}

    def classpath(self, key: str) -> tuple[str, ...]:
        """The jars of one program, slf4j's binding last."""
        jars = [*self.program(key).jars, JAR_DIR / _LOG_BINDING]
        return tuple(str(jar) for jar in dict.fromkeys(jars) if jar.is_file())

    def build_dir(self, key: str) -> Path:
        """One directory per version of a jar set's sources and jars: a stale class never
        runs, and a class compiled against one jar set never runs on another."""
        jars = self.program(key).jars
        group = self._groups()[jars]
        digest = hashlib.sha256()
        sources = dict.fromkeys(s for program in group for s in program.sources)
        for source in sorted(sources):
            digest.update(source.name.encode() + b"\0" + source.read_bytes() + b"\0")
        digest.update("\0".join(self.classpath(key)).encode())
        return BUILD_ROOT / digest.hexdigest()[:16]

    def compile(self) -> list[Path]:
        """javac each jar set's sources into its build_dir unless it is there already."""
        return [self._compile(group) for group in self._groups().values()]

    def _compile(self, group: tuple[JavaProgram, ...]) -> Path:
        target = self.build_dir(group[0].key)
        if all((target / f"{program.main}.class").is_file() for program in group):
            return target
        BUILD_ROOT.mkdir(parents=True, exist_ok=True)
        sources = dict.fromkeys(s for program in group for s in program.sources)
        # Compile beside the target and rename: two runs racing never see half a build.
        scratch = Path(tempfile.mkdtemp(prefix="javac-", dir=BUILD_ROOT))
        try:
            result = run_process(
                [
                    self.javac,
                    "-Xlint:all,-path",
                    "-cp",
                    os.pathsep.join(self.classpath(group[0].key)),
                    "-d",
                    str(scratch),
                    *(str(source) for source in sources),
                ],
                timeout=300,
            )
            if result.returncode != 0:
                raise RuntimeError(f"javac failed ({result.returncode}):\n{result.stderr}")
            try:
                scratch.rename(target)
            except OSError:
                if not (target / f"{group[0].main}.class").is_file():
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
        program: str = ARTICLE.key,
    ) -> list[str]:
        """The command line of one candidate of ``program`` (compile() first).

        Every program takes --connect, --name, --root and --session-timeout-ms; the
        article's worker also --close-on-term and --report-leader.
        """
        chosen = self.program(program)
        classpath = os.pathsep.join((str(self.build_dir(program)), *self.classpath(program)))
        argv = [
            self.java,
            *_JVM_FLAGS,
            "-cp",
            classpath,
            chosen.main,
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
