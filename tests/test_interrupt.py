"""testbed.interrupt: a run that ends is never left waiting for news already sent."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The body's thread lingers after its wake-up (as a thread does while it ends): a main
# thread that woke, saw the thread still alive and waited again would wait for good.
_LINGERING = """
import time
from common.shutdown import Wakeup
from testbed.interrupt import run_interruptibly

notify = Wakeup.notify

def notify_then_linger(self):
    notify(self)
    time.sleep(0.5)

Wakeup.notify = notify_then_linger
run_interruptibly("probe", lambda: 7)
"""


def test_interrupt_run_ends_with_the_body_even_if_its_thread_lingers() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _LINGERING],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 7, done
