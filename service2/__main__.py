"""service2: a worker that leads or follows in the election (see common.worker)."""

import sys

from common import run

if __name__ == "__main__":
    sys.exit(run("service2"))
