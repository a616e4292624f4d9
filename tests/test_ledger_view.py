"""common/ledger_view.py without ZooKeeper: what a reader fetches as the ledger grows,
is pruned, is made again, and what it makes of refusals (a fake client counts reads)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from kazoo.exceptions import NoNodeError

from common.ledger import Refusal, Unit, unit_name
from common.ledger_view import _Reader, read_view

PATH = "/leader-election-work"


@dataclass
class _Reply:
    value: object

    def get(self, timeout: float | None = None) -> object:
        if isinstance(self.value, Exception):
            raise self.value
        return self.value


class FakeZooKeeper:
    """Nodes by path; counts getData and getChildren requests."""

    def __init__(self) -> None:
        self.nodes: dict[str, bytes] = {}
        self.gets: list[str] = []
        self.listings = 0

    def record(self, seq: int, worker: str = "service1", token: int = 0x100000003) -> Unit:
        unit = Unit(seq, token, worker, "0x1", 1000.0 + seq)
        self.nodes[PATH] = unit.encode()
        self.nodes[f"{PATH}/{unit_name(seq)}"] = unit.encode()
        self.nodes.setdefault(f"{PATH}/refused", b"")
        return unit

    def refuse(self, n: int, seq: int, reason: str = "node_gone") -> Refusal:
        refusal = Refusal(seq, 0x100000003, "service1", "0x1", 2000.0 + n, reason)
        self.nodes[f"{PATH}/refused/r_{n:010d}"] = refusal.encode()
        return refusal

    def get_async(self, path: str, watch=None) -> _Reply:
        self.gets.append(path)
        if path not in self.nodes:
            return _Reply(NoNodeError())
        return _Reply((self.nodes[path], None))

    def get_children_async(self, path: str, watch=None) -> _Reply:
        self.listings += 1
        if path not in self.nodes:
            return _Reply(NoNodeError())
        prefix = path + "/"
        return _Reply(
            [
                p[len(prefix) :]
                for p in self.nodes
                if p.startswith(prefix) and "/" not in p[len(prefix) :]
            ]
        )

    def exists_async(self, path: str, watch=None) -> _Reply:
        return _Reply(object() if path in self.nodes else None)


def test_no_ledger_yet_is_a_view_that_says_so():
    view = read_view(FakeZooKeeper(), PATH)
    assert (view.exists, view.units, view.refused, view.head) == (False, (), 0, None)


def test_a_reader_lists_once_then_fetches_only_the_new_units():
    zk = FakeZooKeeper()
    for seq in range(1, 101):
        zk.record(seq)
    reader = _Reader(PATH, keep=5)
    reader.read(zk)
    assert [u.seq for u in reader.units] == [96, 97, 98, 99, 100]
    assert zk.listings == 2  # the units' numbers once, the refusals once
    zk.gets.clear()
    zk.record(101)
    zk.record(102)
    reader.read(zk)
    assert [u.seq for u in reader.units] == [98, 99, 100, 101, 102]
    # The head (102, in the root's data) and the one unit in between: no listing of units.
    assert zk.gets == [PATH, f"{PATH}/{unit_name(101)}"]
    assert zk.listings == 3


def test_a_reader_far_behind_or_facing_a_new_ledger_starts_over():
    zk = FakeZooKeeper()
    for seq in range(1, 4):
        zk.record(seq)
    reader = _Reader(PATH, keep=5)
    reader.read(zk)
    for seq in range(4, 50):  # far more than it keeps: listed again, not 46 reads
        zk.record(seq)
    reader.read(zk)
    assert [u.seq for u in reader.units] == [45, 46, 47, 48, 49]
    zk.nodes.clear()
    zk.record(1, "service2", 0x100000009)  # the ledger deleted and made again
    reader.read(zk)
    assert [(u.seq, u.worker) for u in reader.units] == [(1, "service2")]


def test_pruned_units_are_skipped_and_refusals_read_once_each():
    zk = FakeZooKeeper()
    for seq in range(1, 4):
        zk.record(seq)
    reader = _Reader(PATH, keep=10)
    reader.read(zk)
    for seq in range(4, 8):
        zk.record(seq)
    del zk.nodes[f"{PATH}/{unit_name(5)}"]  # pruned between the head and its fetch
    first = zk.refuse(1, 4)
    reader.read(zk)
    assert [u.seq for u in reader.units] == [1, 2, 3, 4, 6, 7]
    assert reader.view().refusals == (first,)
    zk.gets.clear()
    second = zk.refuse(2, 8, "older_token")
    reader.read(zk)
    view = reader.view()
    assert view.refusals == (first, second) and view.last_refusal == second
    assert [p for p in zk.gets if "/refused/" in p] == [f"{PATH}/refused/r_{2:010d}"]


@pytest.mark.parametrize("junk", [b"", b"not json", b'{"seq": "x"}'])
def test_a_head_that_is_no_unit_is_an_empty_ledger(junk):
    zk = FakeZooKeeper()
    zk.nodes[PATH] = junk
    view = read_view(zk, PATH)
    assert view.exists and view.units == ()


def test_names_that_are_no_units_are_left_out_of_the_listing():
    zk = FakeZooKeeper()
    for seq in range(1, 4):
        zk.record(seq)
    for junk in ("u_abc", "u_12", "u_００００００００01", "other"):
        zk.nodes[f"{PATH}/{junk}"] = b"{}"
    view = read_view(zk, PATH, keep=10)
    assert [u.seq for u in view.units] == [1, 2, 3]
