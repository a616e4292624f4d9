"""The fault proxy forwards, drops and blackholes, against a tiny local echo server.

No ZooKeeper: these run in every layer and tell a proxy bug from a worker bug.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

import pytest

from tests.support.ensemble import free_ports
from tests.support.procs import wait_until
from tests.support.proxy import FaultProxy

_QUIET_S = 0.5  # long enough to tell "nothing arrives" on loopback


class EchoServer:
    """Echoes every byte back; counts what it received (to prove a blackhole swallows)."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.received = 0
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
            thread = threading.Thread(target=self._echo, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _echo(self, conn: socket.socket) -> None:
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
