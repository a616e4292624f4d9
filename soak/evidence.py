"""The ledger's side of a soak: read at the end, kept beside the logs, read back.

The ledger (common/ledger.py) is what ZooKeeper accepted of the workers' work; the soak
judge (soak/judge.py) holds the workers' lines to it. It is read once, when the run
ends, and kept as ``ledger.json`` in the workers' directory so that ``--rejudge``
judges the same history.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict
from pathlib import Path

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException
from kazoo.handlers.threading import KazooTimeoutError

from common.ledger import Refusal, Unit, read_history
from common.logreader import Record
from soak.judge import LedgerEvidence, Timeline
from testbed.ledger import logged_units

KEPT = "ledger.json"


def evidence_of(
    units: list[Unit], refusals: list[Refusal], records: list[Record], timeline: Timeline
) -> LedgerEvidence:
    """The judge's input: the units, the lines that name them, the refusals by reason,
    and the workers a fault killed (their last unit of a leadership may lack its line)."""
    crashed = sorted({i.target for i in timeline.incidents if i.kind == "kill"})
    return LedgerEvidence(
        units, logged_units(records), dict(Counter(r.reason for r in refusals)), crashed
    )


def read_evidence(
    hosts: str, path: str, workdir: Path, records: list[Record], timeline: Timeline
) -> LedgerEvidence | str:
    """Read the ledger at ``path`` and keep it in ``workdir``; a one-line reason if not."""
    client = KazooClient(hosts=hosts, timeout=10)
    try:
        client.start(timeout=15)
        history = read_history(client, path)
    except (KazooException, KazooTimeoutError) as exc:
        return f"the ledger {path} could not be read: {exc!r}"
    finally:
        client.stop()
        client.close()
    kept = {
        "units": [asdict(u) for u in history.units],
        "refusals": [asdict(r) for r in history.refusals],
    }
    (workdir / KEPT).write_text(json.dumps(kept) + "\n")
    return evidence_of(history.units, history.refusals, records, timeline)


def load_evidence(
    workdir: Path, records: list[Record], timeline: Timeline
) -> LedgerEvidence | None:
    """The ledger a finished soak kept, or None (a soak from before the ledger)."""
    kept = workdir / KEPT
    if not kept.exists():
        return None
    saved = json.loads(kept.read_text())
    units = [Unit(**u) for u in saved["units"]]
    refusals = [Refusal(**r) for r in saved["refusals"]]
    return evidence_of(units, refusals, records, timeline)
