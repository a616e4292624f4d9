"""`make status`: `python -m common.status` on the compose project, from the host.

    python -m workshop.status [--compose "docker compose"] [--json] [--watch] [--depose]
    python -m workshop.status --ledger [COUNT]      # `make ledger`: the recent units

Asks Docker for the ZooKeeper nodes' published client ports (no ZK_HOSTS to set by
hand) and for the workers' ELECTION_PATH and LEDGER_PATH (where set), then runs
``common.status`` with them; the
servers are shown by their service names (zoo1 127.0.0.1:2181). Every other argument
is ``common.status``'s. ``--depose`` runs in a worker's container instead, where the
election's credentials are (its Compose secret). Exit 1 with one line when the
project is not up.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence

from common import status
from common.settings import Settings
from common.shutdown import exit_now

from .compose import ComposeError, Container, compose_command, containers

_WORKERS = ("service1", "service2")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    given = None
    if "--compose" in args:
        at = args.index("--compose")
        if at + 1 >= len(args):
            print(
                "status: --compose needs a command, e.g. --compose 'docker compose'",
                file=sys.stderr,
            )
            return 2
        given = args[at + 1]
        del args[at : at + 2]
    try:
        found = containers(compose_command(given))
    except ComposeError as exc:
        print(f"status: {exc}", file=sys.stderr)
        return 1
    servers = [c for c in found if c.service.startswith("zoo") and c.client_address]
    if not servers:
        print(
            "status: no ZooKeeper node of this compose project publishes a client port; "
            "is it up (make up)?",
            file=sys.stderr,
        )
        return 1
    workers = [c for c in found if c.service in _WORKERS]
    if "--depose" in args:
        return _depose_in(next((w for w in workers if w.running), None), args)
    path = next(
        (w.env["ELECTION_PATH"] for w in workers if "ELECTION_PATH" in w.env),
        Settings.election_path,
    )
    env = {"ZK_HOSTS": ",".join(str(s.client_address) for s in servers), "ELECTION_PATH": path}
    ledger = next((w.env["LEDGER_PATH"] for w in workers if "LEDGER_PATH" in w.env), None)
    if ledger is not None:
        env["LEDGER_PATH"] = ledger
    names = {str(s.client_address): s.service for s in servers}
    return status.main(args, env=env, names=names)


def _depose_in(worker: Container | None, args: list[str]) -> int:
    if worker is None:
        print(
            "status: no worker container is running; is the project up (make up)?", file=sys.stderr
        )
        return 1
    argv = ["docker", "exec", worker.id, "python", "-m", "common.status", *args]
    return subprocess.run(argv, check=False, timeout=60).returncode


if __name__ == "__main__":
    exit_now(main())
