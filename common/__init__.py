"""ZooKeeper leader election for the demo's workers: the public names, nothing else."""

from .election import Candidate, LeaderElection, Leadership, Lease, read_candidates
from .settings import ConfigError, Settings
from .worker import run

__all__ = [
    "Candidate",
    "ConfigError",
    "LeaderElection",
    "Lease",
    "Leadership",
    "Settings",
    "read_candidates",
    "run",
]
