"""`python -m dashboard.check [PORT]`: the container's health check. Exit 0 iff the
dashboard answers /healthz on 127.0.0.1 (default port 8080) within 2 s.

The page is useful without ZooKeeper (it says what it cannot see), so healthy means
serving, not "the election is fine". The image has no curl; this needs none.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request


def main(argv: list[str]) -> int:
    port = argv[0] if argv else "8080"
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
            ok = answer.status == 200
    except (urllib.error.URLError, OSError, ValueError) as exc:
        print(f"dashboard not answering on port {port}: {exc}")
        return 1
    print("serving" if ok else "unexpected answer")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
