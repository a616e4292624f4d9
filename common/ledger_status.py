"""The ledger's part of ``python -m common.status``: the newest units and refusals on
the status screen and in its JSON (``ledger`` key), and ``--ledger [COUNT]``, the
recent history (one line per unit, refusals marked). Read-only: world READ suffices.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from typing import Any, TextIO

from kazoo.exceptions import KazooException, NoNodeError
from kazoo.handlers.threading import KazooTimeoutError

from .ledger import Refusal, Unit, read_history
from .ledger_view import LedgerView, merged
from .logs import printable, rfc3339
from .settings import Settings
from .zkclient import new_client, stop_within

__all__ = [
    "HISTORY_SHOWN",
    "IDENTITY_LIMIT",
    "TROUBLE",
    "UNITS_SHOWN",
    "cut",
    "history",
    "history_lines",
    "ledger_json",
    "ledger_lines",
]

# The ledger's newest units shown (status), and the history's default length (--ledger).
UNITS_SHOWN = 5
HISTORY_SHOWN = 20
IDENTITY_LIMIT = 64
TROUBLE = "\x1b[1;31m"  # bold red


def cut(text: str) -> str:
    """JSON escapes what it must; only the length is ours to bound."""
    return text if len(text) <= IDENTITY_LIMIT else text[: IDENTITY_LIMIT - 1] + "…"


def _age(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f} s ago"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"


def ledger_lines(view: LedgerView, now: float) -> list[tuple[str, str]]:
    """The ledger's part of a screen: its newest units, newest first, and the refused
    count with the newest refusal's reason."""
    head = f"work, from the ledger {view.path}"
    if view.connection != "CONNECTED":
        head += f"  (ZooKeeper {view.connection})"
    lines = [(head, "")]
    if view.error:
        lines.append((f"  unreadable: {printable(view.error, 200)}", TROUBLE))
    if not view.exists and view.connection == "CONNECTING":
        lines.append(("  not read yet", ""))
    elif not view.exists and not view.error:
        lines.append(("  no ledger yet: the first leader creates it", ""))
    elif view.exists and not view.units:
        lines.append(("  no unit recorded yet", ""))
    shown = list(reversed(view.units[-UNITS_SHOWN:]))
    width_name = max([len(printable(u.worker, IDENTITY_LIMIT)) for u in shown] + [1])
    for unit in shown:
        unfenced = "" if unit.fenced else "  UNFENCED"
        lines.append(
            (
                f"  unit {unit.seq:<8} token 0x{unit.token:<9x}  "
                f"{printable(unit.worker, IDENTITY_LIMIT):<{width_name}}  "
                f"{_age(now - unit.time)}{unfenced}",
                "",
            )
        )
    last = view.last_refusal
    if last is not None:
        kept = " (the last 100 kept)" if view.refused >= 100 else ""
        lines.append(
            (
                f"  refused {view.refused}{kept}; the newest: unit {last.seq} by "
                f"{printable(last.worker, IDENTITY_LIMIT)}, token 0x{last.token:x}, "
                f"{printable(last.reason, 32)}, {_age(now - last.time)}",
                TROUBLE,
            )
        )
    elif view.exists:
        lines.append(("  refused 0", ""))
    return lines


def _unit_json(unit: Unit, now: float) -> dict[str, Any]:
    return {
        "seq": unit.seq,
        "fencing_token": unit.token,
        "fencing_token_hex": f"0x{unit.token:x}",
        "worker": cut(unit.worker),
        "session_id": cut(unit.session),
        "time": rfc3339(unit.time),
        "age_s": round(now - unit.time, 3),
        "fenced": unit.fenced,
    }


def _refusal_json(refusal: Refusal, now: float) -> dict[str, Any]:
    return {
        "seq": refusal.seq,
        "fencing_token": refusal.token,
        "fencing_token_hex": f"0x{refusal.token:x}",
        "worker": cut(refusal.worker),
        "session_id": cut(refusal.session),
        "time": rfc3339(refusal.time),
        "age_s": round(now - refusal.time, 3),
        "reason": cut(refusal.reason),
    }


def ledger_json(view: LedgerView | None, now: float) -> dict[str, Any] | None:
    """The ``ledger`` key of the JSON object (the module docstring lists its keys)."""
    if view is None:
        return None
    last = view.last_refusal
    return {
        "path": view.path,
        "exists": view.exists,
        "units": [_unit_json(u, now) for u in reversed(view.units[-UNITS_SHOWN:])],
        "refused": view.refused,
        "last_refusal": None if last is None else _refusal_json(last, now),
        "error": view.error,
    }


def history_lines(
    path: str, entries: Sequence[Unit | Refusal], newest: Unit | None, kept_refusals: int
) -> list[str]:
    """``--ledger``: one line per unit, oldest first, refusals marked ``REFUSED``."""
    if newest is None:
        head = f"ledger {path}: no unit recorded yet"
    else:
        head = (
            f"ledger {path}: the newest unit is {newest.seq}; {kept_refusals} "
            f"refusal{'s' * (kept_refusals != 1)} kept; the last {len(entries)} below (UTC)"
        )
    lines = [head]
    names = [printable(e.worker, IDENTITY_LIMIT) for e in entries]
    width_name = max([len(n) for n in names] + [1])
    for entry, name in zip(entries, names, strict=True):
        clock = rfc3339(entry.time, 3)[11:23]
        what = "REFUSED" if isinstance(entry, Refusal) else "unit"
        text = (
            f"  {clock}  {what:<7} {entry.seq:<8} token 0x{entry.token:<9x}  "
            f"{name:<{width_name}}  session {printable(entry.session, 24)}"
        )
        if isinstance(entry, Refusal):
            text += f"  {printable(entry.reason, 32)}"
        elif not entry.fenced:
            text += "  UNFENCED"
        lines.append(text)
    return lines


def history(settings: Settings, count: int, as_json: bool, out: TextIO) -> int:
    path = settings.ledger_path
    if not path:
        print("status: --ledger: LEDGER_PATH is off: there is no ledger", file=sys.stderr)
        return 1
    client = new_client(settings.zk_hosts, 10.0)
    try:
        client.start(timeout=5.0)
        history = read_history(client, path, limit=count)
    except NoNodeError:
        print(
            f"status: no ledger at {path}: no leader has recorded a unit yet "
            "(or the workers run with another LEDGER_PATH)",
            file=sys.stderr,
        )
        return 1
    except (KazooException, KazooTimeoutError) as exc:
        print(f"status: reading the ledger {path} failed: {exc!r}", file=sys.stderr)
        return 1
    finally:
        stop_within(client, 1.0)
    entries = merged(history.units, history.refusals, last=count)
    now = time.time()
    if as_json:
        body = {
            "time": rfc3339(now),
            "ledger": path,
            "newest": history.head.seq if history.head else None,
            "refusals_kept": len(history.refusals),
            "history": [
                {"refused": True, **_refusal_json(e, now)}
                if isinstance(e, Refusal)
                else {"refused": False, **_unit_json(e, now)}
                for e in entries
            ],
        }
        print(json.dumps(body), file=out, flush=True)
    else:
        lines = history_lines(path, entries, history.head, len(history.refusals))
        print("\n".join(lines), file=out, flush=True)
    return 0
