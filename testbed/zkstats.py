"""What the ZooKeeper servers themselves count, read through four-letter words.

Usage::

    probe = ZkProbe(ensemble)
    before = probe.connections()           # session id -> Connection counters
    ...
    after = probe.connections()
    rate = Connection.delta(before[sid], after[sid])

Why the servers and not the workers: the article's Java recipe, kazoo's Election and
ours would each have to count their own traffic differently; a server counts every
client alike. ``cons`` lists each client connection with packets received and sent
(requests, responses, pings and watch notifications) and ``lcxid``, the last client
transaction id: clients number every request but pings (xid -2) and notifications, so
its growth is the number of real requests. ``dump`` (on the leader) lists which
session owns which ephemeral node; ``wchp`` lists, per path, the sessions watching it.
``mntr`` gives a server's own gauges (``zk_outstanding_requests``, ``zk_avg_latency``,
``zk_max_latency`` in ms, ``zk_packets_received``...); ``srst`` starts its latency and
packet counts afresh, so that the next ``mntr`` speaks of what happened since.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from testbed.ensemble import Ensemble

_CONS_LINE = re.compile(r"^\s*/[^\[]+\[\d+\]\((?P<fields>[^)]*)\)\s*$")


@dataclass(frozen=True)
class Connection:
    """One client connection's counters as ``cons`` shows them."""

    session: str  # "0x..." as the clients print it (no leading zeros)
    server: int
    established: int  # ms since epoch: a reconnect gives a new value
    recved: int
    sent: int
    lcxid: int

    @staticmethod
    def delta(before: Connection, after: Connection) -> Counts | None:
        """What one connection did in between; None if it reconnected meanwhile."""
        if (before.server, before.established) != (after.server, after.established):
            return None
        return Counts(
            after.recved - before.recved, after.sent - before.sent, after.lcxid - before.lcxid
        )


@dataclass(frozen=True)
class Counts:
    recved: int  # packets from the client (requests and pings)
    sent: int  # packets to the client (responses, ping replies, notifications)
    requests: int  # requests that were not pings (lcxid growth)

    @property
    def packets(self) -> int:
        return self.recved + self.sent


def normal_session(text: str) -> str:
    """``0x0100...`` or ``0x100...`` -> ``0x100...`` (how kazoo and Java print it)."""
    return f"0x{int(text, 16):x}"


def parse_cons(server_id: int, text: str) -> dict[str, Connection]:
    """``cons`` output -> session -> Connection; the asking connection (no sid) is left out."""
    result = {}
    for line in text.splitlines():
        match = _CONS_LINE.match(line)
        if not match:
            continue
        fields = dict(
            part.split("=", 1) for part in match.group("fields").split(",") if "=" in part
        )
        if "sid" not in fields or "lcxid" not in fields:
            continue
        session = normal_session(fields["sid"])
        result[session] = Connection(
            session=session,
            server=server_id,
            established=int(fields.get("est", "0")),
            recved=int(fields["recved"]),
            sent=int(fields["sent"]),
            lcxid=int(fields["lcxid"], 16),
        )
    return result


def parse_dump(text: str) -> dict[str, str]:
    """The leader's ``dump`` -> ephemeral node path -> owning session."""
    owners: dict[str, str] = {}
    session = None
    in_ephemerals = False
    for line in text.splitlines():
        if line.startswith("Sessions with Ephemerals"):
            in_ephemerals = True
            continue
        if not in_ephemerals:
            continue
        if line.startswith("0x") and line.rstrip().endswith(":"):
            session = normal_session(line.strip().rstrip(":"))
        elif line.startswith(("\t", " ")) and line.strip().startswith("/") and session:
            owners[line.strip()] = session
        elif line.strip() and not line.startswith(("\t", " ")):
            in_ephemerals = line.startswith("0x")
    return owners


def parse_wchp(text: str) -> dict[str, set[str]]:
    """``wchp`` -> path -> sessions watching it (data, exists and child watches alike)."""
    watchers: dict[str, set[str]] = {}
    path = None
    for line in text.splitlines():
        if line.startswith("/"):
            path = line.strip()
            watchers.setdefault(path, set())
        elif line.strip().startswith("0x") and path is not None:
            watchers[path].add(normal_session(line.strip()))
    return watchers


def parse_mntr(text: str) -> dict[str, float]:
    """``mntr`` -> gauge name -> value; the lines that are not numbers (the version, the
    server's state) are left out."""
    gauges: dict[str, float] = {}
    for line in text.splitlines():
        name, _, value = line.partition("\t")
        try:
            gauges[name.strip()] = float(value)
        except ValueError:
            continue
    return gauges


class ZkProbe:
    """Four-letter words across the ensemble, merged (each client talks to one server)."""

    def __init__(self, ensemble: Ensemble) -> None:
        self.ensemble = ensemble

    def connections(self) -> dict[str, Connection]:
        merged: dict[str, Connection] = {}
        for server in self.ensemble.running():
            merged.update(parse_cons(server.id, server.four_letter("cons", timeout=5)))
        return merged

    def ephemerals(self, under: str) -> dict[str, str]:
        """Ephemeral nodes directly under ``under`` -> owning session (from the leader)."""
        owners = parse_dump(self.ensemble.leader().four_letter("dump", timeout=5))
        prefix = under.rstrip("/") + "/"
        return {
            path: session
            for path, session in owners.items()
            if path.startswith(prefix) and "/" not in path[len(prefix) :]
        }

    def watchers(self) -> dict[str, set[str]]:
        merged: dict[str, set[str]] = {}
        for server in self.ensemble.running():
            for path, sessions in parse_wchp(server.four_letter("wchp", timeout=5)).items():
                merged.setdefault(path, set()).update(sessions)
        return merged

    def monitor(self) -> dict[int, dict[str, float]]:
        """server id -> its ``mntr`` gauges, for every running server."""
        return {
            server.id: parse_mntr(server.four_letter("mntr", timeout=5))
            for server in self.ensemble.running()
        }

    def reset_stats(self) -> None:
        """``srst`` on every running server: latency and packet counts start afresh."""
        for server in self.ensemble.running():
            server.four_letter("srst", timeout=5)
