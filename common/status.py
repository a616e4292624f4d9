"""`python -m common.status`: who leads, who waits, and what each ZooKeeper server says.

Reads the same settings as the workers (ZK_HOSTS, ELECTION_PATH), so inside a
container `python -m common.status` needs no arguments:

    election /leader-election
      leader     /leader-election/n_0000000003  service2  token 4294967300
      candidate  /leader-election/n_0000000004  service1  token 4294967302
    ensemble
      zoo1:2181  follower
      zoo2:2181  leader
      zoo3:2181  follower
"""

from __future__ import annotations

import socket
import sys

from .logs import quiet_kazoo
from .observer import Unavailable, read_candidates
from .settings import load

_FOUR_LETTER_TIMEOUT_S = 2.0


def _split_host_port(entry: str) -> tuple[str, int]:
    """`zoo1:2181`, `zoo1`, `[::1]:2181` or `[::1]` (the settings' forms) -> (host, port).

    A missing port is 2181, as kazoo assumes.
    """
    entry = entry.strip()
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else 2181
    host, colon, port = entry.partition(":")
    return host, int(port) if colon else 2181


def server_mode(host_port: str) -> str:
    """The `Mode:` line of a server's `srvr` answer, or why there is none."""
    host, port = _split_host_port(host_port)
    try:
        with socket.create_connection((host, port), _FOUR_LETTER_TIMEOUT_S) as conn:
            conn.sendall(b"srvr")
            conn.settimeout(_FOUR_LETTER_TIMEOUT_S)
            answer = b""
            while chunk := conn.recv(4096):
                answer += chunk
    except OSError as exc:
        return f"unreachable ({exc.strerror or exc})"
    for line in answer.decode(errors="replace").splitlines():
        if line.startswith("Mode:"):
            return line.split(":", 1)[1].strip()
    if b"not in the whitelist" in answer:
        return "srvr is not whitelisted (4lw.commands.whitelist)"
    return "serving no requests (no quorum?)"


def main() -> int:
    settings = load("status", default_service_name="status")
    if settings is None:
        return 2
    quiet_kazoo("CRITICAL")
    print(f"election {settings.election_path}")
    try:
        candidates = read_candidates(settings.zk_hosts, settings.election_path)
    except Unavailable as exc:
        print(f"  unreadable: {exc}")
        candidates = None
    if candidates == []:
        print("  no candidates")
    for rank, c in enumerate(candidates or []):
        role = "leader" if rank == 0 else "candidate"
        print(f"  {role:<10} {c.node}  {c.identity}  token {c.czxid}  session {c.session_id:#x}")
    print("ensemble")
    for host_port in settings.zk_hosts.split(","):
        print(f"  {host_port.strip()}  {server_mode(host_port)}")
    return 0 if candidates is not None else 1


if __name__ == "__main__":
    sys.exit(main())
