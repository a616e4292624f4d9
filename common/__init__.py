"""ZooKeeper leader election for the demo's workers: the public names, nothing else.

Names load on first use (PEP 562), so `python -m common.health`, which the container
health check runs every few seconds, does not pay for importing kazoo.
"""

from importlib import import_module
from typing import Any

_WHERE = {
    "Candidate": ".observer",
    "LeaderElection": ".election",
    "Leadership": ".leadership",
    "Lease": ".leadership",
    "read_candidates": ".observer",
    "ConfigError": ".settings",
    "Settings": ".settings",
    "run": ".worker",
    "exit_now": ".shutdown",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_WHERE[name], __name__), name)
