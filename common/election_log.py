"""What the election says: one function per line it logs, its words and its fields.

The election (common/election.py) decides; these only write, through common.logs (the
event names, the text views). Kept apart so the election reads as what it does, and
so each line's wording and fields sit in one place. kazoo's thread never calls these
itself: it queues them for the election's thread (a log write may block on a pipe).
"""

from __future__ import annotations

import logging

from kazoo.exceptions import BadArgumentsError, NoAuthError, NoChildrenForEphemeralsError

from .leadership import Leadership
from .logs import Event, Reason, log_event, printable
from .zkclient import RootRefused

log = logging.getLogger(__name__)


def election_open(root: str) -> None:
    log_event(
        log,
        Event.ELECTION_OPEN,
        f"No ZK_AUTH: any client that reaches ZooKeeper can join, depose or stop "
        f"the election at {root}",
        level=logging.WARNING,
    )


def retry(attempt: int, wait_s: float, error: BaseException | None) -> None:
    log_event(
        log,
        Event.RETRY,
        f"ZooKeeper not reachable yet; retry {attempt} in {wait_s:.1f} s",
        level=logging.WARNING,
        attempt=attempt,
        wait_s=round(wait_s, 3),
        error=str(error),
    )


def session_timeout(granted: float, asked: float, lease_s: float) -> None:
    differs = f", not the {asked:g} s asked for (ZK_SESSION_TIMEOUT_S)"
    log_event(
        log,
        Event.SESSION_TIMEOUT,
        f"ZooKeeper granted a {granted:g} s session{differs if granted != asked else ''}; "
        f"leases last {lease_s:g} s, and a crashed leader is replaced "
        f"after about {granted:g} s",
        level=logging.WARNING if granted != asked else logging.INFO,
        requested_s=asked,
        granted_s=granted,
        lease_s=lease_s,
    )


def zk_state(state: str, session_id: int | None) -> None:
    log_event(
        log,
        Event.ZK_STATE,
        f"ZooKeeper connection {state}",
        state=state,
        session_id=None if session_id is None else f"0x{session_id:x}",
    )


def reconnecting(where: str, attempt: int, without_s: float) -> None:
    log_event(
        log,
        Event.RECONNECTING,
        f"Reconnecting to {where} (attempt {attempt}, {without_s:.1f} s without ZooKeeper)",
        server=where,
        attempt=attempt,
        without_s=round(without_s, 1),
    )


def joined(node: str, token: int, session_id: int, *, adopted: bool = False) -> None:
    said = (
        f"Found our node {node} after a lost reply" if adopted else f"Joined the election as {node}"
    )
    log_event(
        log,
        Event.JOINED,
        said,
        node=node,
        fencing_token=token,
        session_id=f"0x{session_id:x}",
        **({"adopted": True} if adopted else {}),
    )


def following(node: str | None, predecessor: str, leader: str | None) -> None:
    log_event(
        log,
        Event.FOLLOWING,
        f"Following {leader or 'an unknown leader'}; watching {predecessor}",
        node=node,
        predecessor=predecessor,
        leader=leader,
    )


def watch_fired(path: str) -> None:
    log_event(log, Event.WATCH_FIRED, f"Predecessor {path} changed; ranking again", path=path)


def leader_elected(lead: Leadership, root: str) -> None:
    log_event(
        log,
        Event.LEADER_ELECTED,
        f"Leading the election at {root} (fencing token {lead.token})",
        fencing_token=lead.token,
        node=lead.node,
        session_id=lead.session_hex,
    )


def leadership_lost(lead: Leadership, reason: str) -> None:
    shutdown = reason == Reason.SHUTDOWN
    log_event(
        log,
        Event.LEADERSHIP_LOST,
        "Leadership given up: shutting down" if shutdown else f"Leadership lost ({reason})",
        level=logging.INFO if shutdown else logging.WARNING,
        fencing_token=lead.token,
        reason=reason,
        session_id=lead.session_hex,
    )


def lease_renewal_late(lease_s: float, token: int) -> None:
    log_event(
        log,
        Event.LEASE_RENEWAL_LATE,
        f"No answer to the lease renewal within {lease_s:g} s; not working until one comes",
        level=logging.WARNING,
        fencing_token=token,
    )


def node_gone(node: str) -> None:
    log_event(
        log,
        Event.NODE_GONE,
        f"Our node {node} is gone; joining again",
        level=logging.WARNING,
        node=node,
    )


def deposed(node: str) -> None:
    log_event(
        log,
        Event.DEPOSED,
        f"Asked to resign: deleting {node} and joining again at the back",
        level=logging.WARNING,
        node=node,
    )


def foreign_children(root: str, names: list[str], why: str) -> None:
    """One line for any number of children of the root that are not candidates."""
    shown = ", ".join(printable(name, 40) for name in names[:3])
    shown += f" and {len(names) - 3} more" if len(names) > 3 else ""
    log_event(
        log,
        Event.FOREIGN_CHILD,
        f"Ignoring {len(names)} child(ren) of {root}, {why}: {shown}",
        level=logging.WARNING,
        count=len(names),
        reason=why,
        examples=shown,
    )


def root_acl_tightened(root: str, opened: str) -> None:
    log_event(
        log,
        Event.ROOT_ACL_TIGHTENED,
        f"The election root {root} let {opened} change it: now only this "
        "election's identity may, and the world may read",
        level=logging.WARNING,
        opened_to=opened,
    )


def explain(exc: Exception, root: str, auth: str) -> str:
    """A persistent error of the election, in words an operator can act on."""
    who = f"the identity {auth.partition(':')[0]} (ZK_AUTH)" if auth else "a client without ZK_AUTH"
    if isinstance(exc, NoAuthError):
        return (
            f"ZooKeeper refuses {who} at {root} (NoAuth): set ZK_AUTH to the election's "
            "credentials, or choose another ELECTION_PATH"
        )
    if isinstance(exc, BadArgumentsError):
        return f"ZooKeeper refuses {root} as a path (BadArguments): choose another ELECTION_PATH"
    if isinstance(exc, NoChildrenForEphemeralsError):
        return (
            f"{root} is an ephemeral node, which cannot have children: delete it or "
            "choose another ELECTION_PATH"
        )
    if isinstance(exc, RootRefused):
        return f"Not joining: {exc}"
    return f"Election step failed: {exc!r}"


def election_error(what: str, exc: Exception) -> None:
    log_event(log, Event.ELECTION_ERROR, what, level=logging.ERROR, error=repr(exc))


def election_ok(root: str) -> None:
    log_event(log, Event.ELECTION_OK, f"Taking part in the election at {root}")


def close_failed(stop_s: float) -> None:
    log_event(
        log,
        Event.CLOSE_FAILED,
        f"ZooKeeper did not confirm the session's close within {stop_s:g} s; "
        "it expires the session instead",
        level=logging.WARNING,
    )
