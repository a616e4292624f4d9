"""`python -m dashboard`: the stop signals first, then everything else (see server)."""

import sys

from dashboard.stopper import StopSignal

# Before kazoo is imported (by the server): a SIGTERM from now on ends in exit 0.
_stop = StopSignal.install()

from dashboard.server import main  # noqa: E402 - after the signal handlers, on purpose

if __name__ == "__main__":
    sys.exit(main(stop=_stop))
