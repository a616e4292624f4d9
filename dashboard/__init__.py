"""The classroom's live page: who leads, the ensemble, the work, pushed to a browser.

    python -m dashboard [--host 127.0.0.1] [--port 8080] [--announce URL]

A read-only observer of the election (no credentials: the election's nodes are
world-readable), served with the standard library's HTTP server: the page, its style
and its script from this package (no CDN, no internet), and the news as server-sent
events (``/events``) within a second of ZooKeeper announcing a change. ``board`` is
the state and its JSON (pure logic), ``server`` the threads and the HTTP side.
"""
