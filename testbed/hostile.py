"""Endpoints that misbehave on purpose, on loopback: what a worker may find in ZK_HOSTS.

Usage::

    with HostileEndpoint("trickle") as bad:
        hosts = bad.connect_string()      # "127.0.0.1:<port>"
        ...                               # start a worker on it, judge how it copes
        print(bad.accepted, bad.sent)     # connections taken, bytes written

Modes, each on every connection it accepts:

``silent``
    Accepts and reads, never writes: a server that hangs, or a firewall that lets the
    handshake through and nothing after.
``trickle``
    Answers the connect request with the length of a connect response (36 bytes), then
    one byte a second: a client that waits for a whole frame waits 36 s, and a client
    whose timeout restarts with every byte waits for ever.
``huge``
    The same with a frame length of almost 2 GiB: a client that trusts the length waits
    for ever and grows its buffer.
``stream``
    Writes as fast as the client reads, without end, starting with a length prefix of
    almost 2 GiB: a client that buffers a frame before checking it runs out of memory.

One acceptor thread and one thread per connection; ``close()`` (or leaving the
``with``) shuts every socket and joins every thread.
"""

from __future__ import annotations

import socket
import threading

MODES = ("silent", "trickle", "huge", "stream")
_CONNECT_RESPONSE_LENGTH = (36).to_bytes(4, "big")
_HUGE_LENGTH = (0x7FFFFFF0).to_bytes(4, "big")


class HostileEndpoint:
    def __init__(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)} (got {mode!r})")
        self.mode = mode
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self._connections: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self.accepted = 0
        self.sent = 0
        self._acceptor = threading.Thread(target=self._accept, name=f"hostile-{mode}", daemon=True)
        self._acceptor.start()

    @property
    def port(self) -> int:
        return self._listener.getsockname()[1]

    def connect_string(self) -> str:
        return f"127.0.0.1:{self.port}"

    def close(self) -> None:
        self._closing.set()
        self._acceptor.join(timeout=5)
        with self._lock:
            connections, threads = list(self._connections), list(self._threads)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # the client closed it first
            conn.close()
        for thread in threads:
            thread.join(timeout=5)
        self._listener.close()

    def __enter__(self) -> HostileEndpoint:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # closed
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            with self._lock:
                self.accepted += 1
                self._connections.append(conn)
                self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(0.2)
        try:
            self._read_some(conn)  # the client's connect request
            if self.mode == "silent":
                while not self._closing.is_set() and self._read_some(conn) != b"":
                    pass
            elif self.mode in ("trickle", "huge"):
                self._send(conn, _HUGE_LENGTH if self.mode == "huge" else _CONNECT_RESPONSE_LENGTH)
                while not self._closing.wait(1.0):
                    self._send(conn, b"x")
            else:
                self._send(conn, _HUGE_LENGTH)
                chunk = b"x" * 65536
                while not self._closing.is_set():
                    self._send(conn, chunk)
        except OSError:
            return  # the client went away: what a good client does with us

    def _read_some(self, conn: socket.socket) -> bytes | None:
        try:
            return conn.recv(65536)
        except TimeoutError:
            return None

    def _send(self, conn: socket.socket, data: bytes) -> None:
        view = memoryview(data)
        while view and not self._closing.is_set():
            try:
                sent = conn.send(view)
            except TimeoutError:
                continue
            view = view[sent:]
            with self._lock:
                self.sent += sent
