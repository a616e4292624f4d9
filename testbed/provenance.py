"""Which run the numbers come from: commit, machine, load and versions.

Usage::

    load = LoadWatch()
    load.start()                       # the load average, read once a minute
    ...
    run = {"commit": commit(), "machine": machine(), "load": load.stop(), "versions": ...}

Everything here is read, never assumed: the commit from git, the machine from /proc and
/etc/os-release, each library's version from its own files (a jar's pom.properties,
an installed distribution's metadata), the load average from the kernel.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import statistics
import subprocess
import threading
import zipfile
from pathlib import Path
from typing import Any

from .processes import run_process

# A change under these makes the measured code differ from the commit; published data
# (what a run writes) is not code.
MEASURED = ("common", "service1", "bench", "testbed")
_NOT_CODE = (":(exclude)bench/published", ":(exclude)soak/published")
_LOAD_EVERY_S = 60.0


def commit(measured: tuple[str, ...] = MEASURED) -> dict[str, Any]:
    """The repository's HEAD (short) and whether the code under ``measured`` had changes."""
    try:
        head = run_process(["git", "rev-parse", "--short", "HEAD"], timeout=30)
        dirty = run_process(
            ["git", "status", "--porcelain", "--", *measured, *_NOT_CODE], timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return {"commit": "unknown", "dirty": None}
    if head.returncode != 0 or dirty.returncode != 0:
        return {"commit": "unknown", "dirty": None}
    return {"commit": head.stdout.strip(), "dirty": bool(dirty.stdout.strip())}


def load_text() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


class LoadWatch:
    """The one-minute load average, read at the start, once a minute, and at the end."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._samples: list[float] = []
        self._thread = threading.Thread(target=self._run, name="load", daemon=True)
        self.before = load_text()

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while True:
            self._samples.append(os.getloadavg()[0])
            if self._stop.wait(_LOAD_EVERY_S):
                return

    def stop(self) -> dict[str, Any]:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        samples = self._samples + [os.getloadavg()[0]]
        return {
            "before": self.before,
            "after": load_text(),
            "min": min(samples),
            "max": max(samples),
            "mean": statistics.fmean(samples),
            "samples": len(samples),
        }


def machine() -> str:
    """CPUs, memory and OS."""
    try:
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{mem_kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        memory = "? GiB"
    system = "unknown OS"
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                system = line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs, {memory}, {system}"


def dist_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def pom_version(jar: Path, group: str) -> str:
    """The version in a jar's Maven pom.properties; "not installed" without the jar."""
    try:
        with zipfile.ZipFile(jar) as archive:
            text = archive.read(f"META-INF/maven/{group}/pom.properties").decode()
    except (OSError, KeyError, zipfile.BadZipFile):
        return "not installed"
    found = re.search(r"^version=(.+)$", text, re.MULTILINE)
    return found.group(1).strip() if found else "?"


def java_version(java: str) -> str:
    result = run_process([java, "-version"], timeout=60)
    return (result.stderr.splitlines() or ["?"])[0]
