"""Settings: the environment, read once at start, validated, frozen.

This is the only module that reads the environment. Every setting is checked before
anything connects to ZooKeeper; a bad value raises ConfigError, whose message is one
line naming the variable, the value and what is accepted. The worker prints it and
exits with code 2 (E10), so a typo never turns into a crash loop with a traceback.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
import socket
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

__all__ = ["ConfigError", "Settings", "describe", "load"]


class ConfigError(ValueError):
    """A setting has a value the worker cannot run with. The message is one line."""


# host:port or [v6]:port, as kazoo accepts them; the port may be left out (2181).
# ASCII only: Python's \d would take "２１８１" too.
_HOST_PORT = re.compile(r"^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9_.-]+))(?::([0-9]{1,5}))?$")
# What IDNA (socket.getaddrinfo) accepts of a host name: labels of 1..63, 253 in all.
_MAX_LABEL, _MAX_HOST = 63, 253
# Characters ZooKeeper refuses in a path (PathUtils.validatePath, on Java's UTF-16):
# NUL and the C0 controls, DEL and the C1 controls, U+D800..U+F8FF (surrogates, private
# use), U+FFF0..U+FFFF (specials), and so every character past U+FFFF, which Java holds
# as a surrogate pair.
_PATH_FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\uf8ff\ufff0-\U0010ffff]")
_MAX_PATH = 1000
# A number of seconds as people write it, in ASCII digits: float() alone would also
# take "١٢" (Arabic-Indic digits), "1_0" and " inf ".
_SECONDS = re.compile(r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$")
# A digest identity: a user name without ':' (ZooKeeper splits at the first one) and a
# password of printable ASCII, as a Compose secret or an env file would hold it.
_AUTH = re.compile(r"^([A-Za-z0-9._-]{1,64}):([\x21-\x7e]{8,256})$")
# The identity is written into the candidate's node and read back by people and by
# the Java recipe's getLeaderHostName(): a host-name-like token keeps both happy.
_SERVICE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_LOG_FORMATS = ("json", "text")


@dataclass(frozen=True)
class Settings:
    """What one worker needs to know. Environment variable in capitals, default after it."""

    # SERVICE_NAME, default: the service's own name (service1, service2), else the host
    # name. The candidate's identity: stored as its node's data and put on every log line.
    service_name: str
    # ZK_HOSTS, default "zoo1:2181,zoo2:2181,zoo3:2181": the ensemble, host:port, commas.
    zk_hosts: str = "zoo1:2181,zoo2:2181,zoo3:2181"
    # ELECTION_PATH, default "/leader-election": the persistent root the candidates'
    # EPHEMERAL_SEQUENTIAL nodes n_<sequence> live under (the Java recipe's layout).
    election_path: str = "/leader-election"
    # ZK_SESSION_TIMEOUT_S, default 10 (as in the article), seconds. How long the ensemble
    # waits for a silent worker before it ends the session and the next candidate leads.
    # The servers clamp it to 2..20 ticks (4..40 s with the default tickTime of 2 s).
    zk_session_timeout_s: float = 10.0
    # TICK_INTERVAL_S, default 1, seconds: how often the leader logs "Processing...".
    # As low as 0.001: shorter than one ledger write (a round trip, ~4 ms on loopback),
    # so the loop runs as fast as the ledger lets it; `python -m bench` measures the
    # ledger's cost that way (bench/ledger_cost.py). Renewals do not follow the tick.
    tick_interval_s: float = 1.0
    # ZK_CONNECT_TIMEOUT_S, default 5, seconds: one start-up attempt waits this long for
    # a session before it is counted as failed and retried with backoff.
    zk_connect_timeout_s: float = 5.0
    # ZK_RETRY_MAX_DELAY_S, default 5, seconds: the cap of the start-up retries' backoff,
    # and of kazoo's reconnect loop (whose own default cap is an hour), which moreover
    # never waits more than a tenth of the session timeout while the session lives.
    zk_retry_max_delay_s: float = 5.0
    # LOG_FORMAT, default "json": one JSON object per line; "text" for short human lines.
    log_format: str = "json"
    # LOG_LEVEL, default "INFO": DEBUG, INFO, WARNING or ERROR.
    log_level: str = "INFO"
    # HEALTH_FILE, default "" (off): a file the worker rewrites at least once per tick
    # interval with its state, read by `python -m common.health` (the container check).
    health_file: str = ""
    # JOIN_AFTER, default "" (off): the identity (SERVICE_NAME) of a candidate this worker
    # lets join the election first. It watches the election until that candidate has a
    # node, at most JOIN_AFTER_S seconds (default 30), then joins: the demo's service2
    # waits for service1, so after `docker compose up` service1 leads, every time.
    join_after: str = ""
    join_after_s: float = 30.0
    # LEDGER_PATH, default "<ELECTION_PATH>-work" (so "/leader-election-work"): where each
    # unit of the leader's work is recorded, fenced by the ensemble (common/ledger.py);
    # "off": the work writes nowhere, as in the article. Not under ELECTION_PATH.
    ledger_path: str = ""
    # LEDGER_FENCING, default "on". "off" is for teaching only: units are written with
    # no check, so a stale leader's work is accepted (a WARNING says so every minute).
    ledger_fencing: bool = True
    # LEDGER_KEEP_S, default 3600, seconds: the ledger keeps at least this much history
    # (at most 20,000 units); older units are deleted as the leader goes.
    ledger_keep_s: float = 3600.0
    # WORK_S, default 0, seconds: how long one unit of work takes between the lease
    # check and its write to the ledger (the mid-work pause exercise sets it).
    work_s: float = 0.0
    # METRICS_PORT, default 0 (off): serve Prometheus metrics on this TCP port.
    metrics_port: int = 0
    # ZK_AUTH, default "" (off): "user:password", ZooKeeper digest credentials. Set, the
    # election's nodes carry an ACL giving ALL to that identity and READ to the world:
    # everyone sees who leads, only holders of the credentials join, resign or depose.
    # ZK_AUTH_FILE instead: a file whose first line is that (a Compose secret). Never
    # logged; repr() leaves it out.
    zk_auth: str = field(default="", repr=False)

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, default_service_name: str | None = None
    ) -> Settings:
        """Read and validate every setting; raise ConfigError naming all bad ones."""
        env = os.environ if env is None else env
        reader = _Reader(env)
        settings = cls(
            service_name=reader.text(
                "SERVICE_NAME",
                default_service_name or socket.gethostname(),
                _valid_service_name,
            ),
            zk_hosts=reader.text("ZK_HOSTS", cls.zk_hosts, _valid_hosts),
            election_path=reader.text("ELECTION_PATH", cls.election_path, _valid_path),
            zk_session_timeout_s=reader.seconds(
                "ZK_SESSION_TIMEOUT_S", cls.zk_session_timeout_s, 1, 120
            ),
            tick_interval_s=reader.seconds("TICK_INTERVAL_S", cls.tick_interval_s, 0.001, 3600),
            zk_connect_timeout_s=reader.seconds(
                "ZK_CONNECT_TIMEOUT_S", cls.zk_connect_timeout_s, 0.5, 120
            ),
            zk_retry_max_delay_s=reader.seconds(
                "ZK_RETRY_MAX_DELAY_S", cls.zk_retry_max_delay_s, 0.1, 300
            ),
            log_format=reader.choice("LOG_FORMAT", cls.log_format, _LOG_FORMATS, fold=str.lower),
            log_level=reader.choice("LOG_LEVEL", cls.log_level, _LOG_LEVELS, fold=str.upper),
            health_file=reader.text("HEALTH_FILE", cls.health_file, _valid_health_file),
            join_after=reader.text("JOIN_AFTER", cls.join_after, _valid_join_after),
            join_after_s=reader.seconds("JOIN_AFTER_S", cls.join_after_s, 0, 600),
            ledger_path=reader.text("LEDGER_PATH", "", _valid_ledger_path),
            ledger_fencing=reader.choice("LEDGER_FENCING", "on", ("on", "off"), fold=str.lower)
            == "on",
            ledger_keep_s=reader.seconds("LEDGER_KEEP_S", cls.ledger_keep_s, 60, 86400),
            work_s=reader.seconds("WORK_S", cls.work_s, 0, 600),
            metrics_port=reader.port("METRICS_PORT", cls.metrics_port),
            zk_auth=reader.secret("ZK_AUTH", "ZK_AUTH_FILE", _valid_auth),
        )
        settings = _with_ledger_default(settings, reader.errors)
        if settings.join_after and settings.join_after == settings.service_name:
            reader.errors.append(
                f"JOIN_AFTER must name another candidate than SERVICE_NAME "
                f"(got {settings.join_after!r})"
            )
        if reader.errors:
            raise ConfigError("; ".join(reader.errors))
        return settings


def _with_ledger_default(settings: Settings, errors: list[str]) -> Settings:
    """LEDGER_PATH's default follows ELECTION_PATH; "off" becomes "" (no ledger)."""
    ledger = settings.ledger_path or f"{settings.election_path}-work"
    if ledger == "off":
        ledger = ""
    election = settings.election_path
    if ledger and (ledger == election or ledger.startswith(election + "/")):
        errors.append(
            f"LEDGER_PATH must not be ELECTION_PATH or under it (got {ledger!r}): the "
            "election's children are candidates"
        )
    return replace(settings, ledger_path=ledger)


def load(program: str, default_service_name: str | None = None) -> Settings | None:
    """Settings.from_env(), or None after one line on stderr naming what is wrong.

    The caller exits with code 2 on None: the workers, the health check and the status
    command all report a bad setting the same way.
    """
    try:
        return Settings.from_env(default_service_name=default_service_name)
    except ConfigError as exc:
        print(f"{program}: configuration error: {exc}", file=sys.stderr)
        return None


def describe(settings: Settings) -> dict[str, Any]:
    """The settings as a flat dict, for the start-up log line; credentials masked."""
    shown = {f.name: getattr(settings, f.name) for f in fields(settings)}
    shown["zk_auth"] = _masked(settings.zk_auth) if settings.zk_auth else ""
    return shown


def _masked(auth: str) -> str:
    return auth.partition(":")[0] + ":***"


class _Reader:
    """Reads variables one by one and collects every error, so one run names them all."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env
        self.errors: list[str] = []

    def _raw(self, name: str) -> str | None:
        value = self._env.get(name)
        return None if value is None else value.strip()

    def text(self, name: str, default: str, check: Callable[[str], str | None]) -> str:
        raw = self._raw(name)
        value = default if raw is None else raw
        problem = check(value)
        if problem:
            self.errors.append(f"{name} {problem} (got {value!r})")
        return value

    def seconds(self, name: str, default: float, low: float, high: float) -> float:
        raw = self._raw(name)
        if raw is None:
            return default
        rule = f"must be a number of seconds between {low:g} and {high:g}"
        if not _SECONDS.match(raw):
            self.errors.append(f"{name} {rule} (got {raw!r})")
            return default
        value = float(raw)
        if not math.isfinite(value) or not low <= value <= high:
            self.errors.append(f"{name} {rule} (got {raw!r})")
            return default
        return value

    def port(self, name: str, default: int) -> int:
        raw = self._raw(name)
        if raw is None or raw == "":
            return default
        if not raw.isascii() or not raw.isdigit() or not 0 <= int(raw) <= 65535:
            self.errors.append(f"{name} must be 0 (off) or a TCP port 1-65535 (got {raw!r})")
            return default
        return int(raw)

    def secret(self, name: str, file_name: str, check: Callable[[str], str | None]) -> str:
        """A credential from ``name`` or from the file ``file_name`` names; errors never
        show it (only the user part)."""
        raw, path = self._raw(name), self._raw(file_name)
        if raw and path:
            self.errors.append(f"{name} and {file_name} are both set: set one of them")
            return ""
        if path:
            try:
                with open(path, encoding="utf-8") as source:
                    raw = source.readline().strip()
            except (OSError, UnicodeDecodeError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
                self.errors.append(
                    f"{file_name} must name a readable file ({reason}; got {path!r})"
                )
                return ""
            name = f"the first line of {file_name} ({path})"
        if not raw:
            return ""
        problem = check(raw)
        if problem:
            self.errors.append(f"{name} {problem} (got {_masked(raw)!r})")
            return ""
        return raw

    def choice(
        self, name: str, default: str, allowed: tuple[str, ...], fold: Callable[[str], str]
    ) -> str:
        raw = self._raw(name)
        if raw is None:
            return default
        value = fold(raw)
        if value not in allowed:
            self.errors.append(f"{name} must be one of {', '.join(allowed)} (got {raw!r})")
            return default
        return value


def _valid_service_name(value: str) -> str | None:
    if not _SERVICE_NAME.match(value):
        return "must be 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit"
    return None


def _valid_join_after(value: str) -> str | None:
    if value and not _SERVICE_NAME.match(value):
        return "must be empty or a SERVICE_NAME: 1 to 63 letters, digits, '.', '_' or '-'"
    return None


def _valid_ledger_path(value: str) -> str | None:
    if value in ("", "off"):
        return None
    problem = _valid_path(value)
    return problem and problem.replace("/leader-election", "/leader-election-work, or off")


def _valid_hosts(value: str) -> str | None:
    rule = "must be a comma-separated list of host:port, e.g. zoo1:2181,zoo2:2181"
    if "/" in value:
        return (
            "must not end in a chroot (/...): put that prefix in ELECTION_PATH instead, "
            "e.g. /app/leader-election"
        )
    if not value:
        return rule
    for entry in value.split(","):
        match = _HOST_PORT.match(entry.strip())
        if not match:
            return rule
        address, name, port = match.groups()
        if address is not None and not _is_ipv6(address):
            return rule + f" ([{address}] is not an IPv6 address)"
        if name is not None and not _fits_dns(name):
            return rule + f" (host names: labels of 1 to {_MAX_LABEL}, {_MAX_HOST} in all)"
        if port is not None and not 1 <= int(port) <= 65535:
            return rule + " (ports 1-65535)"
    return None


def _is_ipv6(address: str) -> bool:
    try:
        ipaddress.IPv6Address(address)
    except ValueError:
        return False
    return True


def _fits_dns(name: str) -> bool:
    labels = name.removesuffix(".").split(".")
    return len(name) <= _MAX_HOST and all(1 <= len(label) <= _MAX_LABEL for label in labels)


def _valid_path(value: str) -> str | None:
    rule = "must be an absolute ZooKeeper path like /leader-election"
    if not value.startswith("/") or value == "/" or value.endswith("/"):
        return rule
    if len(value) > _MAX_PATH:
        return rule + f" (at most {_MAX_PATH} characters)"
    if _PATH_FORBIDDEN.search(value):
        return rule + " (no control characters, U+D800..U+F8FF or U+FFF0 and above)"
    segments = value[1:].split("/")
    if any(s in ("", ".", "..") for s in segments):
        return rule + " (no empty, '.' or '..' segments)"
    if segments[0] == "zookeeper":
        return "must not be under /zookeeper, which ZooKeeper reserves"
    return None


def _valid_auth(value: str) -> str | None:
    if not _AUTH.match(value):
        return (
            "must be user:password (user: 1 to 64 letters, digits, '.', '_' or '-'; "
            "password: 8 to 256 printable ASCII characters, no spaces)"
        )
    return None


def _valid_health_file(value: str) -> str | None:
    if value and not os.path.isabs(value):
        return "must be empty (off) or an absolute file path"
    return None


def wants_color(stream: object, env: Mapping[str, str] | None = None) -> bool:
    """Colour for people's tools (`common.status --watch`, `make logs`): only on a
    terminal, never when NO_COLOR is set and not empty (the common convention) or
    TERM is dumb."""
    env = os.environ if env is None else env
    if env.get("NO_COLOR") or env.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty is not None and isatty())
