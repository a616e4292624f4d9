"""The KazooClient the election and the status tools use: bounded in time and memory,
with the election's credentials, and telling what kazoo keeps to itself.

Bounded, whatever an endpoint in ZK_HOSTS does (silent, trickling, streaming, a huge
length prefix, a blackholed address):

* A TCP connect waits at most ``TCP_CONNECT_TIMEOUT_S``. kazoo 2.11 waits a whole
  session timeout (``create_tcp_connection(timeout=session_timeout)``), and just after
  ``docker compose stop`` a stopped node's name still resolves to an address that
  answers nothing, so one reconnect could stall for 10 s; ZooKeeper's Java client
  waits session timeout / number of hosts.
* A frame (ZooKeeper's 4-byte length, then that many bytes) longer than
  ``FRAME_LIMIT_BYTES`` is refused before it is read, as ZooKeeper's own client does
  past ``jute.maxbuffer``; one that takes longer than ``frame_deadline_s`` to arrive
  (by default a third of the session timeout, kazoo's own ping interval) is too.
  Either drops the connection, and kazoo moves to the next server as after any network
  error.
* ``stop_within`` closes the session but waits for kazoo at most the time given:
  kazoo's ``stop()`` joins its connection thread, however long that thread waits.

What kazoo keeps to itself: the session timeout the servers granted (they clamp a
request to 2..20 ticks) and its reconnect attempts. It logs both, through the logger it
was given (python-zk/kazoo#769); ``KazooLogTap`` is that logger: it passes every call on
unchanged and hands those two facts to callbacks. Should a kazoo release change those
calls, the callbacks are never called and the election falls back to the timeout it
asked for; requirements.txt pins kazoo and a unit test guards the calls.
"""

from __future__ import annotations

import errno
import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException
from kazoo.handlers.threading import SequentialThreadingHandler
from kazoo.loggingsupport import BLATHER
from kazoo.retry import KazooRetry
from kazoo.security import ACL, make_acl, make_digest_acl

__all__ = [
    "FRAME_LIMIT_BYTES",
    "TCP_CONNECT_TIMEOUT_S",
    "KazooLogTap",
    "election_acl",
    "new_client",
    "stop_within",
]

# ZooKeeper's default jute.maxbuffer (0xfffff): no reply we ask for comes near it (a
# listing of 30,000 candidates is ~450 kB).
FRAME_LIMIT_BYTES = 0xFFFFF
# A handshake with a live server is one round trip (milliseconds on any network a
# session timeout of seconds makes sense on); a dead address never answers the SYN.
TCP_CONNECT_TIMEOUT_S = 1.0


class KazooLogTap(logging.LoggerAdapter):
    """The logger handed to kazoo: passes every call on, and tells ``on_granted`` the
    session timeout the servers granted (ms) and ``on_connecting`` each connection
    attempt (``"host:port"``)."""

    def __init__(
        self,
        logger: logging.Logger,
        on_granted: Callable[[int], None],
        on_connecting: Callable[[str], None] = lambda _where: None,
    ) -> None:
        super().__init__(logger, {})
        self._on_granted = on_granted
        self._on_connecting = on_connecting

    def process(self, msg: object, kwargs: Any) -> tuple[object, Any]:
        return msg, kwargs  # no extra fields: kazoo's records stay as they were

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        if isinstance(msg, str):
            # kazoo/protocol/connection.py, ConnectionHandler._connect (pinned 2.11.0):
            # "Session created, ..." (session_id, passwd, negotiated timeout ms, ...)
            # "Connecting to %s(%s):%s, use_ssl: %r" (host, ip, port, use_ssl)
            if (
                level == BLATHER
                and msg.startswith("Session created")
                and len(args) >= 3
                and isinstance(args[2], int)
            ):
                self._on_granted(args[2])
            elif level == logging.INFO and msg.startswith("Connecting to") and len(args) >= 3:
                self._on_connecting(f"{args[0]}:{args[2]}")
        super().log(level, msg, *args, **kwargs)


class _FramedSocket:
    """kazoo's socket, refusing a frame that is too long or too slow to arrive.

    Only ``recv`` is watched (kazoo reads every reply through it); everything else is
    the socket's own. Raising OSError is what kazoo expects of a broken connection.
    """

    def __init__(self, sock: socket.socket, frame_deadline_s: float) -> None:
        self._sock = sock
        self._deadline_s = frame_deadline_s
        self._header = b""  # the length prefix read so far
        self._body_left = 0  # bytes of the current frame still to come
        self._started = 0.0  # when the current frame's first byte came

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    def recv(self, size: int, *flags: int) -> bytes:
        data = self._sock.recv(size, *flags)
        self._account(data)
        return data

    def _account(self, data: bytes) -> None:
        now = time.monotonic()
        view = memoryview(data)
        while view:
            if self._body_left:
                taken = min(self._body_left, len(view))
                self._body_left -= taken
                view = view[taken:]
                continue
            if not self._header:
                self._started = now
            needed = 4 - len(self._header)
            self._header += bytes(view[:needed])
            view = view[needed:]
            if len(self._header) == 4:
                length = int.from_bytes(self._header, "big", signed=True)
                self._header = b""
                if not 0 <= length <= FRAME_LIMIT_BYTES:
                    raise OSError(
                        errno.EMSGSIZE,
                        f"a ZooKeeper frame of {length} bytes (the limit is {FRAME_LIMIT_BYTES})",
                    )
                self._body_left = length
        if (self._header or self._body_left) and now - self._started > self._deadline_s:
            raise OSError(
                errno.ETIMEDOUT, f"a ZooKeeper frame took over {self._deadline_s:g} s to arrive"
            )


class _BoundedHandler(SequentialThreadingHandler):
    """kazoo's threading handler, with capped connects and framed sockets."""

    def __init__(self, frame_deadline_s: float) -> None:
        super().__init__()
        self._frame_deadline_s = frame_deadline_s

    def create_connection(self, *args: Any, **kwargs: Any) -> Any:
        timeout = kwargs.get("timeout")
        kwargs["timeout"] = min(timeout or TCP_CONNECT_TIMEOUT_S, TCP_CONNECT_TIMEOUT_S)
        return _FramedSocket(super().create_connection(*args, **kwargs), self._frame_deadline_s)


def election_acl(auth: str) -> list[ACL]:
    """ALL for the digest identity ``auth`` ("user:password"), READ for the world."""
    user, _, password = auth.partition(":")
    return [make_digest_acl(user, password, all=True), make_acl("world", "anyone", read=True)]


def new_client(
    hosts: str,
    session_timeout_s: float,
    *,
    auth: str = "",
    on_granted: Callable[[int], None] | None = None,
    on_connecting: Callable[[str], None] | None = None,
    retry_max_delay_s: float = 5.0,
    frame_deadline_s: float | None = None,
) -> KazooClient:
    """A KazooClient bounded as the module says, reconnecting forever.

    kazoo's default reconnect backoff grows toward an hour; cap it, and never give up:
    a worker outlives any ensemble outage. While the session lives, reconnect at least
    every tenth of it: a ZooKeeper leader election takes the servers away for a second
    or two, and a 5 s pause there risks the session. With ``auth`` the session carries
    that digest identity and every node it creates gets ``election_acl(auth)``.
    """
    kazoo_log = logging.getLogger("kazoo.client")
    tap = KazooLogTap(
        kazoo_log, on_granted or (lambda _ms: None), on_connecting or (lambda _where: None)
    )
    return KazooClient(
        hosts=hosts,
        timeout=session_timeout_s,
        handler=_BoundedHandler(frame_deadline_s or session_timeout_s / 3),
        logger=tap,
        auth_data=[("digest", auth)] if auth else None,
        default_acl=election_acl(auth) if auth else None,
        connection_retry=KazooRetry(
            max_tries=-1,
            delay=0.1,
            backoff=2,
            max_jitter=0.4,
            max_delay=min(retry_max_delay_s, session_timeout_s / 10),
        ),
    )


def stop_within(client: KazooClient, seconds: float) -> bool:
    """Close the session (and the client) but wait for it at most ``seconds``.

    True when it finished in time. Otherwise it goes on in a daemon thread, which
    ends with the process; the servers expire the session if the close never reached
    them.
    """
    done = threading.Event()

    def stop() -> None:
        try:
            client.stop()
            client.close()
        except KazooException as exc:  # WriterNotClosedException and the like
            logging.getLogger(__name__).debug("kazoo stop failed: %r", exc)
        except Exception as exc:  # noqa: BLE001 - kazoo's close() raises bare Exception
            logging.getLogger(__name__).debug("kazoo close failed: %r", exc)
        finally:
            done.set()

    threading.Thread(target=stop, name="kazoo-stop", daemon=True).start()
    return done.wait(seconds)
