"""`python -m common.health`: the container's health check. Exit 0 iff the worker is alive.

The worker rewrites HEALTH_FILE at least once per tick interval, whatever its role, so a
stale or missing file means its loop is stuck or it is gone. Leading is not required:
a follower, or a worker waiting for ZooKeeper, is healthy. A worker kept out of the
election by something that will not fix itself (NoAuth on the root, a path ZooKeeper
refuses: state "failing") is not, so `docker compose ps` shows it.
"""

from __future__ import annotations

import json
import sys
import time

from .settings import Settings, load

# A few missed refreshes are tolerated: the check runs beside a busy worker.
_STALE_AFTER_TICKS = 3
_STALE_AFTER_MIN_S = 5.0


def check(settings: Settings, now: float | None = None) -> tuple[bool, str]:
    """(healthy, one line saying why)."""
    if not settings.health_file:
        return False, "HEALTH_FILE is not set: the worker writes no health file"
    try:
        with open(settings.health_file, encoding="utf-8") as source:
            body = json.load(source)
        updated = float(body["updated"])
        state = str(body["state"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return False, f"no readable health file at {settings.health_file}: {exc}"
    age = (time.time() if now is None else now) - updated
    limit = max(_STALE_AFTER_MIN_S, _STALE_AFTER_TICKS * settings.tick_interval_s)
    if age > limit:
        return False, f"health file is {age:.1f} s old (limit {limit:g} s); last state {state}"
    if state == "failing":
        return False, f"failing: {body.get('problem', 'no reason given')}"
    return True, f"{state}, updated {age:.1f} s ago"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args:
        print(
            f"health: unknown arguments {args} (usage: python -m common.health)",
            file=sys.stderr,
        )
        return 2
    settings = load("health", default_service_name="health")
    if settings is None:
        return 2
    healthy, why = check(settings)
    print(why)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
