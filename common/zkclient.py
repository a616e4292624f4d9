"""The KazooClient the election and the status tools use: bounded in time and memory,
with the election's credentials, and telling what kazoo keeps to itself; and the
election's root, with its ACL.

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
* A connection that has received nothing for the read timeout (2/3 of the granted
  session timeout, ZooKeeper's own client's rule) is dropped the same way. kazoo 2.11
  only notices a dead connection when it has sent nothing, request or ping, for half
  that long twice in a row ("Requests act as implicit pings": the heartbeat of
  python-zk/kazoo#67); a worker that writes every second, or a busy machine that runs
  kazoo's loop late, keeps that from happening, and the client stays on a silent server
  until its session is gone instead of moving to a live one with it.
* ``stop_within`` closes the session but waits for kazoo at most the time given:
  kazoo's ``stop()`` joins its connection thread, however long that thread waits;
  ``delete_best_effort`` deletes a node, waiting for the answer at most that long.
* ``Connector`` starts a client, retrying with capped exponential backoff and jitter
  (tenacity), each attempt bounded too.

What kazoo keeps to itself: the session timeout the servers granted (they clamp a
request to 2..20 ticks) and its reconnect attempts. It logs both, through the logger it
was given (python-zk/kazoo#769); ``KazooLogTap`` is that logger: it passes every call on
unchanged and hands those two facts to callbacks. Should a kazoo release change those
calls, the callbacks are never called and the election falls back to the timeout it
asked for; requirements.txt pins kazoo and a unit test guards the calls.

The root (``ensure_root``): a persistent node, created with the election's ACL; the
path above it keeps ZooKeeper's default, so other tools may share it. With
credentials, only the election's identity may change the root: one made earlier
without them is tightened where the identity may, else joining is refused
(``RootRefused``) with the reason and the fix.
"""

from __future__ import annotations

import errno
import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import tenacity
from kazoo.client import KazooClient
from kazoo.exceptions import BadVersionError, KazooException, NoAuthError, NodeExistsError
from kazoo.handlers.threading import KazooTimeoutError, SequentialThreadingHandler
from kazoo.loggingsupport import BLATHER
from kazoo.retry import KazooRetry
from kazoo.security import ACL, OPEN_ACL_UNSAFE, make_acl, make_digest_acl

from .logs import printable

__all__ = [
    "FRAME_LIMIT_BYTES",
    "TCP_CONNECT_TIMEOUT_S",
    "Connector",
    "KazooLogTap",
    "RootRefused",
    "delete_best_effort",
    "election_acl",
    "ensure_root",
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
        self.heard = time.monotonic()  # when the last bytes came (or the connect)
        self._silent_s: float | None = None  # set when the silence limit dropped it

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    def recv(self, size: int, *flags: int) -> bytes:
        if self._silent_s is not None:
            raise OSError(
                errno.ETIMEDOUT, f"the ZooKeeper server sent nothing for {self._silent_s:.1f} s"
            )
        data = self._sock.recv(size, *flags)
        if data:
            self.heard = time.monotonic()
        self._account(data)
        return data

    def drop_as_silent(self, now: float) -> None:
        """Its next ``recv`` raises: the server has been silent too long."""
        self._silent_s = now - self.heard

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
    """kazoo's threading handler, with capped connects and framed sockets, and a limit
    on a connection's silence once the servers have granted a session timeout.

    kazoo waits for its socket only in ``select``; here a wait ends when the socket has
    been silent for ``silence_limit_s``, and the socket is returned as readable and
    marked, so kazoo's next read of it raises as a broken connection's would.
    """

    def __init__(self, frame_deadline_s: float) -> None:
        super().__init__()
        self._frame_deadline_s = frame_deadline_s
        self.silence_limit_s: float | None = None  # none until a session timeout is granted

    def session_granted(self, timeout_ms: int) -> None:
        """The read timeout of ZooKeeper's own client, and kazoo's: 2/3 of the session."""
        if timeout_ms > 0:
            self.silence_limit_s = timeout_ms / 1000.0 * 2.0 / 3.0

    def create_connection(self, *args: Any, **kwargs: Any) -> Any:
        timeout = kwargs.get("timeout")
        kwargs["timeout"] = min(timeout or TCP_CONNECT_TIMEOUT_S, TCP_CONNECT_TIMEOUT_S)
        return _FramedSocket(super().create_connection(*args, **kwargs), self._frame_deadline_s)

    def select(self, rlist: Any, wlist: Any, xlist: Any, timeout: float | None = None) -> Any:
        limit = self.silence_limit_s
        watched = [s for s in rlist if isinstance(s, _FramedSocket)]
        if limit is None or not watched:
            return super().select(rlist, wlist, xlist, timeout)
        began = time.monotonic()
        while True:
            now = time.monotonic()
            wait = max(0.0, min(s.heard for s in watched) + limit - now)
            if timeout is not None:
                wait = min(wait, max(0.0, timeout - (now - began)))
            ready = super().select(rlist, wlist, xlist, wait)
            if any(s in ready[0] for s in watched):
                return ready  # bytes (or their end) first: the silence is over
            now = time.monotonic()
            # Past the limit, a request waiting to go out does not put the check off.
            silent = [s for s in watched if now >= s.heard + limit]
            if silent:
                for s in silent:
                    s.drop_as_silent(now)
                return silent, [], []
            if any(ready) or (timeout is not None and now - began >= timeout):
                return ready


def election_acl(auth: str) -> list[ACL]:
    """ALL for the digest identity ``auth`` ("user:password"), READ for the world."""
    user, _, password = auth.partition(":")
    return [make_digest_acl(user, password, all=True), make_acl("world", "anyone", read=True)]


class RootRefused(Exception):
    """The election root cannot be joined safely as it is; the message says why."""


def ensure_root(client: KazooClient, root: str, auth: str) -> str | None:
    """Create the election root if missing (with ``election_acl(auth)``, the client's
    default); with ``auth``, make sure only that identity may change it.

    Returns who else could change it (``"world:anyone"``) when its ACL was just
    tightened, for the caller to log; None when nothing needed changing. Raises
    RootRefused when the ACL cannot be tightened, and kazoo's errors as they come.
    """
    if client.exists(root) is None:
        parent = root.rsplit("/", 1)[0]
        if parent:
            client.ensure_path(parent, acl=OPEN_ACL_UNSAFE)
        try:
            client.create(root)
        except NodeExistsError:
            pass  # another candidate made it meanwhile
    return _secure_root(client, root, auth) if auth else None


def _secure_root(client: KazooClient, root: str, auth: str) -> str | None:
    ours = election_acl(auth)
    for _ in range(3):
        acls, stat = client.get_acls(root)
        others = [a for a in acls if a not in ours and a.perms != ours[1].perms]
        if not others:
            return None
        opened = ", ".join(f"{a.id.scheme}:{printable(a.id.id, 40)}" for a in others)
        try:
            client.set_acls(root, ours, version=stat.aversion)
        except BadVersionError:
            continue  # changed meanwhile (another candidate tightened it): look again
        except NoAuthError:
            user = auth.partition(":")[0]
            raise RootRefused(
                f"the election root {root} lets {opened} change it, and ZooKeeper "
                f"refuses to tighten its ACL for {user} (NoAuth): have its owner delete "
                f"it or set its ACL to digest {user} ALL + world READ, or choose another "
                "ELECTION_PATH"
            ) from None
        return opened
    raise RootRefused(f"the ACL of the election root {root} keeps changing")


def new_client(
    hosts: str,
    session_timeout_s: float,
    *,
    auth: str = "",
    on_granted: Callable[[int], None] | None = None,
    on_connecting: Callable[[str], None] | None = None,
    on_state: Callable[[str], object] | None = None,
    retry_max_delay_s: float = 5.0,
    frame_deadline_s: float | None = None,
) -> KazooClient:
    """A KazooClient bounded as the module says, reconnecting forever.

    kazoo's default reconnect backoff grows toward an hour; cap it, and never give up:
    a worker outlives any ensemble outage. While the session lives, reconnect at least
    every tenth of it: a ZooKeeper leader election takes the servers away for a second
    or two, and a 5 s pause there risks the session. With ``auth`` the session carries
    that digest identity and every node it creates gets ``election_acl(auth)``.
    ``on_state`` is added as the connection listener.
    """
    kazoo_log = logging.getLogger("kazoo.client")
    handler = _BoundedHandler(frame_deadline_s or session_timeout_s / 3)

    def granted(timeout_ms: int) -> None:
        handler.session_granted(timeout_ms)
        if on_granted is not None:
            on_granted(timeout_ms)

    tap = KazooLogTap(kazoo_log, granted, on_connecting or (lambda _where: None))
    client = KazooClient(
        hosts=hosts,
        timeout=session_timeout_s,
        handler=handler,
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
    if on_state is not None:
        client.add_listener(on_state)
    return client


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


def delete_best_effort(client: KazooClient, node: str, within_s: float = 1.0) -> bool:
    """Delete ``node`` if ZooKeeper answers within ``within_s``; False if it did not.
    Either way the session's close, or its expiry, removes an ephemeral in the end."""
    try:
        client.delete_async(node).get(timeout=within_s)
    except KazooTimeoutError:
        return False
    except KazooException:
        pass  # answered: gone already, or the connection dropped meanwhile
    return True


class _NotConnected(Exception):
    """One start-up attempt got no session in time."""


class Connector:
    """Starts a KazooClient, retrying until it has a session or is told to stop.

    Each attempt waits at most ``connect_timeout_s``, in slices, so ``should_stop`` is
    honoured at once; between attempts the wait grows exponentially with jitter, from
    0.5 s up to ``retry_max_delay_s``. kazoo's thread may be stuck with a bad
    endpoint, and a client whose stop did not finish cannot start again: a new one is
    made with ``make_client``. ``client`` is always the current one.
    """

    def __init__(
        self,
        make_client: Callable[[], KazooClient],
        hosts: str,
        connect_timeout_s: float,
        retry_max_delay_s: float,
        stop_s: float,
    ) -> None:
        self._make_client = make_client
        self._hosts = hosts
        self._connect_timeout_s = connect_timeout_s
        self._retry_max_delay_s = retry_max_delay_s
        self._stop_s = stop_s
        self.client = make_client()

    def connect(
        self,
        should_stop: Callable[[], bool],
        sleep: Callable[[float], None],
        on_retry: Callable[[int, float, BaseException | None], None],
    ) -> bool:
        """True once connected; False when ``should_stop()`` turned true first.
        ``on_retry(attempt, wait_s, error)`` before each wait; ``sleep`` waits, and
        should return early when the caller is asked to stop."""

        def before_sleep(state: tenacity.RetryCallState) -> None:
            wait_s = state.next_action.sleep if state.next_action else 0.0
            error = state.outcome.exception() if state.outcome else None
            on_retry(state.attempt_number, wait_s, error)

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_NotConnected),
            wait=tenacity.wait_exponential_jitter(
                multiplier=0.5, max=self._retry_max_delay_s, jitter=0.5
            ),
            stop=lambda _state: should_stop(),
            sleep=sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            retrying(self._connect_once, should_stop)
        except _NotConnected:
            return False
        return True

    def _connect_once(self, should_stop: Callable[[], bool]) -> None:
        live = self.client.start_async()
        deadline = time.monotonic() + self._connect_timeout_s
        while not live.wait(0.1):
            if should_stop() or time.monotonic() >= deadline:
                if not stop_within(self.client, self._stop_s):
                    self.client = self._make_client()
                if should_stop():
                    raise _NotConnected("stopped while connecting")
                raise _NotConnected(
                    f"no ZooKeeper session from {self._hosts} within {self._connect_timeout_s:g} s"
                )
