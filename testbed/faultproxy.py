"""A TCP fault proxy between ZooKeeper clients and the servers, on loopback.

Usage::

    proxy = FaultProxy([("127.0.0.1", 2181), ("127.0.0.1", 2182)])
    proxy.start()
    hosts = proxy.connect_string()   # give this to the worker as ZK_HOSTS
    proxy.blackhole()                # the network goes dead: nothing arrives
    proxy.forward()                  # back to normal
    proxy.drop()                     # every connection reset, new ones closed at once
    proxy.close()

One listener on 127.0.0.1 per upstream server, so a client sees as many "servers" as
the ensemble has, each of them behind the fault. Each verb takes an optional listener
index to fault one server only (``proxy.blackhole(proxy.connected_indexes()[0])``:
the server the client is on right now). The three modes:

``forward``
    Bytes are piped both ways, untouched.
``drop``
    Every open connection is closed at once, and each new one is accepted and closed
    at once: what a client sees when the servers are down or the host refuses.
``blackhole``
    Open connections stay open and new ones are accepted, but nothing is forwarded:
    bytes from either side are read and discarded, nothing is sent. What a client sees
    when a cable is cut or a firewall drops packets: silence until its own timeout.

One fault is aimed at a single request instead of the network: ``lose_next_create``
arms a one-shot trap for the next ZooKeeper create under a path prefix, on
connections accepted after arming (only those are parsed as ZooKeeper frames: the
4-byte length prefix, then xid and opcode). ``part="request"``: the create is not
forwarded and the connection is closed, so the server never saw it.
``part="reply"``: the create reaches the server and is applied; its reply is
swallowed and the connection closed, so the client gets ConnectionLoss for a node
that exists. ``trap.sprung`` is set when it fired; ``trap.node`` is the path the
server created (reply only).

``hold_next_reply`` arms another one-shot trap, on the same terms: the next request
that names a path under a prefix (a create, or any operation of a multi, as the
ledger's writes are) reaches the server and is applied, but its reply, and everything
after it on that connection, waits in the proxy until ``hold.release()``. While it
waits, the test can freeze the client with its write out: the answer then reaches it
only after it thaws. ``hold.held`` is set when the reply has come.

A stream whose bytes were discarded cannot go on (ZooKeeper's framing is lost), so
``forward()`` after ``blackhole()`` closes every connection that lived through the
blackhole; the client reconnects, as it would have after its read timeout in a real
outage. A short cut is therefore always seen by the client as a disconnect.

Threads: one acceptor (a selector over the listeners and a wake-up socket), two pump
threads per connection doing blocking reads. Closing a socket pair with
``shutdown()`` ends its pumps; ``close()`` joins every thread.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
from collections.abc import Callable

from .zkwire import Frames, create_request, created_path, reply_xid, request_paths

FORWARD = "forward"
DROP = "drop"
BLACKHOLE = "blackhole"

_CHUNK = 65536
_UPSTREAM_CONNECT_TIMEOUT_S = 2.0


class CreateTrap:
    """A one-shot ``lose_next_create``: which create to lose, and what happened."""

    def __init__(self, prefix: str, part: str) -> None:
        if part not in ("request", "reply"):
            raise ValueError(f"part must be 'request' or 'reply' (got {part!r})")
        self.prefix = prefix
        self.part = part
        self.sprung = threading.Event()
        self.path: str | None = None  # the create's requested path
        self.node: str | None = None  # the node the server made (part="reply")


class ReplyHold:
    """A one-shot ``hold_next_reply``: whose reply to hold, and when it came."""

    def __init__(
        self, prefix: str, within_s: float, on_held: Callable[[], object] | None = None
    ) -> None:
        self.prefix = prefix
        self.within_s = within_s  # released by then whatever happens: no pump waits forever
        self.on_held = on_held  # called (on the proxy's thread) as the reply comes
        self.held = threading.Event()  # the reply came and waits
        self.path: str | None = None  # the request's path under the prefix
        self._released = threading.Event()

    def release(self) -> None:
        """Let the held reply, and what came after it, go on to the client."""
        self._released.set()

    def wait_released(self) -> None:
        self._released.wait(self.within_s)


class _Connection:
    """One accepted client socket and (when forwarding) its upstream socket."""

    def __init__(self, index: int, client: socket.socket, upstream: socket.socket | None) -> None:
        self.index = index  # which listener (and upstream) it came through
        self.client = client
        self.upstream = upstream
        # Set once a byte was discarded or the connection was born in a blackhole:
        # such a stream is closed when forwarding resumes.
        self.blackholed = upstream is None
        # Set when a trap was armed at accept: both directions are parsed.
        self.trap: CreateTrap | ReplyHold | None = None
        self.frames: dict[socket.socket, Frames] = {}
        self.doomed_xid: int | None = None  # lose (or hold) the reply with this xid
        self._lock = threading.Lock()
        self._closed = False

    def close(self) -> None:
        """Close both sockets; the pumps' blocking reads return and they exit."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for sock in (self.client, self.upstream):
            if sock is None:
                continue
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def close_upstream(self) -> None:
        """The server hung up during a blackhole: keep the client side silent and open."""
        with self._lock:
            upstream = self.upstream
        if upstream is not None:
            with contextlib.suppress(OSError):
                upstream.shutdown(socket.SHUT_RDWR)

    @property
    def closed(self) -> bool:
        return self._closed


class FaultProxy:
    """Listeners on 127.0.0.1 (free ports) piping to ``upstreams``; see the module doc."""

    def __init__(self, upstreams: list[tuple[str, int]]) -> None:
        if not upstreams:
            raise ValueError("FaultProxy needs at least one upstream (got none)")
        self.upstreams = list(upstreams)
        self._modes = [FORWARD] * len(self.upstreams)  # one per listener, guarded by _lock
        self._lock = threading.Lock()
        self._connections: set[_Connection] = set()
        self._listeners: list[socket.socket] = []
        self._wake_r, self._wake_w = socket.socketpair()
        self._selector = selectors.DefaultSelector()
        self._acceptor: threading.Thread | None = None
        self._stopping = threading.Event()
        self._pumps: list[threading.Thread] = []
        # Armed, not yet sprung; guarded by _lock.
        self._trap: CreateTrap | ReplyHold | None = None
        self.ports: list[int] = []

    def __enter__(self) -> FaultProxy:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def mode(self) -> str:
        """The mode of every listener, or "mixed" after a fault on some of them."""
        with self._lock:
            modes = set(self._modes)
        return modes.pop() if len(modes) == 1 else "mixed"

    def modes(self) -> list[str]:
        """The mode of each listener, in the order of ``upstreams``."""
        with self._lock:
            return list(self._modes)

    def start(self) -> None:
        """Bind one listener per upstream and start accepting."""
        if self._acceptor is not None:
            return
        for index, _upstream in enumerate(self.upstreams):
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", 0))
            listener.listen(128)
            listener.setblocking(False)
            self._listeners.append(listener)
            self.ports.append(listener.getsockname()[1])
            self._selector.register(listener, selectors.EVENT_READ, index)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._acceptor = threading.Thread(
            target=self._accept_loop, name="fault-proxy-accept", daemon=True
        )
        self._acceptor.start()

    def connect_string(self) -> str:
        """``127.0.0.1:p1,127.0.0.1:p2,...`` in the order of ``upstreams``."""
        return ",".join(f"127.0.0.1:{port}" for port in self.ports)

    def connection_count(self, index: int | None = None) -> int:
        """Open client connections right now (any mode), on one listener or all."""
        with self._lock:
            return sum(
                1 for c in self._connections if not c.closed and (index is None or c.index == index)
            )

    def connected_indexes(self) -> list[int]:
        """Listeners with an open client connection: which server a client is on."""
        with self._lock:
            return sorted({c.index for c in self._connections if not c.closed})

    def forward(self, index: int | None = None) -> None:
        """Pipe bytes again. Connections that lived through a blackhole are closed.

        ``index`` limits the change to one listener (None: all), here and below.
        """
        for conn in self._set_mode(FORWARD, index, lambda c: c.blackholed):
            self._forget(conn)

    def drop(self, index: int | None = None) -> None:
        """Close every open connection now; accept and close new ones at once."""
        for conn in self._set_mode(DROP, index, lambda c: True):
            self._forget(conn)

    def blackhole(self, index: int | None = None) -> None:
        """Keep connections open, send nothing either way, swallow what arrives."""
        with self._lock:
            for conn in self._set_mode_locked(BLACKHOLE, index, lambda c: True):
                conn.blackholed = True

    def lose_next_create(self, prefix: str, part: str = "reply") -> CreateTrap:
        """Lose the next create of a path starting with ``prefix``: its request or reply.

        Only connections accepted from now on are watched; the trap fires once.
        """
        trap = CreateTrap(prefix, part)
        with self._lock:
            self._trap = trap
        return trap

    def hold_next_reply(
        self, prefix: str, within_s: float = 120.0, on_held: Callable[[], object] | None = None
    ) -> ReplyHold:
        """Hold the reply to the next request naming a path under ``prefix`` (a create,
        or a multi's operation) until ``release()``, or ``within_s`` at most.

        ``on_held`` runs the moment the reply comes, before anything waits: freezing
        the client there leaves it no time to give up on the answer. Only connections
        accepted from now on are watched; the trap fires once.
        """
        hold = ReplyHold(prefix, within_s, on_held)
        with self._lock:
            self._trap = hold
        return hold

    def _set_mode(
        self, mode: str, index: int | None, pick: Callable[[_Connection], bool]
    ) -> list[_Connection]:
        with self._lock:
            return self._set_mode_locked(mode, index, pick)

    def _set_mode_locked(
        self, mode: str, index: int | None, pick: Callable[[_Connection], bool]
    ) -> list[_Connection]:
        """Set the mode of one listener or all; return their connections that ``pick``."""
        if index is not None and not 0 <= index < len(self.upstreams):
            raise IndexError(f"FaultProxy has {len(self.upstreams)} listeners (got {index})")
        for i in range(len(self._modes)):
            if index is None or i == index:
                self._modes[i] = mode
        return [c for c in self._connections if (index is None or c.index == index) and pick(c)]

    def close(self) -> None:
        """Stop accepting, close every connection, join every thread. Idempotent."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        if self._acceptor is not None:
            with contextlib.suppress(OSError):
                self._wake_w.send(b"x")
            self._acceptor.join(timeout=5)
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            self._forget(conn)
        with self._lock:
            pumps = list(self._pumps)
        for thread in pumps:
            thread.join(timeout=5)
        self._selector.close()
        for listener in self._listeners:
            listener.close()
        self._wake_r.close()
        self._wake_w.close()

    # -- the acceptor thread -------------------------------------------------------

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            for key, _events in self._selector.select(timeout=1.0):
                if key.data is None:
                    return  # woken by close()
                self._accept_one(key.fileobj, key.data)  # type: ignore[arg-type]

    def _accept_one(self, listener: socket.socket, index: int) -> None:
        try:
            client, _addr = listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        client.setblocking(True)
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            mode = self._modes[index]
        if mode == DROP:
            client.close()
            return
        upstream = None
        if mode == FORWARD:
            upstream = self._connect_upstream(index)
            if upstream is None:
                client.close()  # the server is down: so is its stand-in
                return
        conn = _Connection(index, client, upstream)
        with self._lock:
            if self._trap is not None and upstream is not None:
                conn.trap = self._trap
                conn.frames = {client: Frames(), upstream: Frames()}
            # The mode may have changed while we connected upstream: obey the new one.
            now = self._modes[index]
            if now == BLACKHOLE:
                conn.blackholed = True
            doomed = now == DROP or (now == FORWARD and conn.blackholed)
            if not doomed:
                self._connections.add(conn)
        if doomed:
            conn.close()
            return
        self._start_pumps(conn)

    def _connect_upstream(self, index: int) -> socket.socket | None:
        try:
            upstream = socket.create_connection(
                self.upstreams[index], timeout=_UPSTREAM_CONNECT_TIMEOUT_S
            )
        except OSError:
            return None
        upstream.settimeout(None)
        upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return upstream

    def _start_pumps(self, conn: _Connection) -> None:
        pairs = [(conn.client, conn.upstream, "up")]
        if conn.upstream is not None:
            pairs.append((conn.upstream, conn.client, "down"))
        for source, sink, direction in pairs:
            thread = threading.Thread(
                target=self._pump,
                args=(conn, source, sink),
                name=f"fault-proxy-{direction}",
                daemon=True,
            )
            with self._lock:
                self._pumps = [t for t in self._pumps if t.is_alive()]
                self._pumps.append(thread)
            thread.start()

    # -- pump threads --------------------------------------------------------------

    def _pump(self, conn: _Connection, source: socket.socket, sink: socket.socket | None) -> None:
        """Copy source -> sink while forwarding; read and discard in a blackhole."""
        while True:
            try:
                data = source.recv(_CHUNK)
            except OSError:
                data = b""
            if not data:
                self._source_closed(conn, source)
                return
            with self._lock:
                forwarding = self._modes[conn.index] == FORWARD and not conn.blackholed
                if not forwarding:
                    conn.blackholed = True
            if not forwarding or sink is None:
                continue
            if isinstance(conn.trap, ReplyHold):
                if not self._pass_holding(conn, source, sink, data):
                    self._forget(conn)
                    return
                continue
            if conn.trap is not None:
                data, sprung = self._spring(conn, source, data)
                if sprung:
                    with contextlib.suppress(OSError):
                        sink.sendall(data)  # the packets before the lost one
                    self._forget(conn)
                    return
            try:
                sink.sendall(data)
            except OSError:
                self._forget(conn)
                return

    def _spring(self, conn: _Connection, source: socket.socket, data: bytes) -> tuple[bytes, bool]:
        """Pass ``data`` through the connection's create trap: (bytes to send, sprung?).

        Returns the whole packets before the lost one; a partial packet waits for the
        rest. ``sprung`` means the connection is to be closed after sending them.
        """
        frames = conn.frames[source]
        trap = conn.trap
        assert trap is not None
        passed = []
        for packet, parse in frames.feed(data):
            if not parse:
                passed.append(packet)  # the handshake, or not ZooKeeper at all
                continue
            if source is conn.client:
                request = create_request(packet)
                with self._lock:
                    armed = self._trap is trap
                    hit = armed and request is not None and request[1].startswith(trap.prefix)
                    if hit:
                        self._trap = None  # one shot
                if hit:
                    assert request is not None
                    trap.path = request[1]
                    if trap.part == "request":
                        trap.sprung.set()
                        return b"".join(passed), True
                    conn.doomed_xid = request[0]
            elif conn.doomed_xid is not None and reply_xid(packet) == conn.doomed_xid:
                trap.node = created_path(packet)
                trap.sprung.set()
                return b"".join(passed), True
            passed.append(packet)
        return b"".join(passed), False

    def _pass_holding(
        self, conn: _Connection, source: socket.socket, sink: socket.socket, data: bytes
    ) -> bool:
        """Send ``data`` on, packet by packet, holding the reply the trap names until it
        is released; False when the sink is gone."""
        hold = conn.trap
        assert isinstance(hold, ReplyHold)
        for packet, parse in conn.frames[source].feed(data):
            if parse and source is conn.client:
                request = request_paths(packet)
                mine = [p for p in request[1] if p.startswith(hold.prefix)] if request else []
                with self._lock:
                    hit = self._trap is hold and bool(mine)
                    if hit:
                        self._trap = None  # one shot
                if hit:
                    assert request is not None
                    hold.path = mine[0]
                    conn.doomed_xid = request[0]
            elif parse and conn.doomed_xid is not None and reply_xid(packet) == conn.doomed_xid:
                conn.doomed_xid = None
                if hold.on_held is not None:
                    hold.on_held()
                hold.held.set()
                hold.wait_released()
            try:
                sink.sendall(packet)
            except OSError:
                return False
        return True

    def _source_closed(self, conn: _Connection, source: socket.socket) -> None:
        with self._lock:
            silent = conn.blackholed and source is conn.upstream
        if silent:
            # A dead network would never tell the client the server hung up.
            conn.close_upstream()
        else:
            self._forget(conn)

    def _forget(self, conn: _Connection) -> None:
        conn.close()
        with self._lock:
            self._connections.discard(conn)
