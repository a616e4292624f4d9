"""`python -m dashboard`: the stop signals first, then everything else (see server)."""

from common.shutdown import StopSignals, Wakeup, exit_now

# Before kazoo is imported (by the server): a stop signal from now on ends in exit 0.
_wakeup = Wakeup()
_stop = StopSignals(_wakeup).install()

from dashboard.server import main  # noqa: E402 - after the signal handlers, on purpose

if __name__ == "__main__":
    exit_now(main(stop=_stop, wakeup=_wakeup))
