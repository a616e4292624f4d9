"""service1: a worker that leads or follows in the election (see common.worker)."""

from common import exit_now, run

if __name__ == "__main__":
    exit_now(run("service1"))
