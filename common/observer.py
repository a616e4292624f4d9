"""The election seen from outside: who the candidates are, lowest (the leader) first.

For status tools and tests; a candidate never needs this (it knows its own place from
its own node and its predecessor). ``read_candidates`` opens a short session, lists the
election root once and reads each candidate's node:

    for candidate in read_candidates("zoo1:2181", "/leader-election"):
        print(candidate.sequence, candidate.identity, candidate.czxid)

A candidate is a child named ``n_<10 ASCII digits>`` (ZooKeeper's sequence counter, as
the Java recipe names them); anything else under the root is not one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException, NoNodeError
from kazoo.handlers.threading import KazooTimeoutError

from .zkclient import new_client

__all__ = ["Candidate", "Unavailable", "identity", "list_candidates", "read_candidates", "sequence"]

# The Java recipe's node name prefix; its sequence suffix is ZooKeeper's 10-digit counter.
NODE_PREFIX = "n_"
_NODE_NAME = re.compile(r"^n_(\d{10})$")


@dataclass(frozen=True)
class Candidate:
    """One child of the election root, as ``read_candidates`` sees it."""

    node: str
    sequence: int
    identity: str
    czxid: int
    session_id: int


class Unavailable(Exception):
    """The ensemble could not be read; the message says why."""


def sequence(name: str) -> int | None:
    """The sequence number of a candidate node's name, None if it is not one."""
    match = _NODE_NAME.match(name)
    return int(match.group(1)) if match else None


def identity(data: bytes | None) -> str:
    """A candidate's identity from its node's data (UTF-8)."""
    return (data or b"").decode("utf-8", errors="replace")


def read_candidates(hosts: str, path: str, timeout_s: float = 5.0) -> list[Candidate]:
    """Every candidate node under ``path``, lowest (the leader) first."""
    client = new_client(hosts, 10.0)
    try:
        client.start(timeout=timeout_s)
    except KazooTimeoutError as exc:
        raise Unavailable(f"no ZooKeeper session from {hosts} within {timeout_s:g} s") from exc
    try:
        return list_candidates(client, path)
    except KazooException as exc:
        raise Unavailable(f"reading {path} failed: {exc!r}") from exc
    finally:
        client.stop()
        client.close()


def list_candidates(client: KazooClient, path: str) -> list[Candidate]:
    """The candidate nodes under ``path`` (one getChildren, one getData each), lowest first."""
    try:
        names = client.get_children(path)
    except NoNodeError:
        return []
    found = []
    for name in names:
        seq = sequence(name)
        if seq is None:
            continue
        try:
            data, stat = client.get(f"{path}/{name}")
        except NoNodeError:
            continue  # it went between the two reads
        found.append(
            Candidate(f"{path}/{name}", seq, identity(data), stat.czxid, stat.ephemeralOwner)
        )
    return sorted(found, key=lambda c: c.sequence)
