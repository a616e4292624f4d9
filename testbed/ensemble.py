"""A real ZooKeeper ensemble on loopback, started from a local installation.

Usage::

    install = find_zookeeper()          # None when there is no ZooKeeper: skip or fail
    ens = Ensemble(Path("/tmp/zk"), size=3, tick_ms=500, install=install)
    ens.start()                         # waits for one leader and two followers
    hosts = ens.connect_string()        # "127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3"
    ens.leader().kill()                 # a fault: SIGKILL the server in Mode leader
    ens.restart_missing()               # start it again, wait for quorum
    ens.stop()

Where the installation comes from, in order:

1. ``$ZOOKEEPER_HOME``: an unpacked Apache ZooKeeper binary tarball (``lib/*.jar``).
   Those ship logback; we pass our own ``logback.xml``.
2. Debian's ``zookeeper`` package: ``/usr/share/java/zookeeper.jar``. Its manifest's
   ``Class-Path`` names its dependencies; Debian's ``zkEnv.sh`` adds nothing but the
   conf directory (for ``log4j.properties``), so we add the log4j 1.2 binding of slf4j
   and our own ``log4j.properties`` instead of ``/etc/zookeeper/conf``.

Every server logs to ``<workdir>/zk<N>/server.log`` (the JVM's stdout and stderr, so
start-up failures land there too). Ports are picked free by binding port 0. Servers are
stopped by PID; an ``atexit`` hook kills any still running if the caller forgets.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import weakref
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .processes import start_process

MISSING_MESSAGE = (
    "ZooKeeper not found: install it with `sudo apt-get install zookeeper` "
    "or set ZOOKEEPER_HOME to an unpacked Apache ZooKeeper tarball"
)

_DEBIAN_JAR_DIR = Path("/usr/share/java")
# What a server cannot start without. The slf4j binding and log4j itself are
# dependencies of Debian's package that its manifest does not list.
_DEBIAN_REQUIRED_JARS = (
    "zookeeper-jute.jar",
    "slf4j-api.jar",
    "slf4j-log4j12.jar",
    "log4j-1.2.jar",
    "netty-handler.jar",
)
_MAIN_CLASS = "org.apache.zookeeper.server.quorum.QuorumPeerMain"
# A small, busy 2-core box: a small heap, the serial collector and the C1 compiler only
# start a server in about a second and keep three of them well under a core.
_JVM_FLAGS = (
    "-Xmx256m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-Xss512k",
    "-Djava.net.preferIPv4Stack=true",
    "-Dzookeeper.jmx.log4j.disable=true",
)

_LOG4J_PROPERTIES = """\
# Written by testbed/ensemble.py: everything to stdout, which the harness
# redirects to the server's own log file.
log4j.rootLogger=INFO, CONSOLE
log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender
log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout
log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} %-5p [%t:%C{1}@%L] - %m%n
"""

_LOGBACK_XML = """\
<!-- Written by testbed/ensemble.py for a ZOOKEEPER_HOME tarball (logback). -->
<configuration>
  <appender name="CONSOLE" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%d{ISO8601} %-5p [%t:%C{1}@%L] - %m%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="CONSOLE"/></root>
</configuration>
"""


@dataclass(frozen=True)
class ZooKeeperInstall:
    """What it takes to start a server: a java binary and a classpath."""

    java: str
    classpath: tuple[str, ...]
    source: str  # "ZOOKEEPER_HOME=..." or "debian" -- for messages


def find_zookeeper() -> ZooKeeperInstall | None:
    """The local ZooKeeper installation, or None (then show MISSING_MESSAGE)."""
    java = _find_java()
    if java is None:
        return None
    home = os.environ.get("ZOOKEEPER_HOME")
    if home:
        return _from_tarball(Path(home), java)
    return _from_debian(java)


def _find_java() -> str | None:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    return shutil.which("java")


def _from_tarball(home: Path, java: str) -> ZooKeeperInstall | None:
    jars = sorted(str(p) for p in (home / "lib").glob("*.jar"))
    jars += sorted(str(p) for p in home.glob("zookeeper-*.jar"))
    if not any("zookeeper" in Path(j).name for j in jars):
        return None
    return ZooKeeperInstall(java, tuple(jars), f"ZOOKEEPER_HOME={home}")


def _from_debian(java: str) -> ZooKeeperInstall | None:
    main_jar = _DEBIAN_JAR_DIR / "zookeeper.jar"
    if not main_jar.is_file():
        return None
    required = [main_jar] + [_DEBIAN_JAR_DIR / name for name in _DEBIAN_REQUIRED_JARS]
    if not all(jar.is_file() for jar in required):
        return None
    # Optional entries may be absent: jline, for one, serves only the CLI.
    listed = [jar for jar in _manifest_class_path(main_jar) if Path(jar).is_file()]
    jars = [str(jar) for jar in required] + listed
    return ZooKeeperInstall(java, tuple(dict.fromkeys(jars)), "debian")


def _manifest_class_path(jar: Path) -> list[str]:
    """The jar's ``Class-Path`` entries: Debian lists the dependencies there."""
    with zipfile.ZipFile(jar) as archive:
        text = archive.read("META-INF/MANIFEST.MF").decode("utf-8")
    # Manifest lines are wrapped at 72 bytes; a continuation starts with one space.
    text = text.replace("\r\n", "\n").replace("\n ", "")
    for line in text.splitlines():
        if line.startswith("Class-Path:"):
            return line.split(":", 1)[1].split()
    return []


def free_ports(count: int) -> list[int]:
    """Ports the kernel says are free now (all bound at once, so they differ)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def four_letter(port: int, cmd: str, timeout: float = 2.0, host: str = "127.0.0.1") -> str:
    """Send a four-letter word (``srvr``, ``cons``, ``mntr``...) and read the answer."""
    with socket.create_connection((host, port), timeout=timeout) as conn:
        conn.sendall(cmd.encode("ascii"))
        chunks = []
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", "replace")


class Server:
    """One ZooKeeper server process: its config, its ports, its PID and its log.

    Faults are made by PID: ``kill()`` (SIGKILL by default), ``stop()`` (SIGTERM,
    then SIGKILL after a deadline). ``start()`` again after either: the data
    directory is kept, as after a real crash.
    """

    def __init__(
        self,
        server_id: int,
        directory: Path,
        client_port: int,
        quorum_port: int,
        election_port: int,
        install: ZooKeeperInstall,
    ) -> None:
        self.id = server_id
        self.directory = directory
        self.client_port = client_port
        self.quorum_port = quorum_port
        self.election_port = election_port
        self.install = install
        self.log_path = directory / "server.log"
        self.config_path = directory / "zoo.cfg"
        self._process: subprocess.Popen[bytes] | None = None
        self._signalled = False  # set by kill()/stop(): an exit we caused

    def __repr__(self) -> str:
        return f"Server(id={self.id}, client_port={self.client_port}, pid={self.pid})"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def write_config(self, text: str) -> None:
        (self.directory / "data").mkdir(parents=True, exist_ok=True)
        (self.directory / "data" / "myid").write_text(f"{self.id}\n")
        self.config_path.write_text(text)

    def start(self) -> None:
        """Start the JVM (no wait: see Ensemble.wait_quorum). No-op if running."""
        if self.is_running():
            return
        self._reap()
        self._signalled = False
        conf_dir = self.directory.parent
        cmd = [
            self.install.java,
            *_JVM_FLAGS,
            f"-Dlog4j.configuration=file:{conf_dir / 'log4j.properties'}",
            f"-Dlogback.configurationFile={conf_dir / 'logback.xml'}",
            f"-Dzookeeper.log.dir={self.directory}",
            "-cp",
            os.pathsep.join(self.install.classpath),
            _MAIN_CLASS,
            str(self.config_path),
        ]
        with open(self.log_path, "ab") as log:
            log.write(f"\n=== harness: starting server {self.id} at {time.time():.3f}\n".encode())
            log.flush()
            # Own session: a Ctrl-C in the terminal must not take the ensemble down
            # under a test; the harness stops every server by PID.
            self._process = start_process(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.directory,
                start_new_session=True,
            )
        _LIVE_SERVERS.add(self)

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the server's PID; after SIGKILL, reap it."""
        if not self.is_running():
            return
        assert self._process is not None
        self._signalled = True
        self._process.send_signal(sig)
        if sig == signal.SIGKILL:
            self._process.wait(timeout=10)
            self._reap()

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL once ``timeout`` seconds have passed."""
        if self._process is None:
            return
        self._signalled = True
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGCONT)  # a paused JVM cannot exit
            self._process.terminate()
            try:
                self._process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
        self._reap()

    def crashed(self) -> int | None:
        """The exit code if the server exited without kill()/stop(), else None."""
        if self._process is None or self._signalled:
            return None
        return self._process.poll()

    def _reap(self) -> None:
        if self._process is not None and self._process.poll() is not None:
            self._process = None

    def four_letter(self, cmd: str, timeout: float = 2.0) -> str:
        return four_letter(self.client_port, cmd, timeout)

    def mode(self) -> str | None:
        """``leader``, ``follower``, ``standalone``, or None if not serving."""
        if not self.is_running():
            return None
        try:
            answer = self.four_letter("srvr", timeout=1.0)
        except OSError:
            return None
        match = re.search(r"^Mode: (\w+)", answer, re.MULTILINE)
        return match.group(1) if match else None

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


class Ensemble:
    """``size`` servers on 127.0.0.1 with free ports, one directory each under workdir.

    ``tick_ms`` is ZooKeeper's tickTime: session timeouts are bounded by 2..20 ticks
    (defaults), so 500 ms allows sessions from 1 s to 10 s. ``min_session_ms`` raises
    the lower bound (ZooKeeper's ``minSessionTimeout``).
    """

    def __init__(
        self,
        workdir: Path,
        size: int = 3,
        tick_ms: int = 500,
        install: ZooKeeperInstall | None = None,
        min_session_ms: int | None = None,
    ) -> None:
        install = install or find_zookeeper()
        if install is None:
            raise RuntimeError(MISSING_MESSAGE)
        self.workdir = Path(workdir)
        self.size = size
        self.tick_ms = tick_ms
        self.min_session_ms = min_session_ms
        self.install = install
        ports = free_ports(3 * size)
        self.servers = [
            Server(i + 1, self.workdir / f"zk{i + 1}", *ports[3 * i : 3 * i + 3], install=install)
            for i in range(size)
        ]
        self._write_configs()

    def __enter__(self) -> Ensemble:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _write_configs(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "log4j.properties").write_text(_LOG4J_PROPERTIES)
        (self.workdir / "logback.xml").write_text(_LOGBACK_XML)
        members = "".join(
            f"server.{s.id}=127.0.0.1:{s.quorum_port}:{s.election_port};127.0.0.1:{s.client_port}\n"
            for s in self.servers
        )
        for server in self.servers:
            # initLimit/syncLimit generous: three JVMs plus workers on two busy cores.
            text = (
                f"tickTime={self.tick_ms}\n"
                "initLimit=20\n"
                "syncLimit=10\n"
                f"dataDir={server.directory / 'data'}\n"
                f"clientPort={server.client_port}\n"
                "clientPortAddress=127.0.0.1\n"
                "4lw.commands.whitelist=*\n"
                "admin.enableServer=false\n"
                # Twenty workers plus test clients share one loopback address.
                "maxClientCnxns=0\n"
            )
            if self.min_session_ms is not None:
                text += f"minSessionTimeout={self.min_session_ms}\n"
            if self.size > 1:
                text += members
            server.write_config(text)

    def start(self, timeout: float = 60.0) -> None:
        """Start every server; return when one leads and the others follow."""
        for server in self.servers:
            server.start()
        self.wait_quorum(timeout)

    def stop(self) -> None:
        """Stop every server by PID. Idempotent."""
        for server in self.servers:
            server.stop()

    def connect_string(self) -> str:
        return ",".join(f"127.0.0.1:{s.client_port}" for s in self.servers)

    def modes(self) -> dict[int, str | None]:
        """Server id -> mode (None for a stopped or not-serving server)."""
        return {s.id: s.mode() for s in self.servers}

    def leader(self) -> Server:
        """The server in Mode leader (raises if there is none right now)."""
        for server in self.servers:
            if server.mode() in ("leader", "standalone"):
                return server
        raise AssertionError(f"no ZooKeeper leader; modes: {self.modes()}")

    def running(self) -> list[Server]:
        return [s for s in self.servers if s.is_running()]

    def has_quorum(self) -> bool:
        """True when a majority runs, exactly one leads and every running one follows."""
        running = self.running()
        if len(running) <= self.size // 2:
            return False
        modes = [s.mode() for s in running]
        if self.size == 1:
            return modes == ["standalone"]
        return modes.count("leader") == 1 and modes.count("follower") == len(running) - 1

    def wait_quorum(self, timeout: float = 60.0) -> None:
        """Poll ``srvr`` until has_quorum(); raise with the modes and log tails if not."""
        started = time.monotonic()
        deadline = started + timeout
        while time.monotonic() < deadline:
            if self.has_quorum():
                return
            for server in self.servers:
                code = server.crashed()
                if code is not None:
                    raise AssertionError(
                        f"ZooKeeper server {server.id} exited with {code}:\n{server.log_tail()}"
                    )
            time.sleep(0.1)
        tails = "\n".join(f"--- zk{s.id} ---\n{s.log_tail(20)}" for s in self.servers)
        raise AssertionError(
            f"no ZooKeeper quorum after {time.monotonic() - started:.1f} s; "
            f"modes: {self.modes()}\n{tails}"
        )

    def restart_missing(self, timeout: float = 60.0) -> list[Server]:
        """Start every stopped server, wait for quorum; return those restarted."""
        restarted = [s for s in self.servers if not s.is_running()]
        for server in restarted:
            server.start()
        self.wait_quorum(timeout)
        return restarted

    def log_tails(self, lines: int = 40) -> str:
        return "\n".join(
            f"--- zk{s.id} {s.log_path} ---\n{s.log_tail(lines)}" for s in self.servers
        )


# Servers started and not yet stopped, killed at interpreter exit so that a crashed
# test run never leaves JVMs behind on a 2-core box.
_LIVE_SERVERS: weakref.WeakSet[Server] = weakref.WeakSet()


@atexit.register
def _kill_leftover_servers() -> None:
    for server in list(_LIVE_SERVERS):
        if server.is_running():
            server.kill()
