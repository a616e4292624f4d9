"""The KazooClient the election and the status tools use, and what kazoo will not tell.

kazoo learns the session timeout the servers granted from each connect response and
keeps it to itself (python-zk/kazoo#769), but it logs it, at BLATHER, through the
logger it was given: ``"Session created, ...", session_id, password,
negotiated_timeout_ms, ...``. ``GrantedTimeoutTap`` is that logger: it passes every
call on unchanged and hands the granted timeout (ms) to a callback. Should a kazoo
release change that call, the callback is never called and the election falls back to
the timeout it asked for; requirements.txt pins kazoo and a unit test guards the call.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from kazoo.client import KazooClient
from kazoo.loggingsupport import BLATHER
from kazoo.retry import KazooRetry

__all__ = ["GrantedTimeoutTap", "new_client"]


class GrantedTimeoutTap(logging.LoggerAdapter):
    """The logger handed to kazoo: passes every call on, and hands the session timeout
    the servers granted (in ms) to ``on_granted``."""

    def __init__(self, logger: logging.Logger, on_granted: Callable[[int], None]) -> None:
        super().__init__(logger, {})
        self._on_granted = on_granted

    def process(self, msg: object, kwargs: Any) -> tuple[object, Any]:
        return msg, kwargs  # no extra fields: kazoo's records stay as they were

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        if (
            level == BLATHER
            and isinstance(msg, str)
            and msg.startswith("Session created")
            and len(args) >= 3
            and isinstance(args[2], int)
        ):
            self._on_granted(args[2])
        super().log(level, msg, *args, **kwargs)


def new_client(
    hosts: str,
    session_timeout_s: float,
    on_granted: Callable[[int], None] | None = None,
    retry_max_delay_s: float = 5.0,
) -> KazooClient:
    """A KazooClient that reconnects forever, at least every tenth of the session.

    kazoo's default reconnect backoff grows toward an hour; cap it, and never give up:
    a worker outlives any ensemble outage. While the session lives, reconnect at least
    every tenth of it: a ZooKeeper leader election takes the servers away for a second
    or two, and a 5 s pause there risks the session.
    """
    kazoo_log = logging.getLogger("kazoo.client")
    return KazooClient(
        hosts=hosts,
        timeout=session_timeout_s,
        logger=kazoo_log if on_granted is None else GrantedTimeoutTap(kazoo_log, on_granted),
        connection_retry=KazooRetry(
            max_tries=-1,
            delay=0.1,
            backoff=2,
            max_jitter=0.4,
            max_delay=min(retry_max_delay_s, session_timeout_s / 10),
        ),
    )
