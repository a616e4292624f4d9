"""Published numbers come from committed data: the pages say what the data says.

``python -m bench report --check`` regenerates every passage between ``<!-- n:KEY -->``
and ``<!-- /n -->`` of README.md and docs/ (numbers, demos, workshop) from
bench/published/ and fails on any difference; run here as a command, as a reader would.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = ("README.md", "docs/numbers.md", "docs/demos.md", "docs/workshop.md")
# Passages a page must keep: without its markers, a number would be written by hand.
REQUIRED = {
    "README.md": {"bench.compare", "demo.run", "demo.stop.handoff", "demo.kill.silence"},
    "docs/numbers.md": {
        "bench.run",
        "bench.table",
        "bench.floors",
        "bench.outcomes",
        "bench.ledger",
        "soak.run",
    },
    "docs/demos.md": {"demo.run", "demo.quorum.silence"},
    "docs/workshop.md": {"demo.run", "demo.stop.handoff", "demo.zk-leader.silence"},
}


def _report(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench", "report", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _copy(tmp_path: Path) -> Path:
    for page in PAGES:
        (tmp_path / page).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / page, tmp_path / page)
    for data in ("bench/published", "soak/published"):
        shutil.copytree(ROOT / data, tmp_path / data)
    return tmp_path


def test_published_numbers_pages_equal_the_data() -> None:
    done = _report("--check")
    assert done.returncode == 0, done.stderr


def test_published_numbers_pages_keep_their_generated_passages() -> None:
    for page, keys in REQUIRED.items():
        found = set(re.findall(r"<!-- n:([\w.:-]+) -->", (ROOT / page).read_text()))
        assert keys <= found, f"{page} lost the passages {sorted(keys - found)}"


def test_published_numbers_check_fails_on_a_number_changed_by_hand(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    readme = root / "README.md"
    text = readme.read_text()
    passage = re.search(r"<!-- n:bench\.compare -->(.*?)<!-- /n -->", text, re.DOTALL)
    assert passage is not None and re.search(r"\d", passage.group(1)), "no number to change"
    changed = re.sub(r"\d", lambda m: str((int(m.group(0)) + 1) % 10), passage.group(1), count=1)
    readme.write_text(text.replace(passage.group(1), changed))
    done = _report("--check", "--root", str(root))
    assert done.returncode == 1, done
    assert "README.md: the passage n:bench.compare differs from the data" in done.stderr
    assert _report("--root", str(root)).returncode == 0  # regenerated ...
    assert readme.read_text() == (ROOT / "README.md").read_text()  # ... as committed


def test_published_numbers_check_fails_on_a_passage_without_data(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    numbers = root / "docs" / "numbers.md"
    numbers.write_text(numbers.read_text() + "\n<!-- n:bench.no_such_figure -->7 s<!-- /n -->\n")
    done = _report("--check", "--root", str(root))
    assert done.returncode == 1, done
    assert "docs/numbers.md: no data for the passage n:bench.no_such_figure" in done.stderr


def _passage(text: str, key: str) -> str:
    found = re.search(rf"<!-- n:{re.escape(key)} -->(.*?)<!-- /n -->", text, re.DOTALL)
    assert found is not None, f"no passage n:{key}"
    return found.group(1)


def _throughput(mode: str, ticks_s: float | None, per_unit: float | None) -> dict:
    if ticks_s is None:
        return {"mode": mode, "kind": "throughput", "error": "ScenarioError: no first tick"}
    return {"mode": mode, "kind": "throughput", "ticks_s": ticks_s, "requests_per_unit": per_unit}


def test_published_numbers_ledger_passage_summarises_its_samples(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    path = root / "bench" / "published" / "bench.json"
    data = json.loads(path.read_text())
    data["run"]["ours_ledger"] = "on"
    data["ledger"] = {
        "run": {
            "command": "python -m bench --phases ledger",
            "commit": "abc1234",
            "started": "2026-12-03 05:00 UTC",
            "quick": False,
            "machine": "2 CPUs",
            "load": {"min": 1.0, "max": 2.0},
        },
        "config": {
            "reps": 3,
            "window_s": 10.0,
            "tick_interval_s": 0.001,
            "handoff_tick_interval_s": 1.0,
        },
        "samples": [
            _throughput("off", 900.0, 0.002),
            _throughput("on", 200.0, 2.0),
            _throughput("on", None, None),
            _throughput("off", 1000.0, 0.003),
            _throughput("off", 950.0, 0.001),
            _throughput("on", 300.0, 2.02),
            {"mode": "off", "kind": "handoff", "handoff_s": 0.010},
            {"mode": "off", "kind": "handoff", "handoff_s": 0.012},
            {"mode": "on", "kind": "handoff", "handoff_s": 0.030},
            {"mode": "on", "kind": "handoff", "handoff_s": None},
        ],
    }
    path.write_text(json.dumps(data))
    done = _report("--root", str(root))
    assert done.returncode == 0, done.stderr
    page = (root / "docs" / "numbers.md").read_text()
    ledger = _passage(page, "bench.ledger")
    # Medians and ranges of the samples taken; the failed ones counted, never dropped.
    assert (
        "| units per second, `TICK_INTERVAL_S=0.001` | 950 [900-1,000] | "
        "250 [200-300] (1 of 3 not measured) (**3.8 times fewer**) |"
    ) in ledger
    assert "| 0.002 [0.001-0.003] | 2.01 [2.00-2.02] (1 of 3 not measured) |" in ledger
    assert "| 0.011 [0.010-0.012] | 0.030 (1 of 2 not measured) |" in ledger
    assert "Not measured: on throughput: ScenarioError: no first tick." in ledger
    assert "smoke run" not in ledger
    assert "ours (python -m service1), ledger on |" in _passage(page, "bench.table")


def test_published_numbers_ours_column_says_a_run_without_the_ledger(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    path = root / "bench" / "published" / "bench.json"
    data = json.loads(path.read_text())
    data["run"].pop("ours_ledger", None)  # as every run before the ledger recorded it
    path.write_text(json.dumps(data))
    assert _report("--root", str(root)).returncode == 0
    table = _passage((root / "docs" / "numbers.md").read_text(), "bench.table")
    assert "ours (python -m service1), no ledger: measured before it existed |" in table
