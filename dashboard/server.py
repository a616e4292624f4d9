"""The dashboard's process: an observer of the election and a small HTTP server.

Threads: kazoo's and ``ElectionWatch``'s (the candidates, driven by ZooKeeper's
watches), kazoo's and ``LedgerWatch``'s (the work's ledger, common/ledger_view.py: a
data watch on its root, which changes with every unit; none with LEDGER_PATH=off, and
the strip is then drawn from ZooKeeper's view), one that asks each server its role
(``srvr``, every second and at once on a connection change: roles cannot be watched),
the HTTP server's (one per browser), and the main thread, which only waits for a stop
signal (``common/shutdown.py``). Every piece of news goes into the ``Board`` under one
lock and bumps a version; each browser's thread waits on that condition and sends the
new state as one server-sent event.

Paths: ``/`` the page, ``/page.css``, ``/page.js`` (from ``static/``, read once at
start); ``/events`` the stream (``text/event-stream``: one ``data:`` line of JSON per
change, a comment every 15 s to keep proxies from closing it); ``/state`` the same
JSON once (for scripts and tests); ``/healthz`` "ok" (the container's health check).
Nothing can be changed through it: it has no credentials and serves GET only.

Shutdown (SIGTERM, SIGINT): the board is closed, which wakes every stream so its
thread ends; the HTTP server stops taking requests; the observer's sessions are closed
(both at once, each given 0.5 s); exit 0, within about 2 s whatever ZooKeeper does.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections.abc import Callable, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from common.ledger_view import LedgerView, LedgerWatch
from common.logs import printable, quiet_kazoo
from common.observer import ElectionView, ElectionWatch
from common.roles import Server, probe_all
from common.settings import ConfigError, Settings
from common.shutdown import StopSignals, Wakeup

from .board import Board, Unit

__all__ = ["Feed", "board_units", "main"]

STATIC = Path(__file__).resolve().parent / "static"
_FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/page.css": ("page.css", "text/css; charset=utf-8"),
    "/page.js": ("page.js", "text/javascript; charset=utf-8"),
}
_ROLES_EVERY_S = 1.0
# On a stop signal: the time the observer's session is given to close.
_CLOSE_S = 0.5
_KEEPALIVE_S = 15.0
# The ledger's newest units the strip may draw: the board keeps two minutes, and a
# tick can be shorter than a second.
_LEDGER_UNITS_KEPT = 600
# The page loads nothing from anywhere else, runs no inline script, and cannot be framed.
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_USAGE = "python -m dashboard [--host HOST] [--port PORT] [--announce URL]"


class Feed:
    """The board behind a lock, with a version that browsers' threads wait on."""

    def __init__(self, board: Board, clock: Callable[[], float] = time.time) -> None:
        self._board = board
        self._clock = clock
        self._changed = threading.Condition()
        self._version = 0
        self._closed = False
        self._cached: tuple[int, str] | None = None

    def update(self, take: Callable[[Board, float], None]) -> None:
        with self._changed:
            take(self._board, self._clock())
            self._version += 1
            self._changed.notify_all()

    def state(self) -> tuple[int, str]:
        """(version, the state as JSON text)."""
        with self._changed:
            if self._cached is None or self._cached[0] != self._version:
                body = json.dumps(self._board.snapshot(self._clock()), separators=(",", ":"))
                self._cached = (self._version, body)
            return self._cached

    def wait_newer(self, seen: int, timeout: float) -> bool:
        """Wait until the version passes ``seen``; False when closed or timed out."""
        with self._changed:
            self._changed.wait_for(lambda: self._closed or self._version > seen, timeout)
            return not self._closed and self._version > seen

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify_all()


def _handler(feed: Feed, files: dict[str, tuple[bytes, str]]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "dashboard"
        sys_version = ""

        def do_GET(self) -> None:  # noqa: N802 - the standard library's name
            path = self.path.split("?", 1)[0]
            if path in files:
                body, kind = files[path]
                self._send(HTTPStatus.OK, body, kind)
            elif path == "/state":
                self._send(HTTPStatus.OK, feed.state()[1].encode(), "application/json")
            elif path == "/healthz":
                self._send(HTTPStatus.OK, b"ok\n", "text/plain; charset=utf-8")
            elif path == "/events":
                self._stream()
            else:
                self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain; charset=utf-8")

        def _send(self, status: HTTPStatus, body: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            for name, value in _SECURITY_HEADERS.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _stream(self) -> None:
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "text/event-stream; charset=utf-8")
            self.send_header("Cache-Control", "no-store")
            for name, value in _SECURITY_HEADERS.items():
                self.send_header(name, value)
            self.end_headers()
            self.close_connection = True
            try:
                # retry: the browser reconnects after 1 s if the service restarts.
                self.wfile.write(b"retry: 1000\n\n")
                seen = -1
                while not feed.closed:
                    version, body = feed.state()
                    if version != seen:
                        self.wfile.write(f"data: {body}\n\n".encode())
                        self.wfile.flush()
                        seen = version
                    if not feed.wait_newer(seen, _KEEPALIVE_S) and not feed.closed:
                        self.wfile.write(b": still here\n\n")
                        self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError, TimeoutError):
                return  # the browser went away

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass  # one line at start is the dashboard's whole log; no access log

    return Handler


def board_units(view: LedgerView) -> list[Unit]:
    """The ledger's units and refusals as the strip's marks, by time."""

    def session(text: str) -> int:
        try:
            return int(text, 16)
        except ValueError:
            return 0

    marks = [
        Unit(u.seq, u.token, printable(u.worker, 64), session(u.session), u.time)
        for u in view.units
    ]
    marks += [
        Unit(r.seq, r.token, printable(r.worker, 64), session(r.session), r.time, refused=True)
        for r in view.refusals
    ]
    return sorted(marks, key=lambda u: u.time)


def _ask_roles(feed: Feed, servers: Sequence[Server], wake: threading.Event) -> None:
    while not feed.closed:
        roles = probe_all(servers)
        if feed.closed:
            return
        feed.update(lambda board, at, found=roles: board.take_roles(found, at))
        wake.wait(_ROLES_EVERY_S)
        wake.clear()


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:
        print(f"dashboard: {message} (usage: {_USAGE})", file=sys.stderr)
        sys.exit(2)


def _port(text: str) -> int:
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number 1-65535 (got {text!r})")
    return int(text)


def main(
    argv: Sequence[str] | None = None,
    stop: StopSignals | None = None,
    wakeup: Wakeup | None = None,
) -> int:
    """The command; ``stop`` and its ``wakeup``: the signal catcher ``__main__``
    installed first (common/shutdown.py)."""
    if stop is None or wakeup is None:
        wakeup = Wakeup()
        stop = StopSignals(wakeup).install()
    parser = _Parser(prog="dashboard", description="The election's live page, for a browser.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=_port, default=8080, help="port to listen on")
    parser.add_argument("--announce", help="the address to print (where Compose publishes it)")
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env(default_service_name="dashboard")
    except ConfigError as exc:
        print(f"dashboard: configuration error: {exc}", file=sys.stderr)
        return 2
    files = {path: ((STATIC / name).read_bytes(), kind) for path, (name, kind) in _FILES.items()}
    quiet_kazoo("CRITICAL")
    servers = [Server(entry.strip()) for entry in settings.zk_hosts.split(",")]
    feed = Feed(Board(settings.election_path, servers, settings.tick_interval_s, time.time()))
    try:
        httpd = ThreadingHTTPServer((args.host, args.port), _handler(feed, files))
    except OSError as exc:
        print(
            f"dashboard: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr
        )
        return 1
    httpd.daemon_threads = True
    roles_now = threading.Event()

    def on_view(view: ElectionView) -> None:
        roles_now.set()  # a connection change: ask the servers now, not in a second
        feed.update(lambda board, at: board.take_view(view, at))

    watch = ElectionWatch(settings.zk_hosts, settings.election_path, on_view=on_view)
    ledger = None
    if settings.ledger_path:  # else (LEDGER_PATH=off) the strip is ZooKeeper's view

        def on_ledger(view: LedgerView) -> None:
            units = board_units(view)
            feed.update(lambda board, at: board.take_units(units, at))

        ledger = LedgerWatch(
            settings.zk_hosts, settings.ledger_path, on_ledger, keep=_LEDGER_UNITS_KEPT
        )
    serving = threading.Thread(target=httpd.serve_forever, args=(0.2,), name="http", daemon=True)
    roles = threading.Thread(
        target=_ask_roles, args=(feed, servers, roles_now), name="roles", daemon=True
    )
    serving.start()
    roles.start()
    watch.start()
    if ledger is not None:
        ledger.start()
    address = args.announce or f"http://{args.host}:{args.port}/"
    print(
        f"dashboard: the live page is at {address} (election {settings.election_path}, "
        f"work {settings.ledger_path or 'not recorded: LEDGER_PATH=off'}, "
        f"on {settings.zk_hosts})",
        flush=True,
    )
    while not stop.requested:
        wakeup.wait(None)
    feed.close()
    roles_now.set()
    httpd.shutdown()
    httpd.server_close()
    closing = None
    if ledger is not None:  # both sessions closed at once, each given _CLOSE_S
        closing = threading.Thread(target=ledger.close, args=(_CLOSE_S,), daemon=True)
        closing.start()
    watch.close(within_s=_CLOSE_S)
    if closing is not None:
        closing.join(timeout=_CLOSE_S)
    print(f"dashboard: stopped ({stop.name})", flush=True)
    return 0
