"""The store as judge: is the ledger's history one leader's work at a time?

The log-based judge (testbed/checker.py) takes the workers' word for what they did.
This one reads what ZooKeeper accepted (common/ledger.py) and holds the logs to it.

Usage::

    history = read_history(client, "/leader-election-work")
    found = judge(history.units, logged_units(records), tick_interval_s=1.0)
    assert found == [], "\\n".join(found)

What counts as a violation (each a human-readable line):

1. **gap**: a unit number missing between the oldest and the newest kept: an accepted
   unit was lost (numbers are given without gaps; pruning only takes the oldest).
2. **token down**: in the ledger's order, a unit carries a lower fencing token than
   one before it: a stale leader's work was accepted after a newer leader's.
3. **returned**: a leadership (token, session) has a unit after a unit of another
   leadership that came after its own: two leaders' work interleaved.
4. **too fast**: within one leadership, more units than its time allows: for any two
   of its units i < j, ``j - i <= (t_j - t_i) / tick_interval_s + slack``. The worker
   schedules one unit per tick interval and never bursts to catch up; ``slack`` (2 by
   default) is one for the count's fence post and one for the write's latency, which
   moves a unit's recorded time by up to an interval on a loaded machine.
5. **no unit**: a ``processing`` line names a unit the ledger does not hold with that
   worker and token (the worker said it did work that was not recorded), or two lines
   name one unit.
6. **no line**: a unit the ledger holds has no ``processing`` line from its worker.
   A worker that was killed (``crashed``) may leave the last unit of a leadership
   without its line: it was recorded, then the process died before it could log. A
   ``unit_unconfirmed`` line (the write was sent, no answer came in time) names the
   unit whose fate the worker could not know: it is that unit's line, whichever way
   it went, and never a claim that the work was done.

Only units and lines in the span both sides cover are compared: units pruned from the
ledger, and lines of workers the caller did not read, are out of it.

As a command, on the running compose project (``make judge``)::

    python -m testbed.ledger [--compose "docker compose"] [--last SECONDS | --since EPOCH]

reads the ledger's history from ZooKeeper (the nodes' published client ports) and the
workers' logs (``<compose> logs --timestamps service1 service2``), and prints one line
for the ledger, one per refused write kept in it, one per violation, then the verdict;
exit 1 on a violation, 2 on bad arguments, 1 with one line when it cannot read. Units
older than the first unit the logs name (a recreated container's lines are gone) are
judged by the ledger's own rules only.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field

from common.ledger import Refusal, Unit
from common.logreader import Record
from common.logs import Event

__all__ = ["Logged", "Verdict", "judge", "logged_units", "main", "summary", "verdict"]

DEFAULT_SLACK = 2


@dataclass(frozen=True)
class Logged:
    """One ``processing`` line that names its unit, or (``unconfirmed``) one
    ``unit_unconfirmed`` line: a unit sent whose fate its worker could not learn."""

    worker: str
    seq: int
    token: int | None
    unconfirmed: bool = False


def logged_units(records: Iterable[Record]) -> list[Logged]:
    """The lines that name a unit: ``processing`` (done) and ``unit_unconfirmed``."""
    found = []
    for record in records:
        if record.event not in (Event.PROCESSING, Event.UNIT_UNCONFIRMED):
            continue
        seq = record.fields.get("unit")
        if isinstance(seq, int):
            unsure = record.event == Event.UNIT_UNCONFIRMED
            found.append(Logged(record.service, seq, record.token, unconfirmed=unsure))
    return found


def judge(
    units: Iterable[Unit],
    logged: Iterable[Logged] | None = None,
    *,
    tick_interval_s: float,
    slack: float = DEFAULT_SLACK,
    workers: Collection[str] | None = None,
    crashed: Collection[str] = (),
) -> list[str]:
    """Every violation in the ledger's ``units`` (any order) and against ``logged``.

    ``logged=None`` checks the ledger alone. ``workers``: whose lines were read (default:
    every worker with a line); units of others need no line.
    """
    ordered = sorted(units, key=lambda u: u.seq)
    found = _gaps(ordered) + _order(ordered) + _rates(ordered, tick_interval_s, slack)
    if logged is not None:
        lines = list(logged)
        readers = set(workers) if workers is not None else {line.worker for line in lines}
        found += _against_logs(ordered, lines, readers, set(crashed))
    return found


def _gaps(units: list[Unit]) -> list[str]:
    found = []
    for before, after in zip(units, units[1:], strict=False):
        if after.seq != before.seq + 1:
            found.append(f"gap: units {before.seq + 1}..{after.seq - 1} are missing")
    return found


def _order(units: list[Unit]) -> list[str]:
    found = []
    highest: Unit | None = None
    ended: set[tuple[int, str]] = set()
    current: tuple[int, str] | None = None
    for unit in units:
        key = (unit.token, unit.session)
        if highest is not None and unit.token < highest.token:
            found.append(
                f"token down: unit {unit.seq} by {unit.worker} has token {unit.token} after "
                f"unit {highest.seq} by {highest.worker} with token {highest.token}"
            )
        if key != current:
            if key in ended:
                found.append(
                    f"returned: unit {unit.seq} by {unit.worker} (token {unit.token}) after "
                    "another leadership's units that followed its own"
                )
            if current is not None:
                ended.add(current)
            current = key
        if highest is None or unit.token > highest.token:
            highest = unit
    return found


def _rates(units: list[Unit], interval: float, slack: float) -> list[str]:
    found = []
    for key, own in _by_leadership(units).items():
        best = float("-inf")  # max over i < j of (t_i / interval - i)
        for index, unit in enumerate(own):
            # (j - i) - (t_j - t_i) / interval, at its largest over the units before j
            excess = (index - unit.time / interval) + best
            best = max(best, unit.time / interval - index)
            if excess > slack + 1e-9:
                found.append(
                    f"too fast: token {key[0]} ({unit.worker}) recorded {excess:.1f} units "
                    f"more than one per {interval:g} s allows, by unit {unit.seq}"
                )
                break
    return found


def _by_leadership(units: list[Unit]) -> dict[tuple[int, str], list[Unit]]:
    groups: dict[tuple[int, str], list[Unit]] = {}
    for unit in units:
        groups.setdefault((unit.token, unit.session), []).append(unit)
    return groups


def _against_logs(
    units: list[Unit], lines: list[Logged], readers: set[str], crashed: set[str]
) -> list[str]:
    found = []
    # By token too: a worker whose unanswered unit was lost may lead again and record
    # that number itself; its unconfirmed line is not the new unit's line.
    unsure = {(line.worker, line.seq, line.token) for line in lines if line.unconfirmed}
    lines = [line for line in lines if not line.unconfirmed]
    if not units:
        return [f"no unit: {len(lines)} processing lines, an empty ledger"] if lines else []
    oldest = units[0].seq
    by_seq = {unit.seq: unit for unit in units}
    counts = Counter(line.seq for line in lines)
    for line in lines:
        if line.seq < oldest:
            continue  # pruned from the ledger (or before this reading)
        unit = by_seq.get(line.seq)
        if unit is None or unit.worker != line.worker or unit.token != line.token:
            held = f"{unit.worker}'s with token {unit.token}" if unit else "no unit"
            found.append(
                f"no unit: {line.worker} logged unit {line.seq} with token {line.token}; "
                f"the ledger holds {held}"
            )
        elif counts[line.seq] > 1:
            found.append(f"no unit: unit {line.seq} was logged {counts[line.seq]} times")
            counts[line.seq] = 1  # said once
    said = {(line.worker, line.seq, line.token) for line in lines} | unsure
    last_of = {key: own[-1].seq for key, own in _by_leadership(units).items()}
    newest_logged = max((line.seq for line in lines), default=0)
    for unit in units:
        if unit.worker not in readers or (unit.worker, unit.seq, unit.token) in said:
            continue
        if unit.seq > newest_logged and unit is units[-1]:
            continue  # written as the logs were read: its line may not be out yet
        if unit.worker in crashed and last_of[(unit.token, unit.session)] == unit.seq:
            continue  # recorded, then killed before the line
        found.append(f"no line: unit {unit.seq} by {unit.worker} (token {unit.token})")
    return found


def summary(units: Iterable[Unit], refusals: int = 0) -> str:
    """One line per leadership in the ledger: who, which token, how many units, when."""
    ordered = sorted(units, key=lambda u: u.seq)
    out = [f"{len(ordered)} units, {refusals} refused"]
    for (token, session), own in _by_leadership(ordered).items():
        fenced = "" if all(u.fenced for u in own) else " UNFENCED"
        out.append(
            f"  {own[0].worker:<12} token {token} session {session}: units "
            f"{own[0].seq}..{own[-1].seq} ({len(own)}){fenced}"
        )
    return "\n".join(out)


@dataclass(frozen=True)
class Verdict:
    """The judge's answer over a window: what it compared and what it found."""

    units: list[Unit]  # the ledger's units in the window, in order
    lines: list[Logged]  # the processing lines in the window that name a unit
    refusals: list[Refusal]  # refused writes kept in the ledger, in the window
    findings: list[str] = field(default_factory=list)  # violations, one line each

    def both_cover(self) -> tuple[int, int]:
        """(units, lines) over the span both sides cover, where each unit has its line
        (equal when all is well). The span runs from the first unit number both the
        ledger's window and the lines reach to the last: a unit recorded just before the
        window began has its line just after it (the line follows the write), and a
        unit written as the logs were read has none yet; a line whose unit is missing
        inside the ledger's range is a finding of the judge's, not a count here.

        A line is a ``processing`` line, or an unconfirmed one whose unit did land (same
        worker, number and token) and has no ``processing`` line of its own: an
        unconfirmed write that did not land is no unit, whether the next leader took
        its number or the same worker, leading again (with a new token, or with the
        same one after a quorum loss), recorded that number itself."""
        if not self.lines:
            return 0, 0

        def key(item: Unit | Logged) -> tuple[str, int, int | None]:
            return item.worker, item.seq, item.token

        processed = {key(line) for line in self.lines if not line.unconfirmed}
        landed = {key(u) for u in self.units}
        counted = [
            line
            for line in self.lines
            if not line.unconfirmed or (key(line) in landed and key(line) not in processed)
        ]
        low = min(line.seq for line in self.lines)
        high = max(line.seq for line in self.lines)
        if self.units:
            low = max(low, self.units[0].seq)
            high = min(high, self.units[-1].seq)
        units = sum(1 for u in self.units if low <= u.seq <= high)
        lines = sum(1 for line in counted if low <= line.seq <= high)
        return units, lines

    def report(self) -> list[str]:
        """The command's output: the ledger, its refusals, each finding, the verdict."""
        first, last = (self.units[0].seq, self.units[-1].seq) if self.units else (0, 0)
        span = f"units {first}..{last}" if self.units else "no unit"
        workers = sorted({line.worker for line in self.lines})
        units, lines = self.both_cover()
        unsure = sum(1 for line in self.lines if line.unconfirmed)
        said = f"{len(self.lines) - unsure} processing lines"
        if unsure:
            said += f" and {unsure} unconfirmed"
        out = [
            f"ledger: {len(self.units)} units ({span}), {len(self.refusals)} refused; "
            f"{said} ({', '.join(workers) or 'none'}); "
            f"where both cover: {units} units, {lines} lines"
        ]
        for r in self.refusals:
            out.append(f"refused: unit {r.seq} by {r.worker} with token {r.token:#x}: {r.reason}")
        out += [f"VIOLATION {finding}" for finding in self.findings]
        if self.findings:
            n = len(self.findings)
            out.append(f"verdict: {n} violation{'s' * (n != 1)}")
        else:
            out.append(
                "verdict: no violation: tokens never go down, no gap, no leader came back, "
                "none too fast; every processing line has its unit and every unit its line"
            )
        return out


def verdict(
    units: Iterable[Unit],
    records: Iterable[Record],
    *,
    tick_interval_s: float,
    refusals: Iterable[Refusal] = (),
    since: float | None = None,
    workers: Collection[str] | None = None,
) -> Verdict:
    """Judge the ledger's ``units`` and the workers' ``records`` from ``since`` on.

    Units before the first one the logs name are judged by the ledger's rules alone:
    their lines are not in ``records`` (a recreated container, a rotated log). A worker
    whose log shows a start without a shutdown before it was killed (``crashed``).
    """
    window = sorted((u for u in units if since is None or u.time >= since), key=lambda u: u.seq)
    records = sorted(records, key=lambda r: r.time)
    lines = logged_units(r for r in records if since is None or r.time >= since)
    found = judge(window, None, tick_interval_s=tick_interval_s)
    if lines:
        first = min(line.seq for line in lines)
        covered = [u for u in window if u.seq >= first]
        readers = set(workers) if workers is not None else {line.worker for line in lines}
        found += _against_logs(covered, lines, readers, _crashed(records))
    kept = [r for r in refusals if since is None or r.time >= since]
    return Verdict(window, lines, sorted(kept, key=lambda r: r.time), found)


def _crashed(records: Iterable[Record]) -> set[str]:
    """Workers that started again without a shutdown line before (killed)."""
    running: dict[str, bool] = {}
    crashed = set()
    for record in records:
        if record.event == Event.STARTED:
            if running.get(record.service):
                crashed.add(record.service)
            running[record.service] = True
        elif record.event == Event.SHUTDOWN:
            running[record.service] = False
    return crashed


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m testbed.ledger``: judge the running compose project's ledger."""
    parser = argparse.ArgumentParser(
        prog="python -m testbed.ledger",
        description="Judge the compose project's ledger against the workers' logs.",
    )
    parser.add_argument("--compose", help="the Compose command (default: v2, else v1)")
    window = parser.add_mutually_exclusive_group()
    window.add_argument("--last", type=float, metavar="SECONDS", help="only the last SECONDS")
    window.add_argument("--since", type=float, metavar="EPOCH", help="only from EPOCH on")
    args = parser.parse_args(argv)
    if args.last is not None and args.last <= 0:
        parser.error("--last must be a positive number of seconds")
    try:
        found = _read_project(args.compose, args.since, args.last)
    except _Unreadable as exc:
        print(f"judge: {exc}", file=sys.stderr)
        return 1
    print("\n".join(found.report()))
    return 1 if found.findings else 0


class _Unreadable(Exception):
    """The project, its ledger or its logs could not be read: one line says why."""


def _read_project(given: str | None, since: float | None, last: float | None) -> Verdict:
    from kazoo.client import KazooClient
    from kazoo.exceptions import KazooException, NoNodeError
    from kazoo.handlers.threading import KazooTimeoutError

    from common.ledger import read_history
    from common.settings import Settings
    from workshop.compose import ComposeError, compose_command, containers, run
    from workshop.records import read_lines

    if last is not None:
        since = time.time() - last
    try:
        compose = compose_command(given)
        found = containers(compose)
        servers = [c.client_address for c in found if c.service.startswith("zoo")]
        servers = [s for s in servers if s]
        workers = [c for c in found if c.service in ("service1", "service2")]
        if not servers or not workers:
            raise _Unreadable("no ZooKeeper node or worker in this compose project; make up")
        logs = run([*compose, "logs", "--no-color", "--timestamps", "service1", "service2"], 120)
    except ComposeError as exc:
        raise _Unreadable(str(exc)) from exc
    env = next((w.env for w in workers if w.env), {})
    path = env.get("LEDGER_PATH") or f"{env.get('ELECTION_PATH', Settings.election_path)}-work"
    if path == "off":
        raise _Unreadable("the workers run with LEDGER_PATH=off: there is no ledger to judge")
    try:
        interval = float(env.get("TICK_INTERVAL_S", "1"))
    except ValueError:
        interval = 1.0
    client = KazooClient(hosts=",".join(servers), timeout=5.0)
    try:
        client.start(timeout=15)
        history = read_history(client, path)
    except NoNodeError as exc:
        raise _Unreadable(f"no ledger at {path} yet: has a worker led?") from exc
    except (KazooException, KazooTimeoutError) as exc:
        raise _Unreadable(f"ZooKeeper at {','.join(servers)} did not answer: {exc!r}") from exc
    finally:
        client.stop()
        client.close()
    records = read_lines(logs.splitlines())
    return verdict(
        history.units,
        records,
        tick_interval_s=interval,
        refusals=history.refusals,
        since=since,
    )


if __name__ == "__main__":
    sys.exit(main())
