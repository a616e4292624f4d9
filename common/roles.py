"""Each ZooKeeper server's role, as ``srvr`` (a four-letter word) tells it: the
ensemble's part of ``python -m common.status`` and of the live page. One connection
per server, all at once, each bounded by its timeout.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from .logs import printable

__all__ = ["Role", "Server", "probe", "probe_all"]

_FOUR_LETTER_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Server:
    """A ZooKeeper server as dialled (``address``), with the name people know it by."""

    address: str
    name: str | None = None

    @property
    def label(self) -> str:
        return f"{self.name}  {self.address}" if self.name else self.address


@dataclass(frozen=True)
class Role:
    """A server's answer to ``srvr``: its ``mode`` (leader, follower, standalone), or
    the ``error`` that stands in for one."""

    server: Server
    mode: str | None
    error: str | None = None

    @property
    def text(self) -> str:
        return self.mode or self.error or "?"


def _split_host_port(entry: str) -> tuple[str, int]:
    """`zoo1:2181`, `zoo1`, `[::1]:2181` or `[::1]` (the settings' forms) -> (host, port).

    A missing port is 2181, as kazoo assumes.
    """
    entry = entry.strip()
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else 2181
    host, colon, port = entry.partition(":")
    return host, int(port) if colon else 2181


def probe(server: Server) -> Role:
    """The `Mode:` line of a server's `srvr` answer, or why there is none."""
    host, port = _split_host_port(server.address)
    try:
        with socket.create_connection((host, port), _FOUR_LETTER_TIMEOUT_S) as conn:
            conn.sendall(b"srvr")
            conn.settimeout(_FOUR_LETTER_TIMEOUT_S)
            answer = b""
            while chunk := conn.recv(4096):
                answer += chunk
    except OSError as exc:
        return Role(server, None, f"unreachable ({exc.strerror or exc})")
    for line in answer.decode(errors="replace").splitlines():
        if line.startswith("Mode:"):
            return Role(server, printable(line.split(":", 1)[1].strip(), 32))
    if b"not in the whitelist" in answer:
        return Role(server, None, "srvr is not whitelisted (4lw.commands.whitelist)")
    if not answer:
        return Role(server, None, "unreachable (closed without an answer)")
    return Role(server, None, "serving no requests (no quorum?)")


def probe_all(servers: Sequence[Server]) -> tuple[Role, ...]:
    """Every server at once, so a silent one costs its timeout only once."""
    if not servers:
        return ()
    with ThreadPoolExecutor(max_workers=len(servers)) as pool:
        return tuple(pool.map(probe, servers))
