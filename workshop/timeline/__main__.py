"""python -m workshop.timeline: see workshop/timeline/__init__.py."""

import sys

from .cli import run_command

sys.exit(run_command())
