"""The observing tools in a container, for a participant with Docker and nothing else.

The compose file's ``tools`` service (profile ``tools``) runs this; no Python, no
.venv on the host:

    docker compose run --rm tools status             # who leads, each server's role
    docker compose run --rm tools status --watch     # redrawn at every change; Ctrl-C
    docker compose run --rm tools ledger             # the ledger's last units, refusals
    docker compose logs --timestamps service1 service2 | docker compose run --rm -T tools logs
    docker compose logs --timestamps service1 service2 | docker compose run --rm -T tools timeline

``status`` is ``python -m common.status`` inside the project's network (zoo1:2181...);
``ledger [COUNT]`` is its ``--ledger [COUNT]`` (as ``make ledger``).
The container holds no Docker socket, so ``logs`` and ``timeline`` read Compose's log
lines from standard input: ``logs`` prints them merged by time, one short line each
(as ``make logs``); ``timeline`` draws who led when as text (as ``make timeline``,
without the PNG). Exit 2 with one line for an unknown verb.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

_USAGE = (
    "usage: tools status [--watch] [--json] | ledger [COUNT] [--json] | logs "
    "| timeline [--last SECONDS]"
)


def _logs(stream: object) -> int:
    from .logs import WORKERS, format_record
    from .records import read_lines

    records = read_lines(stream, services=WORKERS)  # type: ignore[arg-type]
    if not records:
        print("logs: no worker log lines on standard input; pipe them in:", file=sys.stderr)
        print(f"  {_PIPE} logs", file=sys.stderr)
        return 1
    for record in records:
        print(format_record(record, WORKERS))
    return 0


_PIPE = "docker compose logs --timestamps service1 service2 | docker compose run --rm -T tools"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    verb, rest = (args[0], args[1:]) if args else ("", [])
    if verb == "status":
        from common import status

        return status.main(rest)
    if verb == "ledger":
        from common import status

        return status.main(["--ledger", *rest])
    if verb in ("logs", "timeline") and sys.stdin.isatty():
        print(f"{verb}: pipe the workers' logs in: {_PIPE} {verb}", file=sys.stderr)
        return 2
    if verb == "logs":
        return _logs(sys.stdin)
    if verb == "timeline":
        from . import timeline

        return timeline.main(["/dev/stdin", "--no-png", *rest])
    print(f"tools: unknown verb {verb!r} ({_USAGE})", file=sys.stderr)
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # `| head`: the reader has seen enough
        sys.exit(0)
