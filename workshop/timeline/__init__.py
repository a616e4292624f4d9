"""`make timeline`: who led when, drawn from the workers' logs, as a PNG and as text.

    python -m workshop.timeline                      # the compose project's logs
    python -m workshop.timeline a.log b.log          # saved logs, any format
    python -m workshop.timeline --last 60 --mark "12:00:01 docker compose stop service1"

Reads the workers' log lines (``docker compose logs --timestamps``, or files: JSON or
text format, with or without Compose's prefixes; see workshop.records) and, for the
compose project, Docker's own events for its containers (kill, die, stop, pause,
network disconnect), which say what the logs cannot: a killed worker logs nothing.
The daemon keeps only its last 256 events; those the demos saved as they made each
fault (``.build/docker-events.jsonl``) fill in what it forgot.

The picture: one lane per worker; a tick for each "Processing...", coloured by its
fencing token (with a ledger, each is a unit it recorded, and the legend says which
units each token holds); a unit ZooKeeper refused (``unit_refused``: a stale leader's
write, fenced off) marked on its worker's lane with the reason; the lane shaded by the
worker's ZooKeeper connection state (connecting, connected, SUSPENDED, LOST, not
running) and hatched while Docker had it paused or cut off the network; every silence
(no tick from anyone for longer than 1.5 tick intervals) marked with its length and
its cause, as the logs and Docker tell it: a mark given with --mark, a container
event, the old leader's ``leadership_lost`` reason or ``shutdown``, a connection state
change. The title says what happened; the x axis counts seconds from the first event.

The rooms: ``model`` (the data: runs, states, happenings, episodes), ``build`` (the
data from Records: pure logic, tested in tests/test_timeline.py), ``text`` and ``png``
(the two renderers; the PNG needs matplotlib, requirements-dev.txt, imported only to
draw it) and ``cli`` (the command). Docker's events come from workshop/compose.py.
"""

from .build import build, tick_interval
from .cli import main
from .model import (
    CONNECTED,
    CONNECTING,
    CUT,
    DOWN,
    FROZEN,
    LOST,
    SUSPENDED,
    Episode,
    Happening,
    Run,
    Span,
    Tick,
    Timeline,
    UnitMark,
    parse_mark,
)
from .png import png_size, render_png
from .text import render_text

__all__ = [
    "CONNECTED",
    "CONNECTING",
    "CUT",
    "DOWN",
    "FROZEN",
    "LOST",
    "SUSPENDED",
    "Episode",
    "Happening",
    "Run",
    "Span",
    "Tick",
    "Timeline",
    "UnitMark",
    "build",
    "main",
    "parse_mark",
    "png_size",
    "render_png",
    "render_text",
    "tick_interval",
]
