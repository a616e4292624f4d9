"""The fault proxy forwards, drops and blackholes, against a tiny local echo server;
it loses one create's request or reply, against a tiny server that speaks ZooKeeper's
framing.

No ZooKeeper: these run in every layer and tell a proxy bug from a worker bug.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Iterator

import pytest
from kazoo.protocol.serialization import CheckVersion, Create, SetData, Transaction
from kazoo.security import OPEN_ACL_UNSAFE

from testbed.ensemble import free_ports
from testbed.faultproxy import FaultProxy
from testbed.processes import wait_until
from testbed.zkwire import (
    MULTI_OPCODE,
    Frames,
    create_request,
    created_path,
    reply_xid,
    request_paths,
)

_QUIET_S = 0.5  # long enough to tell "nothing arrives" on loopback


class LoopbackServer:
    """A threaded TCP server on 127.0.0.1: one ``_serve(conn)`` thread per connection."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.accepted = 0
        self._conns: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)
        self._acceptor.start()

    def _accept_loop(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.accepted += 1
                self._conns.append(conn)
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self._acceptor.join(timeout=5)
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()
        for thread in self._threads:
            thread.join(timeout=5)


class EchoServer(LoopbackServer):
    """Echoes every byte back; counts what it received (to prove a blackhole swallows)."""

    def __init__(self) -> None:
        self.received = 0
        super().__init__()

    def _serve(self, conn: socket.socket) -> None:
        while True:
            try:
                data = conn.recv(4096)
                if not data:
                    return
                with self._lock:
                    self.received += len(data)
                conn.sendall(data)
            except OSError:
                return


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    server = EchoServer()
    yield server
    server.close()


@pytest.fixture
def proxy(echo: EchoServer) -> Iterator[FaultProxy]:
    with FaultProxy([("127.0.0.1", echo.port)]) as fault_proxy:
        yield fault_proxy


def _connect(proxy: FaultProxy) -> socket.socket:
    return socket.create_connection(("127.0.0.1", proxy.ports[0]), timeout=2)


def _closed_by_peer(sock: socket.socket, timeout: float = 2.0) -> bool:
    """True if the peer closed (EOF or reset) within timeout; False if it stays silent."""
    sock.settimeout(timeout)
    try:
        return sock.recv(100) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def _silent(sock: socket.socket) -> bool:
    """True if nothing at all (no data, no EOF) arrives for _QUIET_S."""
    sock.settimeout(_QUIET_S)
    try:
        sock.recv(100)
    except TimeoutError:
        return True
    return False


def test_proxy_forward_pipes_bytes_both_ways(proxy: FaultProxy) -> None:
    with _connect(proxy) as sock:
        sock.sendall(b"hello")
        assert sock.recv(100) == b"hello"
    assert proxy.connect_string() == f"127.0.0.1:{proxy.ports[0]}"


def test_proxy_one_listener_per_upstream(echo: EchoServer) -> None:
    with FaultProxy([("127.0.0.1", echo.port), ("127.0.0.1", echo.port)]) as two:
        assert len(two.ports) == 2 and two.ports[0] != two.ports[1]
        assert two.connect_string().count("127.0.0.1:") == 2
        for port in two.ports:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                sock.sendall(b"x")
                assert sock.recv(10) == b"x"


def test_proxy_drop_closes_open_and_new_connections(proxy: FaultProxy) -> None:
    with _connect(proxy) as old:
        old.sendall(b"a")
        assert old.recv(10) == b"a"
        proxy.drop()
        assert _closed_by_peer(old), "an open connection survived drop()"
    with _connect(proxy) as new:
        assert _closed_by_peer(new), "a new connection was not closed in drop mode"
    assert proxy.connection_count() == 0


def test_proxy_blackhole_keeps_connections_open_and_silent(
    proxy: FaultProxy, echo: EchoServer
) -> None:
    with _connect(proxy) as old:
        old.sendall(b"a")
        assert old.recv(10) == b"a"
        before = echo.received
        proxy.blackhole()
        old.sendall(b"swallowed")
        assert _silent(old), "blackhole sent something (data or EOF) to an open connection"
        with _connect(proxy) as new:  # accepted, but as dead as the old one
            new.sendall(b"nobody")
            assert _silent(new)
        assert echo.received == before, "blackhole forwarded bytes upstream"


def test_proxy_forward_after_blackhole_resets_stale_streams(proxy: FaultProxy) -> None:
    with _connect(proxy) as old:
        proxy.blackhole()
        old.sendall(b"lost")
        assert _silent(old)
        proxy.forward()
        assert _closed_by_peer(old), "a stream that lost bytes was kept after forward()"
    with _connect(proxy) as new:
        new.sendall(b"back")
        assert new.recv(10) == b"back"


def test_proxy_upstream_down_closes_client_at_once() -> None:
    (dead_port,) = free_ports(1)
    with FaultProxy([("127.0.0.1", dead_port)]) as proxy, _connect(proxy) as sock:
        assert _closed_by_peer(sock)


def test_proxy_close_ends_every_thread_and_connection(echo: EchoServer) -> None:
    proxy = FaultProxy([("127.0.0.1", echo.port)])
    proxy.start()
    socks = [_connect(proxy) for _ in range(3)]
    wait_until(lambda: proxy.connection_count() == 3, 2, message="3 connections")
    proxy.blackhole()
    try:
        proxy.close()
        for sock in socks:
            assert _closed_by_peer(sock)
    finally:
        for sock in socks:
            sock.close()
    alive = [t.name for t in threading.enumerate() if t.name.startswith("fault-proxy")]
    assert alive == []
    proxy.close()  # idempotent


def test_proxy_faults_one_listener_only(echo: EchoServer) -> None:
    with FaultProxy([("127.0.0.1", echo.port), ("127.0.0.1", echo.port)]) as two:
        first = socket.create_connection(("127.0.0.1", two.ports[0]), timeout=2)
        with first:
            first.sendall(b"a")
            assert first.recv(10) == b"a"
            assert two.connected_indexes() == [0]
            two.blackhole(0)
            assert two.modes() == ["blackhole", "forward"] and two.mode == "mixed"
            with socket.create_connection(("127.0.0.1", two.ports[1]), timeout=2) as second:
                second.sendall(b"b")
                assert second.recv(10) == b"b", "the healthy listener stopped forwarding"
            first.sendall(b"lost")
            assert _silent(first)
            two.forward(0)
            assert _closed_by_peer(first)
        with pytest.raises(IndexError):
            two.drop(2)


# -- losing one create -------------------------------------------------------------

CREATE2 = 15
GET_DATA = 4
HANDSHAKE = b"\x00" * 16  # a connect request/response body: never parsed for an xid


def _packet(body: bytes) -> bytes:
    return struct.pack(">i", len(body)) + body


def _ustring(text: str) -> bytes:
    raw = text.encode()
    return struct.pack(">i", len(raw)) + raw


def _request(xid: int, opcode: int, path: str) -> bytes:
    return _packet(struct.pack(">ii", xid, opcode) + _ustring(path) + b"\x00" * 12)


def _recv_exact(sock: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        try:
            chunk = sock.recv(size - len(data))
        except OSError:
            return None
        if not chunk:
            return None
        data += chunk
    return data


def _recv_packet(sock: socket.socket) -> bytes | None:
    head = _recv_exact(sock, 4)
    if head is None:
        return None
    body = _recv_exact(sock, struct.unpack(">i", head)[0])
    return None if body is None else head + body


class FramedServer(LoopbackServer):
    """Answers a handshake, then each request with (xid, zxid, err 0, path + sequence).

    Records the (xid, opcode, path) of every request it received.
    """

    def __init__(self) -> None:
        self.requests: list[tuple[int, int, str]] = []
        super().__init__()

    def _serve(self, conn: socket.socket) -> None:
        if _recv_packet(conn) is None:
            return
        conn.sendall(_packet(HANDSHAKE))
        while (packet := _recv_packet(conn)) is not None:
            xid, opcode = struct.unpack_from(">ii", packet, 4)
            (length,) = struct.unpack_from(">i", packet, 12)
            path = packet[16 : 16 + length].decode()
            self.requests.append((xid, opcode, path))
            made = f"{path}{len(self.requests):010d}" if opcode == CREATE2 else path
            reply = _packet(struct.pack(">iqi", xid, len(self.requests), 0) + _ustring(made))
            with contextlib.suppress(OSError):
                conn.sendall(reply)


@pytest.fixture
def framed() -> Iterator[FramedServer]:
    server = FramedServer()
    yield server
    server.close()


def _session(proxy: FaultProxy) -> socket.socket:
    sock = _connect(proxy)
    sock.sendall(_packet(HANDSHAKE))
    assert _recv_packet(sock) == _packet(HANDSHAKE)
    return sock


def test_frames_cut_packets_across_and_within_chunks() -> None:
    frames = Frames()
    one, two = _packet(b"hello"), _packet(b"world!")
    stream = one + two + one
    assert frames.feed(stream[:3]) == []
    assert frames.feed(stream[3:12]) == [(one, False)]  # the handshake is never parsed
    assert frames.feed(stream[12:]) == [(two, True), (one, True)]
    broken = Frames()
    assert broken.feed(b"\xff\xff\xff\xffjunk") == [(b"\xff\xff\xff\xffjunk", False)]
    assert broken.feed(b"more") == [(b"more", False)] and broken.broken


def test_create_request_and_reply_parsers() -> None:
    request = _request(7, CREATE2, "/e/n_")
    assert create_request(request) == (7, "/e/n_")
    assert create_request(_request(8, GET_DATA, "/e/n_")) is None
    reply = _packet(struct.pack(">iqi", 7, 99, 0) + _ustring("/e/n_0000000003"))
    assert reply_xid(reply) == 7 and created_path(reply) == "/e/n_0000000003"
    failed = _packet(struct.pack(">iqi", 7, 99, -110))  # NodeExists
    assert created_path(failed) is None


def test_proxy_loses_a_create_reply_after_the_server_applied_it(framed: FramedServer) -> None:
    with FaultProxy([("127.0.0.1", framed.port)]) as proxy:
        trap = proxy.lose_next_create("/e/n_", part="reply")
        with _session(proxy) as sock:
            sock.sendall(_request(1, GET_DATA, "/e/n_") + _request(2, CREATE2, "/other/n_"))
            assert reply_xid(_recv_packet(sock) or b"") == 1
            assert reply_xid(_recv_packet(sock) or b"") == 2, "a create off the prefix was lost"
            sock.sendall(_request(3, CREATE2, "/e/n_"))
            assert _closed_by_peer(sock), "the connection outlived the lost reply"
        assert trap.sprung.is_set()
        assert trap.path == "/e/n_" and trap.node == "/e/n_0000000003"
        assert (3, CREATE2, "/e/n_") in framed.requests, "the server never got the create"
        with _session(proxy) as again:  # one shot: the next create goes through
            again.sendall(_request(4, CREATE2, "/e/n_"))
            assert reply_xid(_recv_packet(again) or b"") == 4


def test_proxy_loses_a_create_request_before_the_server_sees_it(framed: FramedServer) -> None:
    with FaultProxy([("127.0.0.1", framed.port)]) as proxy:
        trap = proxy.lose_next_create("/e/n_", part="request")
        with _session(proxy) as sock:
            sock.sendall(_request(1, GET_DATA, "/e/n_") + _request(2, CREATE2, "/e/n_"))
            replies = []
            while (packet := _recv_packet(sock)) is not None:  # until closed (or 2 s)
                replies.append(reply_xid(packet))
            assert replies in ([], [1]), "the lost create was answered"
            wait_until(lambda: proxy.connection_count() == 0, 2, message="the connection closed")
        assert trap.sprung.is_set() and trap.node is None
        # The packet before it still went up; the create never did.
        wait_until(lambda: framed.requests, 2, message="the request before the create")
        assert [r[0] for r in framed.requests] == [1], "the lost request reached the server"
    with pytest.raises(ValueError):
        proxy.lose_next_create("/e/n_", part="both")


def test_proxy_create_trap_leaves_older_connections_and_plain_bytes_alone(
    framed: FramedServer, echo: EchoServer
) -> None:
    with FaultProxy([("127.0.0.1", framed.port)]) as proxy:
        older = _session(proxy)
        with older:
            trap = proxy.lose_next_create("/e/n_")
            older.sendall(_request(1, CREATE2, "/e/n_"))
            assert reply_xid(_recv_packet(older) or b"") == 1
        assert not trap.sprung.is_set()
    with FaultProxy([("127.0.0.1", echo.port)]) as plain:
        plain.lose_next_create("/e/n_")
        with _connect(plain) as sock:  # not ZooKeeper's framing: piped untouched
            sock.sendall(b"\xff\xff\xff\xffhello")
            assert _recv_exact(sock, 9) == b"\xff\xff\xff\xffhello"


# -- holding one reply -------------------------------------------------------------


def test_request_paths_reads_a_multi_as_kazoo_writes_the_ledger_unit() -> None:
    """The ledger's write (check the election node, set the head, create the unit), in
    kazoo's own bytes: every path, in order; other requests name none."""
    txn = Transaction(
        [
            CheckVersion("/e/n_0000000003", 0),
            SetData("/e-work", b'{"seq": 7}', 12),
            Create("/e-work/u_0000000007", b'{"seq": 7}', OPEN_ACL_UNSAFE, 0),
        ]
    )
    packet = _packet(struct.pack(">ii", 41, MULTI_OPCODE) + bytes(txn.serialize()))
    assert request_paths(packet) == (41, ["/e/n_0000000003", "/e-work", "/e-work/u_0000000007"])
    assert request_paths(_request(8, CREATE2, "/e/n_")) == (8, ["/e/n_"])
    assert request_paths(_request(9, GET_DATA, "/e/n_")) is None
    cut = packet[: len(packet) - 60]  # the create's path cut short: what parses is kept
    assert request_paths(cut) == (41, ["/e/n_0000000003", "/e-work"])


def test_proxy_holds_one_reply_until_released_then_passes_the_rest(framed: FramedServer) -> None:
    """The request reaches the server; its reply, and the replies after it, wait in the
    proxy until the test lets them go; then the stream goes on, in order."""
    with FaultProxy([("127.0.0.1", framed.port)]) as proxy:
        hold = proxy.hold_next_reply("/e-work/")
        sock = _session(proxy)
        sock.sendall(_request(1, GET_DATA, "/e-work/u_1"))  # names no path to hold
        assert reply_xid(_recv_packet(sock) or b"") == 1
        sock.sendall(_request(2, CREATE2, "/e-work/u_"))
        wait_until(hold.held.is_set, 10, message="the create's reply held")
        sock.sendall(_request(3, GET_DATA, "/e/other"))
        wait_until(lambda: len(framed.requests) == 3, 10, message="the requests at the server")
        assert _silent(sock), "a held reply, or one after it, reached the client"
        assert hold.path == "/e-work/u_"
        hold.release()
        assert [reply_xid(_recv_packet(sock) or b"") for _ in range(2)] == [2, 3]
        sock.sendall(_request(4, CREATE2, "/e-work/u_"))  # one shot: not held again
        assert reply_xid(_recv_packet(sock) or b"") == 4
        sock.close()
