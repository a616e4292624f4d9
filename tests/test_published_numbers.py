"""Published numbers come from committed data: the pages say what the data says.

``python -m bench report --check`` regenerates every passage between ``<!-- n:KEY -->``
and ``<!-- /n -->`` of README.md and docs/ (numbers, demos, workshop) from
bench/published/ and fails on any difference; run here as a command, as a reader would.
"""

from __future__ import annotations

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
    "docs/numbers.md": {"bench.run", "bench.table", "bench.floors", "bench.outcomes", "soak.run"},
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
