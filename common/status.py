"""`python -m common.status`: who leads, who waits, and what each ZooKeeper server says.

    python -m common.status                 # once, for people
    python -m common.status --json          # once, one JSON object, for scripts
    python -m common.status --watch         # redrawn on every change, until Ctrl-C
    python -m common.status --watch --json  # one JSON object per line, one per change
    python -m common.status --depose        # ask the leader to resign (needs ZK_AUTH)
    python -m common.status --ledger [N]    # the ledger's last N units and refusals

It reads the workers' settings (ZK_HOSTS, ELECTION_PATH), so in a container it needs
no arguments; on the host, `make status` (`python -m workshop.status`) asks Compose
for the published client ports and passes them in:

    election /leader-election
      leader     service2  token 0x100000004  n_0000000001  session 0x300000a1b2c0000
      candidate  service1  token 0x100000006  n_0000000002  session 0x100000a1b2c0001
    ensemble
      zoo1:2181  follower
      zoo2:2181  leader
      zoo3:2181  follower

The first candidate leads. Tokens are fencing tokens (the czxid of the candidate's
node) in hex: epoch << 32 | counter, so the epoch digit grows when the ensemble has
elected a new ZooKeeper leader in between.

--watch is driven by ZooKeeper's watches (``observer.ElectionWatch``), not by polling:
a takeover shows as soon as ZooKeeper announces the old leader's node gone. The new
leader's line is highlighted for a few seconds (reverse green; marked ``>`` where
there is no colour: NO_COLOR, TERM=dumb, or not a terminal), and the last changes are
listed with their times. Server roles cannot be watched in ZooKeeper: they are asked
(``srvr``) every 2 s and at every connection change. Not on a terminal, each change
prints a new block instead of redrawing. Ctrl-C (or SIGTERM) exits 0.

JSON keys, always present: ``time`` (UTC, RFC 3339), ``election``, ``connection``
(null once; CONNECTED, SUSPENDED, LOST or CONNECTING with --watch), ``leader`` (the
leader's identity or null), ``candidates`` (lowest first: ``rank`` from 1, ``role``,
``identity``, ``node``, ``sequence``, ``fencing_token`` (an integer),
``fencing_token_hex``, ``session_id`` (hex text)), ``servers`` (``name`` or null,
``address``, ``mode`` or null, ``error`` or null), ``changes`` (texts, with --watch)
``error`` (null, or why the candidates could not be read) and ``ledger`` (null with
LEDGER_PATH=off; else ``path``, ``exists``, ``units``: the newest five, newest first,
each ``seq``, ``fencing_token``, ``fencing_token_hex``, ``worker``, ``session_id``,
``time``, ``age_s``, ``fenced``; ``refused``: the refusals kept (the last 100);
``last_refusal``: the newest, with its ``reason``, or null; ``error``).

The work: below the candidates, the ledger's newest units (number, token, worker, age)
and the refused count with the newest refusal's reason (common/ledger.py). --watch
keeps them current through a data watch on the ledger's root, whose data changes with
every accepted unit, and a child watch on its refusals (``ledger_view.LedgerWatch``,
at most four reads a second); a refusal is listed among the changes. Not on a
terminal, a new unit alone prints no new block (one a second would bury the changes);
in JSON each change of the ledger is a line.

--ledger [N] prints the ledger's recent history instead: its last N entries (default
20), units and refusals in time order, one line each, refusals marked REFUSED (with
--json, one object: ``history``, each entry with ``refused`` true or false).

--depose asks the leader to resign (``observer.depose``): it stops working, deletes
its node and joins again at the back; the next candidate leads. With credentials on
the election only ZK_AUTH (or ZK_AUTH_FILE) holders may; prints who led and who leads.

Exit codes: 0; 1 when the candidates could not be read (once), the depose failed or
there is no ledger to print (--ledger);
2 for a bad argument or setting, with one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from .ledger_status import (
    HISTORY_SHOWN,
    IDENTITY_LIMIT,
    TROUBLE,
    UNITS_SHOWN,
    cut,
    history,
    ledger_json,
    ledger_lines,
)
from .ledger_view import LedgerView, LedgerWatch, read_view_from
from .logs import printable, quiet_kazoo, rfc3339
from .observer import (
    Candidate,
    ElectionView,
    ElectionWatch,
    Unavailable,
    depose,
    read_candidates,
)
from .roles import Role, Server, probe, probe_all
from .settings import ConfigError, Settings, load, wants_color
from .shutdown import StopSignals, Wakeup, exit_now

__all__ = ["Role", "Server", "Status", "changes", "main", "probe", "render", "to_json"]

_ROLES_EVERY_S = 2.0
_HIGHLIGHT_S = 3.0
_CHANGES_SHOWN = 6
# On a stop signal: the time the observer's session is given to close. The watch exits
# within about this long, whatever ZooKeeper does.
_CLOSE_S = 0.5
_USAGE = "python -m common.status [--json] [--watch] [--depose] [--ledger [COUNT]]"


@dataclass(frozen=True)
class Status:
    """Everything one screen or one JSON object shows."""

    election: str
    candidates: tuple[Candidate, ...] | None
    roles: tuple[Role, ...] = ()
    connection: str | None = None  # None: a one-off read (connected, or error says why)
    error: str | None = None
    changes: tuple[tuple[float, str], ...] = ()
    time: float = field(default_factory=time.time)
    ledger: LedgerView | None = None  # None: LEDGER_PATH=off (no ledger to show)


# -------------------------------------------------------------------- what changed


def _name(candidate: Candidate) -> str:
    return printable(candidate.identity, IDENTITY_LIMIT)


def _short_node(node: str) -> str:
    return node.rsplit("/", 1)[-1]


def changes(old: Sequence[Candidate] | None, new: Sequence[Candidate]) -> list[str]:
    """What a person should read about the step from `old` to `new` (None: first view)."""
    if old is None:
        return []
    found = []
    old_leader, new_leader = (old[0] if old else None), (new[0] if new else None)
    if old_leader != new_leader:
        if new_leader is None:
            assert old_leader is not None
            found.append(f"no leader: {_name(old_leader)} left")
        elif old_leader is None:
            found.append(f"{_name(new_leader)} leads, token 0x{new_leader.czxid:x}")
        else:
            found.append(
                f"leader {_name(old_leader)} -> {_name(new_leader)} "
                f"(token 0x{old_leader.czxid:x} -> 0x{new_leader.czxid:x})"
            )
    before = {c.node for c in old}
    after = {c.node for c in new}
    for c in new:
        if c.node not in before and c != new_leader:
            found.append(f"{_name(c)} joined as {_short_node(c.node)}")
    for c in old:
        if c.node not in after and c != old_leader:
            found.append(f"{_name(c)} left ({_short_node(c.node)})")
    was = {c.node: c.identity for c in old}
    for c in new:
        if c.node in was and was[c.node] != c.identity:
            found.append(f"{_short_node(c.node)} now says {_name(c)}")
    return found


# ------------------------------------------------------------------------ rendering

_RESET = "\x1b[0m"
_LEADER_NEW = "\x1b[1;7;32m"  # bold, reverse, green
_JOINED_NEW = "\x1b[1;33m"  # bold yellow


def render(
    status: Status,
    fresh: frozenset[str] = frozenset(),
    color: bool = False,
    width: int | None = None,
) -> list[str]:
    """The lines of one screen. Candidates whose node is in `fresh` are highlighted:
    in colour, or with a leading `>` without."""
    lines: list[tuple[str, str]] = []  # (text, colour)
    head = f"election {status.election}"
    if status.connection is not None:
        head += f"  (ZooKeeper {status.connection})"
    lines.append((head, "" if status.connection in (None, "CONNECTED") else TROUBLE))
    if status.error:
        lines.append((f"  unreadable: {printable(status.error, 200)}", TROUBLE))
    if status.candidates is not None and not status.candidates:
        lines.append(("  no candidates: nobody leads", TROUBLE))
    shown = list(status.candidates or ())
    width_name = max([len(_name(c)) for c in shown] + [1])
    for rank, c in enumerate(shown):
        role = "leader" if rank == 0 else "candidate"
        mark = ">" if c.node in fresh and not color else " "
        text = (
            f" {mark}{role:<10} {_name(c):<{width_name}}  token 0x{c.czxid:<9x}  "
            f"{_short_node(c.node)}  session 0x{c.session_id:x}"
        )
        tint = ""
        if c.node in fresh:
            tint = _LEADER_NEW if rank == 0 else _JOINED_NEW
        lines.append((text, tint))
    if status.ledger is not None:
        lines += ledger_lines(status.ledger, status.time)
    if status.roles:
        lines.append(("ensemble", ""))
        label_width = max(len(r.server.label) for r in status.roles)
        for r in status.roles:
            tint = "" if r.mode else TROUBLE
            lines.append((f"  {r.server.label:<{label_width}}  {r.text}", tint))
    if status.changes:
        lines.append(("changes (UTC)", ""))
        for at, text in status.changes:
            lines.append((f"  {rfc3339(at, 3)[11:23]}  {text}", ""))
    out = []
    for text, tint in lines:
        if width is not None and len(text) > width:
            text = text[: max(1, width - 1)] + "…"
        out.append(f"{tint}{text}{_RESET}" if color and tint else text)
    return out


def to_json(status: Status) -> dict[str, Any]:
    """One JSON object; the module docstring lists its keys."""
    shown = list(status.candidates or ())
    return {
        "time": rfc3339(status.time),
        "election": status.election,
        "connection": status.connection,
        "leader": cut(shown[0].identity) if shown else None,
        "candidates": [
            {
                "rank": rank + 1,
                "role": "leader" if rank == 0 else "candidate",
                "identity": cut(c.identity),
                "node": c.node,
                "sequence": c.sequence,
                "fencing_token": c.czxid,
                "fencing_token_hex": f"0x{c.czxid:x}",
                "session_id": f"0x{c.session_id:x}",
            }
            for rank, c in enumerate(shown)
        ],
        "servers": [
            {"name": r.server.name, "address": r.server.address, "mode": r.mode, "error": r.error}
            for r in status.roles
        ],
        "changes": [text for _at, text in status.changes],
        "error": status.error,
        "ledger": ledger_json(status.ledger, status.time),
    }


# ---------------------------------------------------------------------- the verbs


def _once(settings: Settings, servers: Sequence[Server], as_json: bool, out: TextIO) -> int:
    try:
        candidates: tuple[Candidate, ...] | None = tuple(
            read_candidates(settings.zk_hosts, settings.election_path)
        )
        error = None
    except Unavailable as exc:
        candidates, error = None, str(exc)
    ledger = None
    if settings.ledger_path and candidates is None:  # the ensemble did not answer: not again
        ledger = LedgerView(settings.ledger_path, error="not read: ZooKeeper did not answer")
    elif settings.ledger_path:
        ledger = read_view_from(settings.zk_hosts, settings.ledger_path, UNITS_SHOWN)
    status = Status(
        settings.election_path, candidates, probe_all(servers), error=error, ledger=ledger
    )
    if as_json:
        print(json.dumps(to_json(status)), file=out, flush=True)
    else:
        print("\n".join(render(status)), file=out, flush=True)
    return 0 if candidates is not None else 1


def _depose(settings: Settings, out: TextIO) -> int:
    try:
        done = depose(settings.zk_hosts, settings.election_path, auth=settings.zk_auth)
    except Unavailable as exc:
        print(f"status: cannot depose: {exc}", file=sys.stderr)
        return 1
    old, new = done.leader, done.successor
    if not done.resigned:
        print(
            f"asked {_name(old)} (token 0x{old.czxid:x}) to resign; it has not yet (frozen or "
            "cut off?): it will when it hears, or lose its session",
            file=out,
            flush=True,
        )
        return 1
    now = f"{_name(new)} leads, token 0x{new.czxid:x}" if new else "no other candidate yet"
    print(f"deposed {_name(old)} (token 0x{old.czxid:x}); {now}", file=out, flush=True)
    return 0


class _Watch:
    """--watch: news (views, roles) from two threads, one screen, redrawn on each.

    The main thread waits on one self-pipe for news and for a stop signal alike
    (common/shutdown.py): a signal is never raised into a queue or a lock, and Ctrl-C
    or SIGTERM ends the watch at once, whatever its threads are doing.
    """

    def __init__(
        self, settings: Settings, servers: Sequence[Server], as_json: bool, out: TextIO
    ) -> None:
        self._settings = settings
        self._servers = list(servers)
        self._json = as_json
        self._out = out
        self._tty = bool(getattr(out, "isatty", None) and out.isatty()) and not as_json
        self._color = self._tty and wants_color(out)
        self._wakeup = Wakeup()
        self._signals = StopSignals(self._wakeup)
        self._news: deque[tuple[str, Any]] = deque()  # appended by the threads, taken by main
        self._stop = threading.Event()
        self._roles_now = threading.Event()
        self._view = ElectionView("CONNECTING", None)
        self._roles: tuple[Role, ...] = tuple(Role(s, None, "asking...") for s in self._servers)
        self._changes: deque[tuple[float, str]] = deque(maxlen=_CHANGES_SHOWN)
        self._fresh: dict[str, float] = {}  # node -> highlighted until (monotonic)
        self._printed_block = False
        path = settings.ledger_path
        self._ledger = LedgerView(path, connection="CONNECTING") if path else None

    def run(self) -> int:
        if threading.current_thread() is threading.main_thread():
            self._signals.install()  # for good: the program ends with exit_now
        watch = ElectionWatch(
            self._settings.zk_hosts,
            self._settings.election_path,
            on_view=lambda view: self._tell("view", view),
        )
        # The ledger: its root's data changes with every unit (at most 4 reads a second).
        ledger = (
            LedgerWatch(
                self._settings.zk_hosts,
                self._settings.ledger_path,
                on_view=lambda view: self._tell("ledger", view),
                keep=UNITS_SHOWN,
            )
            if self._ledger is not None
            else None
        )
        roles = threading.Thread(target=self._ask_roles, name="roles", daemon=True)
        try:
            if self._tty:
                self._write("\x1b[?25l")  # hide the cursor while redrawing
            roles.start()
            watch.start()
            if ledger is not None:
                ledger.start()
            self._draw(initial=True)
            while not self._signals.requested:
                self._step()
        except BrokenPipeError:
            pass  # `| head`: the reader has seen enough
        finally:
            self._stop.set()
            self._roles_now.set()
            if self._tty:
                self._write_best_effort("\x1b[?25h\n")  # the cursor back, first
            # The observer's sessions hold no node: closing them is a courtesy to the
            # servers, given a moment (both at once), not waited for.
            closing = None
            if ledger is not None:
                closing = threading.Thread(target=ledger.close, args=(_CLOSE_S,), daemon=True)
                closing.start()
            watch.close(within_s=_CLOSE_S)
            if closing is not None:
                closing.join(timeout=_CLOSE_S)
        return 0

    def _tell(self, kind: str, value: Any) -> None:
        """From the watch's and the roles' threads: news for the main thread."""
        self._news.append((kind, value))
        self._wakeup.notify()

    def _step(self) -> None:
        """Wait for news, a signal or a highlight's end; take all news, then redraw."""
        now = time.monotonic()
        ends = [until for until in self._fresh.values() if until > now]
        timeout = min(ends) - now if ends and self._tty else None
        if not self._news:
            self._wakeup.wait(timeout)
        if self._signals.requested:
            return
        if not self._news:
            self._fresh = {n: u for n, u in self._fresh.items() if u > time.monotonic()}
            self._draw()  # a highlight ended
            return
        said: list[str] = []
        changed = False
        while self._news:
            kind, value = self._news.popleft()
            if kind == "view":
                said += self._take_view(value)
                changed = True
            elif kind == "ledger":
                said += self._take_ledger(value)
                # A unit a second is no news for a block per change on a pipe; on a
                # terminal (redrawn in place) and in JSON it is.
                changed = changed or self._tty or self._json or bool(said)
            elif kind == "roles" and value != self._roles:
                said += [
                    f"{new.server.name or new.server.address} is {new.text}"
                    for old, new in zip(self._roles, value, strict=True)
                    if old.mode != new.mode and old.error != "asking..."
                ]
                self._roles = value
                changed = True
        for text in said:
            self._changes.append((time.time(), text))
        if changed:
            self._draw()

    def _take_view(self, view: ElectionView) -> list[str]:
        old = self._view
        self._view = view
        said = []
        if old.connection != view.connection:
            self._roles_now.set()
            if old.connection != "CONNECTING" or view.connection != "CONNECTED":
                said.append(f"ZooKeeper connection {view.connection}")
        if view.candidates is not None:
            news = changes(old.candidates, view.candidates)
            said += news
            if news:
                until = time.monotonic() + _HIGHLIGHT_S
                before = {c.node for c in old.candidates or ()}
                leader_before = old.candidates[0] if old.candidates else None
                for rank, c in enumerate(view.candidates):
                    if c.node not in before or (rank == 0 and c != leader_before):
                        self._fresh[c.node] = until
        return said

    def _take_ledger(self, view: LedgerView) -> list[str]:
        """The new view; what to say about it: a refusal (new since the last view)."""
        old = self._ledger
        self._ledger = view
        if old is None or not old.exists and not old.units:
            return []  # the first view is no change
        seen = set(old.refusals)
        return [
            f"unit {r.seq} of {printable(r.worker, IDENTITY_LIMIT)} REFUSED ({r.reason}), "
            f"token 0x{r.token:x}"
            for r in view.refusals
            if r not in seen
        ]

    def _ask_roles(self) -> None:
        while not self._stop.is_set():
            self._tell("roles", probe_all(self._servers))
            self._roles_now.wait(_ROLES_EVERY_S)
            self._roles_now.clear()

    def _status(self) -> Status:
        return Status(
            self._settings.election_path,
            self._view.candidates,
            self._roles,
            connection=self._view.connection,
            error=self._view.error,
            changes=tuple(self._changes),
            ledger=self._ledger,
        )

    def _draw(self, initial: bool = False) -> None:
        status = self._status()
        if self._json:
            if not initial:
                print(json.dumps(to_json(status)), file=self._out, flush=True)
            return
        now = time.monotonic()
        fresh = frozenset(n for n, until in self._fresh.items() if until > now)
        if self._tty:
            size = shutil.get_terminal_size()
            head = "who leads, live: redrawn at every change ZooKeeper announces; Ctrl-C quits"
            lines = [head, "", *render(status, fresh, self._color, size.columns - 1)]
            body = "".join(f"{line}\x1b[K\n" for line in lines[: max(1, size.lines - 1)])
            self._write("\x1b[H" + body + "\x1b[J")
            return
        if initial:
            return  # not a terminal: a block per change, the first once something is read
        if self._printed_block:
            print(file=self._out)
        print(f"--- {rfc3339(status.time, 3)}", file=self._out)
        print("\n".join(render(status, fresh)), file=self._out, flush=True)
        self._printed_block = True
        self._fresh.clear()  # marked once, in the block of the change

    def _write(self, text: str) -> None:
        self._out.write(text)
        self._out.flush()

    def _write_best_effort(self, text: str) -> None:
        try:
            self._write(text)
        except (BrokenPipeError, ValueError):
            pass  # the terminal or the pipe is gone: nothing to restore


class _Parser(argparse.ArgumentParser):
    """Bad arguments: one line on stderr and exit 2, as bad settings."""

    def error(self, message: str) -> Any:
        print(f"{self.prog}: {message} (usage: {_USAGE})", file=sys.stderr)
        sys.exit(2)


def main(
    argv: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    names: Mapping[str, str] | None = None,
    out: TextIO | None = None,
) -> int:
    """The command. `env` replaces the process environment as the source of the
    settings (the host wrapper passes the ports it found); `names` names servers by
    address (``{"127.0.0.1:2181": "zoo1"}``)."""
    parser = _Parser(
        prog="status",
        description="Who leads the election, who waits, and each ZooKeeper server's role.",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object (per change)")
    parser.add_argument("--watch", action="store_true", help="redraw on every change")
    parser.add_argument(
        "--depose", action="store_true", help="ask the leader to resign; it rejoins at the back"
    )
    parser.add_argument(
        "--ledger",
        nargs="?",
        const=HISTORY_SHOWN,
        type=_count,
        metavar="COUNT",
        help=f"the ledger's recent history, one line per unit (default the last {HISTORY_SHOWN})",
    )
    args = parser.parse_args(argv)
    if args.depose and (args.watch or args.json or args.ledger):
        parser.error("--depose goes alone")
    if args.ledger and args.watch:
        parser.error("--ledger prints the history once: not with --watch")
    settings = _settings(env)
    if settings is None:
        return 2
    quiet_kazoo("CRITICAL")
    servers = [
        Server(entry.strip(), (names or {}).get(entry.strip()))
        for entry in settings.zk_hosts.split(",")
    ]
    stream = out or sys.stdout
    try:
        if args.depose:
            return _depose(settings, stream)
        if args.ledger:
            return history(settings, args.ledger, args.json, stream)
        if args.watch:
            return _Watch(settings, servers, args.json, stream).run()
        return _once(settings, servers, args.json, stream)
    except BrokenPipeError:
        return 0  # `| head`: the reader has seen enough


def _count(text: str) -> int:
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= 10_000:
        raise argparse.ArgumentTypeError(f"must be a count from 1 to 10000 (got {text!r})")
    return int(text)


def _settings(env: Mapping[str, str] | None) -> Settings | None:
    if env is None:
        return load("status", default_service_name="status")
    try:
        return Settings.from_env(env, default_service_name="status")
    except ConfigError as exc:
        print(f"status: configuration error: {exc}", file=sys.stderr)
        return None


if __name__ == "__main__":
    exit_now(main())
